"""Public Hypothesis strategies for pruning inputs: weight arrays that find pruner bugs.

Random floats almost never tie, are never exactly zero and never sit one ulp apart; real
bugs live exactly there. These strategies draw float16/32/64 arrays in the shapes real
weights have (vectors, square and rectangular matrices, 4-D conv kernels, and any shape of
1 to 4 dimensions), whose magnitudes come from a small pool (so ties across signs are
common), with exact zeros, +-0.0, values one ulp apart, the dtype's extremes (near its
largest finite value, where squaring overflows, and near its smallest subnormal, where
squaring underflows), NaN/+-inf on request, handed back as C-contiguous, Fortran,
transposed, strided or reversed views of the same logical array. Use them in your tests:

    from hypothesis import given
    from mbp_verify.strategies import prune_cases

    @given(prune_cases())
    def test_my_pruner(case):
        weights, n_prune = case
        ...

Every strategy checks its arguments when called and raises
`hypothesis.errors.InvalidArgument` naming the problem.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

__all__ = [
    "FLOAT_DTYPES",
    "VIEW_KINDS",
    "SHAPE_KINDS",
    "dtype_extremes",
    "float_dtypes",
    "weight_shapes",
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
# vector (D,), square (k, k), rectangular (r, c) with r != c, conv (out, in, k, k), any 1..4-D shape
SHAPE_KINDS: tuple[str, ...] = ("square", "rectangular", "conv", "vector", "any")
_KIND_DIMS = {"vector": (1, 1), "square": (2, 2), "rectangular": (2, 2), "conv": (4, 4), "any": (1, 4)}
_KIND_MIN_SIZE = {"vector": 1, "square": 1, "rectangular": 2, "conv": 1, "any": 1}
_BOUND = {np.dtype(np.float16): 1e4, np.dtype(np.float32): 1e6, np.dtype(np.float64): 1e6}
_WIDTH = {np.dtype(np.float16): 16, np.dtype(np.float32): 32, np.dtype(np.float64): 64}


# ---------------------------------------------------------------- argument checks
def _check_int(name: str, value: Any, low: int, high: "int | None" = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgument(f"{name}={value!r} must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise InvalidArgument(f"{name}={value!r} must be {bound}")
    return int(value)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgument(f"{name}={value!r} must be True or False")
    return bool(value)


def _check_dtypes(dtypes: Any) -> tuple[np.dtype, ...]:
    if isinstance(dtypes, (str, type, np.dtype)) or not isinstance(dtypes, Sequence) or len(dtypes) == 0:
        raise InvalidArgument(f"dtypes={dtypes!r} must be a non-empty sequence of float16, float32 or float64")
    found = []
    for item in dtypes:
        try:
            dtype = np.dtype(item)
        except TypeError:
            dtype = None
        if dtype not in _WIDTH:
            raise InvalidArgument(f"dtypes contains {item!r}; only float16, float32 and float64 are supported")
        found.append(dtype)
    return tuple(dict.fromkeys(found))


def _check_dims(min_dims: Any, max_dims: Any) -> tuple[int, int]:
    low = _check_int("min_dims", min_dims, 1, 4)
    high = _check_int("max_dims", max_dims, 1, 4)
    if low > high:
        raise InvalidArgument(f"min_dims={low} must not exceed max_dims={high}")
    return low, high


def _usable_kinds(kinds: Any, min_dims: int, max_dims: int, min_size: int, max_size: int) -> tuple[str, ...]:
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or len(kinds) == 0:
        raise InvalidArgument(f"kinds={kinds!r} must be a non-empty sequence of {', '.join(SHAPE_KINDS)}")
    unknown = [k for k in kinds if k not in SHAPE_KINDS]
    if unknown:
        raise InvalidArgument(f"unknown shape kind(s) {unknown!r}; known: {', '.join(SHAPE_KINDS)}")
    usable = tuple(
        k
        for k in dict.fromkeys(kinds)
        if _KIND_DIMS[k][0] <= max_dims
        and _KIND_DIMS[k][1] >= min_dims
        and _KIND_MIN_SIZE[k] <= max_size
        and (k != "square" or math.isqrt(max_size) ** 2 >= min_size)
    )
    if not usable:
        raise InvalidArgument(
            f"no shape of kinds {list(kinds)} has {min_dims}..{max_dims} dimensions and {min_size}..{max_size} entries"
        )
    return usable


# ---------------------------------------------------------------- dtypes, extremes and shapes
def dtype_extremes(dtype: Any) -> tuple[float, ...]:
    """Positive magnitudes at the edges of `dtype`: its largest finite value and values whose
    square overflows, its smallest normal and subnormal values and values whose square underflows."""
    info = np.finfo(np.dtype(dtype))
    big, tiny, sub = float(info.max), float(info.tiny), float(info.smallest_subnormal)
    candidates = [
        big,
        big / 2,
        math.sqrt(big),
        1.5 * math.sqrt(big),
        2 * math.sqrt(big),
        16 * math.sqrt(big),
        tiny,
        sub,
        2 * sub,
        3 * sub,
        math.sqrt(sub),
        math.sqrt(tiny),
        0.5 * math.sqrt(tiny),
    ]
    cast = [float(np.dtype(dtype).type(v)) for v in candidates]
    return tuple(sorted({v for v in cast if 0 < v < math.inf}))


def float_dtypes(dtypes: Sequence[type] = FLOAT_DTYPES) -> st.SearchStrategy[np.dtype]:
    """One of `dtypes` (float16, float32, float64) as a numpy dtype."""
    return st.sampled_from(_check_dtypes(dtypes))


def weight_shapes(
    *, kinds: Sequence[str] = SHAPE_KINDS, min_dims: int = 1, max_dims: int = 4, min_size: int = 1, max_size: int = 48
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes of real weights: vectors, square and rectangular matrices, (out, in, k, k) conv
    kernels (k = 1 or 3) and any 1..4-D shape; every side >= 1, min_size..max_size entries."""
    min_dims, max_dims = _check_dims(min_dims, max_dims)
    min_size = _check_int("min_size", min_size, 1)
    max_size = _check_int("max_size", max_size, 1)
    if min_size > max_size:
        raise InvalidArgument(f"min_size={min_size} must not exceed max_size={max_size}")
    usable = _usable_kinds(kinds, min_dims, max_dims, min_size, max_size)
    return _weight_shapes(usable, min_dims, max_dims, min_size, max_size)


def array_shapes(*, min_dims: int = 1, max_dims: int = 4, max_size: int = 48) -> st.SearchStrategy[tuple[int, ...]]:
    """Deprecated alias of `weight_shapes(kinds=("any",), ...)` (the old name shadowed Hypothesis's own)."""
    warnings.warn(
        "mbp_verify.strategies.array_shapes is deprecated; use weight_shapes", DeprecationWarning, stacklevel=2
    )
    return weight_shapes(kinds=("any",), min_dims=min_dims, max_dims=max_dims, max_size=max_size)


@st.composite
def _weight_shapes(
    draw: st.DrawFn, kinds: tuple[str, ...], min_dims: int, max_dims: int, min_size: int, max_size: int
) -> tuple[int, ...]:
    kind = draw(st.sampled_from(kinds))
    if kind == "vector":
        return (draw(st.integers(min_size, max_size)),)
    if kind == "square":
        high = math.isqrt(max_size)
        side = draw(st.integers(min(high, max(2, math.isqrt(min_size - 1) + 1)), high))
        return (side, side)
    if kind == "rectangular":
        rows = draw(st.integers(1, max_size))
        cols = draw(st.integers(max(1, -(-min_size // rows)), max(1, max_size // rows)).filter(lambda c: c != rows))
        return (rows, cols)
    if kind == "conv":
        k = draw(st.sampled_from([3, 1] if max_size >= 9 else [1]))
        out = draw(st.integers(1, max_size // (k * k)))
        shape = (out, draw(st.integers(1, max_size // (k * k * out))), k, k)
        assume(math.prod(shape) >= min_size)
        return shape
    size = draw(st.integers(min_size, max_size))
    return draw(_shape_for(size, min_dims, max_dims))


def _divisors(n: int) -> list[int]:
    """Divisors of n, proper ones first (so multi-dimensional shapes are common)."""
    proper = [d for d in range(2, n) if n % d == 0]
    return proper + ([1, n] if n > 1 else [1])


@st.composite
def _shape_for(draw: st.DrawFn, size: int, min_dims: int, max_dims: int) -> tuple[int, ...]:
    """A shape with exactly `size` entries."""
    ndim = draw(st.integers(min_dims, max_dims))
    shape, remaining = [], size
    for _ in range(ndim - 1):
        side = draw(st.sampled_from(_divisors(remaining)))
        shape.append(side)
        remaining //= side
    return tuple(shape + [remaining])


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


def _magnitudes(dtype: np.dtype) -> st.SearchStrategy[float]:
    """Finite magnitudes of `dtype`: ordinary values or the dtype's extremes."""
    ordinary = st.floats(0, _BOUND[dtype], width=_WIDTH[dtype], allow_nan=False, allow_infinity=False)
    return st.one_of(ordinary, st.sampled_from(dtype_extremes(dtype)))


def _neighbour(dtype: np.dtype, value: float) -> float:
    """The next representable magnitude above `value` (below it at the dtype's largest finite value)."""
    top = float(np.finfo(dtype).max)
    return float(np.nextafter(dtype.type(value), dtype.type(0 if value >= top else np.inf)))


def _finish(
    draw: st.DrawFn, dtype: np.dtype, shape: tuple[int, ...], values: list[float], signs: list[bool], views: bool
) -> np.ndarray:
    flat = np.array([-v if s else v for v, s in zip(values, signs)], dtype=np.float64).astype(dtype)
    array = flat.reshape(shape)
    return as_view(array, draw(st.sampled_from(VIEW_KINDS))) if views else array


# ---------------------------------------------------------------- weight arrays
def weight_arrays(
    *,
    dtypes: Sequence[type] = FLOAT_DTYPES,
    kinds: Sequence[str] = SHAPE_KINDS,
    min_dims: int = 1,
    max_dims: int = 4,
    max_size: int = 48,
    allow_nan: bool = False,
    allow_inf: bool = False,
    views: bool = True,
    min_nan: int = 0,
    max_nan: "int | None" = None,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays rich in ties (across signs), exact zeros, +-0.0, one-ulp neighbours and dtype extremes.

    With `allow_nan`, every array holds at least `min_nan` and at most `max_nan` NaN entries
    (`max_nan=None`: no upper bound); without it, none.
    """
    dtypes_ = _check_dtypes(dtypes)
    min_dims, max_dims = _check_dims(min_dims, max_dims)
    max_size = _check_int("max_size", max_size, 1)
    allow_nan, allow_inf, views = (
        _check_bool(n, v) for n, v in (("allow_nan", allow_nan), ("allow_inf", allow_inf), ("views", views))
    )
    min_nan = _check_int("min_nan", min_nan, 0, max_size)
    if max_nan is not None:
        max_nan = _check_int("max_nan", max_nan, min_nan)
    if (min_nan or max_nan) and not allow_nan:
        raise InvalidArgument("min_nan/max_nan need allow_nan=True")
    usable = _usable_kinds(kinds, min_dims, max_dims, max(1, min_nan), max_size)
    return _weight_arrays(dtypes_, usable, min_dims, max_dims, max_size, allow_nan, allow_inf, views, min_nan, max_nan)


@st.composite
def _weight_arrays(
    draw: st.DrawFn,
    dtypes: tuple[np.dtype, ...],
    kinds: tuple[str, ...],
    min_dims: int,
    max_dims: int,
    max_size: int,
    allow_nan: bool,
    allow_inf: bool,
    views: bool,
    min_nan: int,
    max_nan: "int | None",
) -> np.ndarray:
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(_weight_shapes(kinds, min_dims, max_dims, max(1, min_nan), max_size))
    size = math.prod(shape)
    magnitude = _magnitudes(dtype)
    pool = draw(st.lists(magnitude, min_size=1, max_size=6))
    neighbours = [_neighbour(dtype, p) for p in pool[:2]]
    specials = [0.0, -0.0] + ([math.inf, -math.inf] if allow_inf else [])
    if allow_nan and max_nan is None:
        specials.append(math.nan)
    choices = st.one_of(st.sampled_from(pool + neighbours), magnitude, st.sampled_from(specials))
    values = draw(st.lists(choices, min_size=size, max_size=size))
    signs = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    if allow_nan:
        upper = size if max_nan is None else min(size, max_nan)
        for i in draw(st.lists(st.integers(0, size - 1), unique=True, min_size=min_nan, max_size=upper)):
            values[i] = math.nan
    return _finish(draw, dtype, shape, values, signs, views)


@dataclass(frozen=True)
class _TieFreeOptions:
    """Validated arguments shared by `tie_free_weight_arrays` and `layer_lists(tie_free=True)`."""

    dtypes: tuple[np.dtype, ...]
    kinds: tuple[str, ...]
    min_dims: int
    max_dims: int
    max_size: int
    allow_inf: bool
    views: bool


def _tie_free_options(
    *,
    dtypes: Sequence[type] = FLOAT_DTYPES,
    kinds: Sequence[str] = SHAPE_KINDS,
    min_dims: int = 1,
    max_dims: int = 4,
    max_size: int = 48,
    allow_inf: bool = False,
    views: bool = True,
) -> _TieFreeOptions:
    dtypes_ = _check_dtypes(dtypes)
    min_dims, max_dims = _check_dims(min_dims, max_dims)
    max_size = _check_int("max_size", max_size, 1)
    allow_inf, views = _check_bool("allow_inf", allow_inf), _check_bool("views", views)
    usable = _usable_kinds(kinds, min_dims, max_dims, 1, max_size)
    return _TieFreeOptions(dtypes_, usable, min_dims, max_dims, max_size, allow_inf, views)


def tie_free_weight_arrays(
    *,
    dtypes: Sequence[type] = FLOAT_DTYPES,
    kinds: Sequence[str] = SHAPE_KINDS,
    min_dims: int = 1,
    max_dims: int = 4,
    max_size: int = 48,
    allow_inf: bool = False,
    views: bool = True,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose magnitudes are pairwise distinct (one-ulp neighbours, dtype extremes and one zero allowed)."""
    options = _tie_free_options(
        dtypes=dtypes,
        kinds=kinds,
        min_dims=min_dims,
        max_dims=max_dims,
        max_size=max_size,
        allow_inf=allow_inf,
        views=views,
    )
    return _tie_free_weight_arrays(options)


@st.composite
def _tie_free_weight_arrays(draw: st.DrawFn, options: _TieFreeOptions) -> np.ndarray:
    dtype = draw(st.sampled_from(options.dtypes))
    shape = draw(_weight_shapes(options.kinds, options.min_dims, options.max_dims, 1, options.max_size))
    values, signs = draw(_tie_free_values(dtype, math.prod(shape), options.allow_inf))
    return _finish(draw, dtype, shape, values, signs, options.views)


@st.composite
def _tie_free_values(draw: st.DrawFn, dtype: np.dtype, size: int, allow_inf: bool) -> tuple[list[float], list[bool]]:
    """`size` pairwise distinct magnitudes of `dtype` (some one ulp apart) and their signs."""
    values = draw(st.lists(_magnitudes(dtype), min_size=size, max_size=size, unique=True))
    signs = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    # Move some magnitudes to one ulp above another one (when that value is still free).
    nudges = draw(st.lists(st.integers(0, size - 1), max_size=min(size // 2, 4)))
    taken = set(values)
    for i in nudges:
        j = (i + 1) % size
        value = _neighbour(dtype, values[i])
        if value not in taken:
            taken.discard(values[j])
            values[j] = value
            taken.add(value)
    if allow_inf and size > 1 and draw(st.booleans()):
        values[-1] = math.inf
    return values, signs


# ---------------------------------------------------------------- counts and cases
def prune_counts(size: int) -> st.SearchStrategy[int]:
    """Counts in [0, size]; about one draw in three is 0 or size."""
    size = _check_int("size", size, 0)
    return st.one_of(st.integers(0, size), st.integers(0, size), st.sampled_from((0, size)))


def prune_cases(**array_kwargs: Any) -> st.SearchStrategy[tuple[np.ndarray, int]]:
    """(weights, n_prune) with `weights` from `weight_arrays(**array_kwargs)` and 0 <= n_prune <= D."""
    arrays = weight_arrays(**array_kwargs)
    return arrays.flatmap(lambda w: st.tuples(st.just(w), prune_counts(w.size)))


def tie_free_prune_cases(**array_kwargs: Any) -> st.SearchStrategy[tuple[np.ndarray, int]]:
    """(weights, n_prune) with pairwise distinct magnitudes and 0 <= n_prune <= D."""
    arrays = tie_free_weight_arrays(**array_kwargs)
    return arrays.flatmap(lambda w: st.tuples(st.just(w), prune_counts(w.size)))


def layer_lists(
    *, min_layers: int = 1, max_layers: int = 4, max_size: int = 24, tie_free: bool = False, **array_kwargs: Any
) -> st.SearchStrategy[list[np.ndarray]]:
    """Lists of min_layers..max_layers weight arrays for global pruning, each its own shape and
    dtype (`array_kwargs` as for `weight_arrays`); with `tie_free`, magnitudes are distinct
    across all layers (they are drawn in the narrowest dtype, so every layer holds them exactly)."""
    low = _check_int("min_layers", min_layers, 1)
    high = _check_int("max_layers", max_layers, low)
    if not _check_bool("tie_free", tie_free):
        return st.lists(weight_arrays(max_size=max_size, **array_kwargs), min_size=low, max_size=high)
    unknown = set(array_kwargs) - {"dtypes", "kinds", "min_dims", "max_dims", "allow_inf", "views"}
    if unknown:
        raise InvalidArgument(f"layer_lists(tie_free=True) does not take {', '.join(sorted(unknown))}")
    return _tie_free_layers(_tie_free_options(max_size=max_size, **array_kwargs), low, high)


@st.composite
def _tie_free_layers(draw: st.DrawFn, options: _TieFreeOptions, low: int, high: int) -> list[np.ndarray]:
    count = draw(st.integers(low, high))
    layer_dtypes = [draw(st.sampled_from(options.dtypes)) for _ in range(count)]
    shapes = [
        draw(_weight_shapes(options.kinds, options.min_dims, options.max_dims, 1, options.max_size))
        for _ in range(count)
    ]
    narrowest = min(layer_dtypes, key=lambda d: d.itemsize)
    values, signs = draw(_tie_free_values(narrowest, sum(math.prod(s) for s in shapes), options.allow_inf))
    layers, start = [], 0
    for dtype, shape in zip(layer_dtypes, shapes):
        stop = start + math.prod(shape)
        layers.append(_finish(draw, dtype, shape, values[start:stop], signs[start:stop], options.views))
        start = stop
    return layers
