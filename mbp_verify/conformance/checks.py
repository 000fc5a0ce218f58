"""Judging one mask: the assertions the properties (and replays) share.

Each helper raises `AssertionError` with a message that names what is wrong and where, so
a failing property reads as a verdict, not a stack trace.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "keep_mask",
    "assert_binary",
    "assert_pruned_count",
    "assert_count",
    "expected_count",
    "tie_adjusted_count",
    "assert_magnitude_order",
    "pruned_count",
    "magnitudes64",
    "has_ties",
    "describe_indices",
]


def magnitudes64(weights: np.ndarray) -> np.ndarray:
    """|w| in float64 (exact for float16/32/64), flat in C order."""
    return np.abs(np.asarray(weights, dtype=np.float64)).ravel()


def has_ties(weights: np.ndarray) -> bool:
    mags = magnitudes64(weights)
    mags = mags[~np.isnan(mags)]
    return np.unique(mags).size != mags.size


def describe_indices(indices: np.ndarray, limit: int = 6) -> str:
    items = [str(int(i)) for i in indices[:limit]]
    return "[" + ", ".join(items) + (", ..." if indices.size > limit else "") + "]"


def keep_mask(result: Any, weights: np.ndarray) -> np.ndarray:
    """The returned mask as booleans (truthy = kept), after checking its shape."""
    mask = np.asarray(result)
    assert mask.shape == np.shape(weights), f"mask shape {mask.shape} != weights shape {np.shape(weights)}"
    assert _numeric(mask.dtype), f"mask dtype {mask.dtype} is not boolean or numeric"
    return mask.astype(bool)


def assert_binary(result: Any) -> None:
    """Every entry is 0/1 (or bool): no soft masks, no NaN, no weights returned as a mask."""
    mask = np.asarray(result)
    if mask.dtype == bool:
        return
    assert _numeric(mask.dtype), f"mask dtype {mask.dtype} is not boolean or numeric"
    bad = np.flatnonzero(~np.isin(mask.ravel(), (0, 1)))
    assert bad.size == 0, (
        f"mask is not binary: {bad.size} entries are not 0/1, e.g. "
        f"{mask.ravel()[bad[:3]].tolist()} at flat indices {describe_indices(bad)}"
    )


def _numeric(dtype: np.dtype) -> bool:
    """Boolean, integer, float or complex: numpy files timedelta64 under the integers, but a
    duration is not a mask (nor are datetimes, strings, bytes, objects or records)."""
    return dtype.kind in "biufc"


def pruned_count(keep: np.ndarray) -> int:
    """Pruned entries, counted in integers (never a float sum)."""
    return int(keep.size - np.count_nonzero(keep))


def assert_pruned_count(keep: np.ndarray, expected: int, asked: int) -> None:
    got = pruned_count(keep)
    assert got == expected, f"pruned {got} entries of D={keep.size}, expected exactly {expected} (n_prune={asked})"


def expected_count(rules: Any, weights: np.ndarray, n_prune: int) -> int:
    """Entries a pruner following `rules` prunes on `weights` when asked for `n_prune`.

    `rules.expected_pruned` applies min_kept; under tie=keep_all_at_threshold every entry tied
    with the smallest kept magnitude stays, so exactly the entries strictly below it are pruned.
    """
    target = rules.expected_pruned(n_prune, int(np.size(weights)))
    return tie_adjusted_count(rules, magnitudes64(weights), target)


def tie_adjusted_count(rules: Any, mags: np.ndarray, target: int) -> int:
    """`target` itself, or under tie=keep_all_at_threshold the entries strictly below the
    smallest kept magnitude (the target-th smallest; NaN sorts last)."""
    if rules.tie != "keep_all_at_threshold" or target in (0, mags.size):
        return target
    smallest_kept = np.sort(mags)[target]
    return int(np.count_nonzero(mags < smallest_kept))


def assert_count(keep: np.ndarray, weights: np.ndarray, n_prune: int, rules: Any) -> None:
    """The pruned count is exactly what the declared rules give (min_kept and tie rule included)."""
    expected = expected_count(rules, weights, n_prune)
    got = pruned_count(keep)
    short = rules.expected_pruned(n_prune, keep.size) - expected
    why = f"; tie=keep_all_at_threshold keeps the {short} entries tied at the threshold" if short else ""
    assert got == expected, (
        f"pruned {got} entries of D={keep.size}, expected exactly {expected} (n_prune={n_prune}{why})"
    )


def assert_magnitude_order(weights: np.ndarray, keep: np.ndarray, *, ignore_nan: bool = True) -> None:
    """Every pruned |w| <= every kept |w| (NaN entries excluded; +-inf are the largest numbers)."""
    mags = magnitudes64(weights)
    flat_keep = keep.ravel()
    valid = ~np.isnan(mags) if ignore_nan else np.ones(mags.size, dtype=bool)
    pruned = mags[valid & ~flat_keep]
    kept = mags[valid & flat_keep]
    if pruned.size == 0 or kept.size == 0:
        return
    largest_pruned, smallest_kept = pruned.max(), kept.min()
    if largest_pruned > smallest_kept:
        i = int(np.flatnonzero(valid & ~flat_keep & (mags == largest_pruned))[0])
        j = int(np.flatnonzero(valid & flat_keep & (mags == smallest_kept))[0])
        flat_w = np.asarray(weights).ravel()
        raise AssertionError(
            f"magnitude order violated: pruned w[{i}]={flat_w[i]!r} (|w|={largest_pruned!r}) but kept "
            f"w[{j}]={flat_w[j]!r} (|w|={smallest_kept!r}) (flat C-order indices)"
        )
