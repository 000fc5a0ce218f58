"""Reference magnitude and random masks with exact counts.

Mask convention (docs/design.md section 3): a boolean array of the weights' shape, True = kept.

Tie rule (documented, deterministic): entries are ranked by |w|; among entries of equal
magnitude, the one with the smaller flat C-order index is pruned first. NaN policy: NaN
weights raise `InputError` by default (`nan_policy="raise"`), or rank as the largest
magnitudes (`nan_policy="largest"`, ordered among themselves by flat index). +-inf rank as
the largest finite-or-not magnitudes, by value. Selection is O(D) (`np.partition`), not a
full sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from ..errors import InputError
from ..seeding import as_generator
from .counts import validate_count

__all__ = [
    "NanPolicy",
    "as_weight_array",
    "magnitude_mask",
    "global_magnitude_masks",
    "random_mask",
    "kept_count",
    "pruned_count",
    "kept_fraction",
    "compression_ratio",
    "network_compression_ratio",
]

NanPolicy = Literal["raise", "largest"]


def as_weight_array(weights: object, what: str = "weights") -> np.ndarray:
    """Check that `weights` is a non-empty real floating array and return it (no copy)."""
    if not isinstance(weights, np.ndarray):
        try:
            weights = np.asarray(weights)
        except Exception as exc:  # ragged lists and the like
            raise InputError(f"{what} cannot be read as an array: {exc}") from None
    if weights.dtype == object:
        raise InputError(f"{what} has dtype object; need a real floating dtype (float16/32/64)")
    if not np.issubdtype(weights.dtype, np.floating):
        raise InputError(f"{what} has dtype {weights.dtype}; need a real floating dtype (float16/32/64)")
    if weights.size == 0:
        raise InputError(f"{what} is empty (shape {weights.shape}); nothing to prune")
    return weights


def _magnitudes(weights: np.ndarray, nan_policy: str, what: str) -> np.ndarray:
    """Flat |w| in the input's own float dtype (abs is exact) with NaN mapped per the policy."""
    magnitudes = np.abs(weights.ravel())
    if np.isnan(magnitudes.max()):  # one reduction pass; max propagates NaN (and never overflows)
        nan = np.isnan(magnitudes)
        if nan_policy == "raise":
            raise InputError(f"{what} contains {int(nan.sum())} NaN entries (nan_policy='raise')")
        if nan_policy != "largest":
            raise InputError(f"unknown nan_policy {nan_policy!r}; use 'raise' or 'largest'")
        # NaN ranks above +-inf: rank on float64 keys where infinities sit just below NaN.
        return _rank_keys_with_nan(magnitudes.astype(np.float64), nan)
    if nan_policy not in ("raise", "largest"):
        raise InputError(f"unknown nan_policy {nan_policy!r}; use 'raise' or 'largest'")
    return magnitudes


def _rank_keys_with_nan(magnitudes: np.ndarray, nan: np.ndarray) -> np.ndarray:
    finite_max = np.max(magnitudes[~nan], initial=0.0)
    keys = magnitudes.copy()
    infinite = np.isinf(keys) & ~nan
    top = np.nextafter(finite_max, np.inf) if np.isfinite(finite_max) else np.finfo(np.float64).max
    keys[infinite] = top
    keys[nan] = np.inf
    return keys


_DIRECT_LIMIT = 1 << 22  # below this a plain np.partition copy is as fast (measured)


def _kth_smallest(keys: np.ndarray, k: int) -> "np.floating":
    """The k-th smallest key (0-based), by Floyd-Rivest style sampling then exact selection.

    A strided sample brackets the k-th value in [lo, hi]; counting keys below lo and
    selecting exactly among the few keys inside the bracket gives the answer without
    copying the whole array. If the bracket misses (adversarial layouts), fall back to a
    full `np.partition`. Either way the result is exact.
    """
    size = keys.size
    if size <= _DIRECT_LIMIT:
        return np.partition(keys, k)[k]
    sample = np.sort(keys[:: max(1, int(np.sqrt(size) / 4))])  # about 4 sqrt(D) keys
    rank = k * sample.size // size
    spread = int(4 * np.sqrt(sample.size)) + 1
    lo = sample[rank - spread] if rank - spread >= 0 else None
    hi = sample[rank + spread] if rank + spread < sample.size else None
    below = int(np.count_nonzero(keys < lo)) if lo is not None else 0
    if below <= k:
        inside = keys >= lo if lo is not None else np.ones(size, dtype=bool)
        if hi is not None:
            inside &= keys <= hi
        candidates = keys[inside]
        if k - below < candidates.size:
            return np.partition(candidates, k - below)[k - below]
    return np.partition(keys, k)[k]


def _smallest_mask(keys: np.ndarray, n_prune: int) -> np.ndarray:
    """Flat boolean 'pruned' mask of the n smallest keys, ties by smaller index first."""
    size = keys.size
    if n_prune == 0:
        return np.zeros(size, dtype=bool)
    if n_prune == size:
        return np.ones(size, dtype=bool)
    threshold = _kth_smallest(keys, n_prune - 1)
    pruned = keys <= threshold
    if int(np.count_nonzero(pruned)) != n_prune:  # ties at the threshold: lower flat index first
        pruned = keys < threshold
        missing = n_prune - int(np.count_nonzero(pruned))
        tied = np.flatnonzero(keys == threshold)
        pruned[tied[:missing]] = True
    return pruned


def magnitude_mask(weights: np.ndarray, n_prune: int, *, nan_policy: NanPolicy = "raise") -> np.ndarray:
    """Keep-mask pruning exactly `n_prune` smallest-magnitude entries (reference engine)."""
    array = as_weight_array(weights)
    count = validate_count(n_prune, array.size)
    keys = _magnitudes(array, nan_policy, "weights")
    return ~_smallest_mask(keys, count).reshape(array.shape)


def global_magnitude_masks(
    weights: Sequence[np.ndarray], n_prune: int, *, nan_policy: NanPolicy = "raise"
) -> list[np.ndarray]:
    """One threshold across layers: prune the `n_prune` smallest |w| of all layers together.

    Ties are broken by (layer index, flat index), the same rule as `magnitude_mask` applied
    to the concatenation of the flattened layers.
    """
    if isinstance(weights, np.ndarray) or len(weights) == 0:
        raise InputError("global pruning needs a non-empty list of weight arrays")
    arrays = [as_weight_array(w, f"layer {i} weights") for i, w in enumerate(weights)]
    total = sum(a.size for a in arrays)
    count = validate_count(n_prune, total)
    keys = np.concatenate([_magnitudes(a, nan_policy, f"layer {i} weights") for i, a in enumerate(arrays)])
    pruned = _smallest_mask(keys, count)
    masks, start = [], 0
    for array in arrays:
        masks.append(~pruned[start : start + array.size].reshape(array.shape))
        start += array.size
    return masks


def random_mask(
    shape: "tuple[int, ...] | int", n_prune: int, rng: "np.random.Generator | np.random.SeedSequence | int"
) -> np.ndarray:
    """Keep-mask pruning a uniformly random `n_prune`-subset (the paper's random pruning)."""
    shape_tuple = (shape,) if isinstance(shape, int) else tuple(shape)
    size = int(np.prod(shape_tuple, dtype=np.int64))
    if size < 1:
        raise InputError(f"shape {shape_tuple} has no entries")
    count = validate_count(n_prune, size)
    keep = np.ones(size, dtype=bool)
    keep[as_generator(rng).choice(size, size=count, replace=False)] = False
    return keep.reshape(shape_tuple)


def _as_mask(mask: np.ndarray) -> np.ndarray:
    array = np.asarray(mask)
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise InputError("mask must be binary (0/1 or bool)")
    return array.astype(bool, copy=False)


def kept_count(mask: np.ndarray) -> int:
    """Number of kept entries, counted in integers (never a float16 sum)."""
    return int(np.count_nonzero(_as_mask(mask)))


def pruned_count(mask: np.ndarray) -> int:
    """Number of pruned entries."""
    array = _as_mask(mask)
    return int(array.size - np.count_nonzero(array))


def kept_fraction(mask: np.ndarray) -> float:
    """Kept entries / D for a mask."""
    array = _as_mask(mask)
    return kept_count(array) / array.size


def compression_ratio(pruned_weights: np.ndarray) -> float:
    """gamma_l = ||vec(W~_l)||_0 / D_l: non-zero entries of the pruned matrix over D_l."""
    array = np.asarray(pruned_weights)
    return int(np.count_nonzero(array)) / array.size


def network_compression_ratio(pruned_weights: Sequence[np.ndarray]) -> float:
    """Non-zero entries over all weights of the network (integer counts)."""
    nonzero = sum(int(np.count_nonzero(w)) for w in pruned_weights)
    total = sum(int(np.asarray(w).size) for w in pruned_weights)
    return nonzero / total
