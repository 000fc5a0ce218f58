"""Adapter for NNI 3.0 `LevelPruner` (optional extra `nni`): the real library.

Every call builds a bias-free `torch.nn.Linear` holding the weights, configures
`nni.compression.pruning.LevelPruner` with `{"op_names": ["0"], "sparse_ratio": p}`, calls
`compress()` and reads back the weight mask it returns (its `unwrap_model()` restores the
module). Weights are viewed as (shape[0], rest) (a vector as (1, D)); LevelPruner ranks the
whole tensor at once, so the view does not change which entries are pruned.

Declared rules (from NNI's source, `pruning/tools/sparse_gen._ratio_mask`): the pruned count
is `int(D * sparse_ratio)`, the float product floored (`count=float:floor`: 0.29 of 100
prunes 28), a ratio of 1.0 prunes everything, ties `any` (torch.topk), NaN ranks largest.
NNI takes only a ratio: a naive n / D makes it prune n - 1 whenever n / D * D lands just
below n, so `prune(weights, n)` asks for the ratio `fraction_for_count` finds, checked
against NNI's own rule to give exactly n.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..conformance.protocol import PrunerAdapter
from ..conformance.rules import PrunerRules, fraction_for_count
from ..errors import InputError

__all__ = ["NNI_RULES", "LevelPruner", "import_nni"]

NNI_RULES = PrunerRules(
    ranking="magnitude",
    tie="any",
    nan="largest",
    count="float:floor",
    cap="none",
    count_base="remaining",
    revival="never",
    scope="layer",
    collapse="allowed",
    min_kept=0,
)


def import_nni() -> tuple[Any, Any]:
    """(torch, nni.compression.pruning.LevelPruner), or InputError naming the extra."""
    try:
        import torch
        from nni.compression.pruning import LevelPruner as _LevelPruner
    except ImportError:
        raise InputError("the NNI adapter needs nni 3.0 and torch: pip install 'mbp-verify[nni]'") from None
    return torch, _LevelPruner


def _as_2d(weights: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(weights)
    return array.reshape(1, -1) if array.ndim < 2 else array.reshape(array.shape[0], -1)


class LevelPruner(PrunerAdapter):
    """`nni.compression.pruning.LevelPruner` with one `sparse_ratio`, one `compress()`."""

    name = "nni.compression.pruning.LevelPruner"
    rules = NNI_RULES
    libraries = ("nni", "torch")

    def __init__(self) -> None:
        import_nni()  # the library loads here, not inside the first timed call

    def _run(self, weights: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
        torch, pruner_class = import_nni()
        matrix = torch.tensor(_as_2d(weights))
        layer = torch.nn.Linear(matrix.shape[1], matrix.shape[0], bias=False, dtype=matrix.dtype)
        with torch.no_grad():
            layer.weight.copy_(matrix)
        model = torch.nn.Sequential(layer)
        pruner = pruner_class(model, [{"op_names": ["0"], "sparse_ratio": float(ratio)}])
        _, masks = pruner.compress()
        pruner.unwrap_model()
        mask = masks["0"]["weight"].detach().cpu().numpy().astype(bool)
        effective = np.where(mask, _as_2d(weights), np.zeros((), dtype=np.asarray(weights).dtype))
        shape = np.shape(weights)
        return mask.reshape(shape), effective.reshape(shape)

    def prune_fraction(self, weights: np.ndarray, fraction: float) -> np.ndarray:
        return self._run(weights, fraction)[0]

    def prune(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return self._run(weights, fraction_for_count(self.rules, int(np.size(weights)), int(n_prune)))[0]
