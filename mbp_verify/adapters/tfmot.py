"""Adapter for TF-MOT `prune_low_magnitude` (optional extra `tfmot`): the real library.

Every call wraps a `tf_keras` Dense layer holding the weights in
`tfmot.sparsity.keras.prune_low_magnitude(..., ConstantSparsity(s, begin_step=0,
frequency=1))`, sets the wrapper's `pruning_step` to 1 (what the `UpdatePruningStep`
callback does before the first batch) and calls the layer once in training mode, which runs
TF-MOT's own mask update; the mask and the masked kernel are read back. Weights are viewed
as a (shape[0], rest) kernel (a vector as (1, D)); TF-MOT ranks the whole kernel at once,
so the view does not change which entries are pruned. float16/32/64 keep their dtype.

Declared rules (from TF-MOT's source, `pruning_impl.Pruning._update_mask`, and the
`ConstantSparsity` documentation): the KEPT count is `max(1, round(float32(D) * (1 - s)))`
rounded half-to-even in float32 (`count=kept:float32:half_even`, `min_kept=1`), every entry
whose magnitude equals the threshold is kept (`tie=keep_all_at_threshold`: the count falls
short by the tied entries), sparsity 1.0 is refused (`refuse=1.0`: "must be in range
[0,1)"). `prune(weights, n)` asks for the sparsity `fraction_for_count` finds, so that
TF-MOT's own rule prunes exactly n (n = D is out of reach: min_kept=1 caps it at D - 1).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..conformance.protocol import PrunerAdapter
from ..conformance.rules import PrunerRules, fraction_for_count
from ..errors import InputError

__all__ = ["TFMOT_RULES", "PruneLowMagnitude", "import_tfmot"]

TFMOT_RULES = PrunerRules(
    ranking="magnitude",
    tie="keep_all_at_threshold",
    nan="raise_or_largest",
    count="kept:float32:half_even",
    cap="none",
    count_base="remaining",
    revival="never",
    scope="layer",
    collapse="allowed",
    min_kept=1,
    refuse=(1.0,),
)


def import_tfmot() -> tuple[Any, Any, Any]:
    """(tensorflow, tf_keras, tensorflow_model_optimization), or InputError naming the extra."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    try:
        import tensorflow as tf
        import tensorflow_model_optimization as tfmot
        import tf_keras
    except ImportError:
        raise InputError(
            "the TF-MOT adapter needs tensorflow-model-optimization: pip install 'mbp-verify[tfmot]'"
        ) from None
    return tf, tf_keras, tfmot


def _as_2d(weights: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(weights)
    return array.reshape(1, -1) if array.ndim < 2 else array.reshape(array.shape[0], -1)


class PruneLowMagnitude(PrunerAdapter):
    """`tfmot.sparsity.keras.prune_low_magnitude` with `ConstantSparsity`, one mask update."""

    name = "tfmot.sparsity.keras.prune_low_magnitude (ConstantSparsity)"
    rules = TFMOT_RULES
    libraries = ("tensorflow", "tf-keras", "tensorflow-model-optimization")

    def __init__(self) -> None:
        import_tfmot()  # the library loads here, not inside the first timed call

    def _run(self, weights: np.ndarray, sparsity: float) -> tuple[np.ndarray, np.ndarray]:
        tf, keras, tfmot = import_tfmot()
        kernel = _as_2d(weights)
        dtype = kernel.dtype.name
        schedule = tfmot.sparsity.keras.ConstantSparsity(float(sparsity), begin_step=0, frequency=1)
        dense = keras.layers.Dense(kernel.shape[1], use_bias=False, dtype=dtype)
        layer = tfmot.sparsity.keras.prune_low_magnitude(dense, pruning_schedule=schedule)
        layer.build((None, kernel.shape[0]))
        layer.layer.kernel.assign(kernel)
        layer.pruning_step.assign(1)
        layer(tf.zeros((1, kernel.shape[0]), dtype=dtype), training=True)
        mask = next(m for w, m, _ in layer.pruning_vars if w is layer.layer.kernel)
        shape = np.shape(weights)
        return np.asarray(mask.numpy()).astype(bool).reshape(shape), np.asarray(layer.layer.kernel.numpy()).reshape(
            shape
        )

    def prune_fraction(self, weights: np.ndarray, fraction: float) -> np.ndarray:
        return self._run(weights, fraction)[0]

    def prune(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return self._run(weights, fraction_for_count(self.rules, int(np.size(weights)), int(n_prune)))[0]

    def effective_weights(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return self._run(weights, fraction_for_count(self.rules, int(np.size(weights)), int(n_prune)))[1]
