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


def _divisors(n: int) -> list[int]:
    """Divisors of n, proper ones first (so multi-dimensional shapes are common)."""
    proper = [d for d in range(2, n) if n % d == 0]
    return proper + ([1, n] if n > 1 else [1])


@st.composite
def _shape_for(draw: st.DrawFn, size: int, min_dims: int, max_dims: int) -> tuple[int, ...]:
    """A shape with exactly `size` entries (drawn after the values so lists shrink cleanly)."""
    ndim = draw(st.integers(min_dims, max_dims))
    shape, remaining = [], size
    for _ in range(ndim - 1):
        side = draw(st.sampled_from(_divisors(remaining)))
        shape.append(side)
        remaining //= side
    return tuple(shape + [remaining])


def _assemble(draw: st.DrawFn, dtype: np.dtype, values: list[float], signs: list[bool], min_dims: int,
              max_dims: int, views: bool) -> np.ndarray:
    flat = np.array([-v if s else v for v, s in zip(values, signs)], dtype=np.float64).astype(dtype)
    array = flat.reshape(draw(_shape_for(flat.size, min_dims, max_dims)))
    return as_view(array, draw(st.sampled_from(VIEW_KINDS))) if views else array


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
    magnitude = st.floats(0, _BOUND[width], width=width, allow_nan=False, allow_infinity=False)
    pool = draw(st.lists(magnitude, min_size=1, max_size=6))
    neighbours = [float(np.nextafter(dtype.type(p), dtype.type(np.inf))) for p in pool[:2]]
    choices = st.one_of(
        st.sampled_from(pool + neighbours),
        magnitude,
        st.sampled_from(_specials(dtype, allow_nan, allow_inf)),
    )
    entries = draw(st.lists(st.tuples(choices, st.booleans()), min_size=max(1, min_nan), max_size=max_size))
    values, signs = [v for v, _ in entries], [s for _, s in entries]
    if min_nan:
        where = draw(st.lists(st.integers(0, len(values) - 1), min_size=min_nan, max_size=min_nan))
        for i in where:
            values[i] = float("nan")
    return _assemble(draw, dtype, values, signs, min_dims, max_dims, views)


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
    magnitude = st.floats(0, _BOUND[width], width=width, allow_nan=False, allow_infinity=False)
    entries = draw(st.lists(st.tuples(magnitude, st.booleans()), min_size=1, max_size=max_size,
                            unique_by=lambda entry: entry[0]))
    values, signs = [v for v, _ in entries], [s for _, s in entries]
    size = len(values)
    # Move some magnitudes to one ulp above another one (when that value is still free).
    nudges = draw(st.lists(st.integers(0, size - 1), max_size=min(size // 2, 4)))
    taken = set(values)
    for i in nudges:
        j = (i + 1) % size
        value = float(np.nextafter(dtype.type(values[i]), dtype.type(np.inf)))
        if value not in taken and np.isfinite(value):
            taken.discard(values[j])
            values[j] = value
            taken.add(value)
    if allow_inf and size > 1 and draw(st.booleans()):
        values[-1] = float("inf")
    return _assemble(draw, dtype, values, signs, min_dims, max_dims, views)


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
