"""Public Hypothesis strategies for pruning inputs: weight arrays that find pruner bugs.

Random floats almost never tie, are never exactly zero and never sit one ulp apart; real
bugs live exactly there. These strategies draw float16/32/64 arrays of 1 to 4 dimensions
(D = 1 included) whose entries come from a small pool of magnitudes (so ties across signs
are common), with exact zeros, +-0.0, values one ulp apart, NaN/+-inf on request, and hand
them back as C-contiguous, Fortran, transposed, strided or reversed views of the same
logical array. Use them in your own tests:

    from hypothesis import given
    from mbp_verify.strategies import prune_cases

    @given(prune_cases())
    def test_my_pruner(case):
        weights, n_prune = case
        ...
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "FLOAT_DTYPES",
    "VIEW_KINDS",
    "float_dtypes",
    "array_shapes",
    "as_view",
    "weight_arrays",
    "tie_free_weight_arrays",
    "prune_counts",
    "prune_cases",
    "tie_free_prune_cases",
    "layer_lists",
]

FLOAT_DTYPES: tuple[type, ...] = (np.float16, np.float32, np.float64)
VIEW_KINDS: tuple[str, ...] = ("c", "fortran", "transposed", "strided", "reversed")
_WIDTH = {np.dtype(np.float16): 16, np.dtype(np.float32): 32, np.dtype(np.float64): 64}
_BOUND = {16: 1e4, 32: 1e6, 64: 1e6}


def float_dtypes(dtypes: Sequence[type] = FLOAT_DTYPES) -> st.SearchStrategy[np.dtype]:
    return st.sampled_from([np.dtype(d) for d in dtypes])


@st.composite
def array_shapes(draw: st.DrawFn, min_dims: int = 1, max_dims: int = 4, max_size: int = 48) -> tuple[int, ...]:
    """Shapes of 1..4 dimensions with at most `max_size` entries (all sides >= 1)."""
    ndim = draw(st.integers(min_dims, max_dims))
    shape, budget = [], max_size
    for axis in range(ndim):
        remaining_axes = ndim - axis - 1
        side = draw(st.integers(1, max(1, budget // (2**remaining_axes) if remaining_axes else budget)))
        shape.append(side)
        budget = max(1, budget // side)
    return tuple(shape)


def as_view(array: np.ndarray, kind: str) -> np.ndarray:
    """The same logical array (equal values, same shape) in another memory layout."""
    if kind == "c":
        return np.ascontiguousarray(array)
    if kind == "fortran":
        return np.asfortranarray(array)
    if kind == "transposed":
        return np.ascontiguousarray(array.T).T
    if kind == "strided":
        wide = np.zeros((array.shape[0] * 2,) + array.shape[1:], dtype=array.dtype)
        wide[::2] = array
        return wide[::2]
    if kind == "reversed":
        return np.ascontiguousarray(array[::-1])[::-1]
    raise ValueError(f"unknown view kind {kind!r}; known: {', '.join(VIEW_KINDS)}")


def _specials(dtype: np.dtype, allow_nan: bool, allow_inf: bool) -> list[float]:
    values = [0.0, -0.0]
    if allow_nan:
        values.append(float("nan"))
    if allow_inf:
        values += [float("inf"), float("-inf")]
    return values


@st.composite
def weight_arrays(
    draw: st.DrawFn,
    *,
    dtypes: Sequence[type] = FLOAT_DTYPES,
    min_dims: int = 1,
    max_dims: int = 4,
    max_size: int = 48,
    allow_nan: bool = False,
    allow_inf: bool = False,
    views: bool = True,
    min_nan: int = 0,
) -> np.ndarray:
    """Arrays rich in ties (across signs), exact zeros, +-0.0 and one-ulp neighbours."""
    dtype = draw(float_dtypes(dtypes))
    width = _WIDTH[dtype]
    shape = draw(array_shapes(min_dims, max_dims, max_size))
    size = int(np.prod(shape))
    magnitude = st.floats(0, _BOUND[width], width=width, allow_nan=False, allow_infinity=False)
    pool = draw(st.lists(magnitude, min_size=1, max_size=6))
    neighbours = [float(np.nextafter(dtype.type(p), dtype.type(np.inf))) for p in pool[:2]]
    choices = st.one_of(
        st.sampled_from(pool + neighbours),
        magnitude,
        st.sampled_from(_specials(dtype, allow_nan, allow_inf)),
    )
    values = draw(st.lists(choices, min_size=size, max_size=size))
    signs = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    flat = np.array([-v if s else v for v, s in zip(values, signs)], dtype=np.float64).astype(dtype)
    if min_nan:
        where = draw(st.lists(st.integers(0, size - 1), min_size=min_nan, max_size=min_nan))
        flat[where] = np.nan
    array = flat.reshape(shape)
    return as_view(array, draw(st.sampled_from(VIEW_KINDS))) if views else array


@st.composite
def tie_free_weight_arrays(
    draw: st.DrawFn,
    *,
    dtypes: Sequence[type] = FLOAT_DTYPES,
    min_dims: int = 1,
    max_dims: int = 4,
    max_size: int = 48,
    allow_inf: bool = False,
    views: bool = True,
) -> np.ndarray:
    """Arrays whose magnitudes are pairwise distinct (one-ulp neighbours and one zero allowed)."""
    dtype = draw(float_dtypes(dtypes))
    width = _WIDTH[dtype]
    shape = draw(array_shapes(min_dims, max_dims, max_size))
    size = int(np.prod(shape))
    magnitude = st.floats(0, _BOUND[width], width=width, allow_nan=False, allow_infinity=False)
    seen: list[float] = []
    taken: set[float] = set()
    while len(seen) < size:
        if allow_inf and float("inf") not in taken and draw(st.integers(0, 9)) == 0:
            value = float("inf")
        elif seen and draw(st.booleans()):  # one ulp above an existing magnitude
            value = float(np.nextafter(dtype.type(draw(st.sampled_from(seen))), dtype.type(np.inf)))
        else:
            value = draw(magnitude)
        if value in taken or (value != float("inf") and not np.isfinite(dtype.type(value))):
            finite = [v for v in taken if np.isfinite(v)] or [0.0]
            value = float(np.nextafter(dtype.type(max(finite)), dtype.type(np.inf)))
        seen.append(value)
        taken.add(value)
    signs = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    flat = np.array([-v if s else v for v, s in zip(seen, signs)], dtype=np.float64).astype(dtype)
    array = flat.reshape(shape)
    return as_view(array, draw(st.sampled_from(VIEW_KINDS))) if views else array


def prune_counts(size: int) -> st.SearchStrategy[int]:
    """Counts in [0, D], with 0 and D drawn often."""
    return st.one_of(st.just(0), st.just(size), st.integers(0, size))


@st.composite
def prune_cases(draw: st.DrawFn, **array_kwargs) -> tuple[np.ndarray, int]:
    """(weights, n_prune) with `weights` from `weight_arrays(**array_kwargs)`."""
    weights = draw(weight_arrays(**array_kwargs))
    return weights, draw(prune_counts(weights.size))


@st.composite
def tie_free_prune_cases(draw: st.DrawFn, **array_kwargs) -> tuple[np.ndarray, int]:
    """(weights, n_prune) with pairwise distinct magnitudes."""
    weights = draw(tie_free_weight_arrays(**array_kwargs))
    return weights, draw(prune_counts(weights.size))


@st.composite
def layer_lists(draw: st.DrawFn, *, min_layers: int = 1, max_layers: int = 4, max_size: int = 24,
                tie_free: bool = False, **array_kwargs) -> list[np.ndarray]:
    """Lists of weight arrays for global pruning (each layer its own shape and dtype)."""
    n_layers = draw(st.integers(min_layers, max_layers))
    make = tie_free_weight_arrays if tie_free else weight_arrays
    layers = [draw(make(max_dims=3, max_size=max_size, **array_kwargs)) for _ in range(n_layers)]
    if tie_free:  # magnitudes distinct across layers too
        mags = np.concatenate([np.abs(layer.astype(np.float64)).ravel() for layer in layers])
        from hypothesis import assume

        assume(np.unique(mags).size == mags.size)
    return layers
