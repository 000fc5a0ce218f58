"""Adapter for `torch.nn.utils.prune` (optional extra `torch`): the real library, not a copy.

Every call builds a module holding the weights as a parameter and runs torch's own
pruning (`l1_unstructured`, `random_unstructured`, `global_unstructured`; re-pruning goes
through torch's `PruningContainer`), then reads back `weight_mask` / `weight`. Integer
amounts are absolute counts; fractions go through torch's own `round(amount * n)`.

Declared rules (what torch does, observed and read from its source):
count `float:half_even` (Python `round` of the float product amount * n), count base
`remaining` (a second call prunes among the entries still unpruned), ties `any` (torch.topk
picks among equal magnitudes in no documented order), NaN `largest` (|NaN| sorts last in
topk), min kept 0. Parameters are stored contiguous, as `nn.Linear`/`nn.Conv2d` store
them; `L1UnstructuredNativeLayout` keeps the caller's strides and shows torch failing on
non-contiguous (e.g. channels_last) weights.

Check it with: `mbp-verify check-pruner mbp_verify.adapters.torch_prune:L1Unstructured`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..conformance.protocol import PrunerAdapter
from ..conformance.rules import PrunerRules
from ..errors import InputError

__all__ = [
    "TORCH_RULES",
    "L1Unstructured",
    "L1UnstructuredNativeLayout",
    "RandomUnstructured",
    "GlobalL1Unstructured",
    "import_torch",
]

TORCH_RULES = PrunerRules(
    ranking="magnitude",
    tie="any",
    nan="largest",
    count="float:half_even",
    count_base="remaining",
    scope="layer",
    collapse="allowed",
    min_kept=0,
)


def import_torch() -> Any:
    try:
        import torch
        import torch.nn.utils.prune  # noqa: F401
    except ImportError:
        raise InputError("the torch adapter needs PyTorch: pip install 'mbp-verify[torch]'") from None
    return torch


def _holder(weights: np.ndarray, *, keep_layout: bool = False) -> Any:
    torch = import_torch()
    array = np.asarray(weights)
    if keep_layout and all(s >= 0 for s in array.strides):
        tensor = torch.from_numpy(array).clone(memory_format=torch.preserve_format)
    else:
        tensor = torch.tensor(np.ascontiguousarray(array))  # a copy: torch never sees the caller's buffer
    module = torch.nn.Module()
    module.weight = torch.nn.Parameter(tensor, requires_grad=False)
    return module


def _mask(module: Any) -> np.ndarray:
    return module.weight_mask.detach().cpu().numpy()


class L1Unstructured(PrunerAdapter):
    """`torch.nn.utils.prune.l1_unstructured` with an integer amount (= n_prune)."""

    name = "torch.nn.utils.prune.L1Unstructured"
    rules = TORCH_RULES
    libraries = ("torch",)
    keep_layout = False

    def _prune_module(self, weights: np.ndarray, amount: "int | float") -> Any:
        torch = import_torch()
        module = _holder(weights, keep_layout=self.keep_layout)
        torch.nn.utils.prune.l1_unstructured(module, "weight", amount=amount)
        return module

    def prune(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return _mask(self._prune_module(weights, int(n_prune)))

    def prune_fraction(self, weights: np.ndarray, fraction: float) -> np.ndarray:
        return _mask(self._prune_module(weights, float(fraction)))

    def reprune(self, weights: np.ndarray, first: int, second: int) -> np.ndarray:
        torch = import_torch()
        module = self._prune_module(weights, int(first))
        torch.nn.utils.prune.l1_unstructured(module, "weight", amount=int(second))  # through PruningContainer
        return _mask(module)

    def effective_weights(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return self._prune_module(weights, int(n_prune)).weight.detach().cpu().numpy()


class L1UnstructuredNativeLayout(L1Unstructured):
    """Like `L1Unstructured`, but the parameter keeps the caller's memory layout (strides)."""

    name = "torch.nn.utils.prune.L1Unstructured (caller's layout)"
    keep_layout = True


class RandomUnstructured(PrunerAdapter):
    """`torch.nn.utils.prune.random_unstructured`, seeded per call (deterministic)."""

    name = "torch.nn.utils.prune.RandomUnstructured"
    libraries = ("torch",)
    rules = dataclasses.replace(TORCH_RULES, ranking="random")

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _run(self, weights: np.ndarray, amounts: Sequence["int | float"]) -> Any:
        torch = import_torch()
        module = _holder(weights)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            for amount in amounts:
                torch.nn.utils.prune.random_unstructured(module, "weight", amount=amount)
        return module

    def prune(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return _mask(self._run(weights, [int(n_prune)]))

    def prune_fraction(self, weights: np.ndarray, fraction: float) -> np.ndarray:
        return _mask(self._run(weights, [float(fraction)]))

    def reprune(self, weights: np.ndarray, first: int, second: int) -> np.ndarray:
        return _mask(self._run(weights, [int(first), int(second)]))

    def effective_weights(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return self._run(weights, [int(n_prune)]).weight.detach().cpu().numpy()


class GlobalL1Unstructured(L1Unstructured):
    """`torch.nn.utils.prune.global_unstructured(..., L1Unstructured, amount=total)`."""

    name = "torch.nn.utils.prune.global_unstructured (L1Unstructured)"
    rules = PrunerRules(
        ranking="magnitude",
        tie="any",
        nan="largest",
        count="float:half_even",
        count_base="remaining",
        scope="global",
        collapse="allowed",
        min_kept=0,
    )

    def prune_global(self, layers: Sequence[np.ndarray], total: int) -> list[np.ndarray]:
        torch = import_torch()
        modules = [_holder(w) for w in layers]
        torch.nn.utils.prune.global_unstructured(
            [(m, "weight") for m in modules], pruning_method=torch.nn.utils.prune.L1Unstructured, amount=int(total)
        )
        return [_mask(m) for m in modules]
