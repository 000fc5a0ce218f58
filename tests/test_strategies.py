"""Every public strategy keeps its promise, and checks its arguments when called."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mbp_verify import strategies as s

FEW = settings(max_examples=25, database=None, derandomize=True, deadline=None)


def _draws(strategy) -> list:
    """The examples a derandomised run of FEW draws (no shrinking, unlike hypothesis.find)."""
    seen: list = []

    @FEW
    @given(strategy)
    def collect(value):
        seen.append(value)

    collect()
    return seen


def _nan_count(w: np.ndarray) -> int:
    return int(np.isnan(w.astype(np.float64)).sum())


@FEW
@given(st.data(), st.sampled_from([(np.float16,), (np.float32, np.float64)]))
def test_float_dtypes_draws_only_the_given_dtypes(data, dtypes):
    assert data.draw(s.float_dtypes(dtypes)) in [np.dtype(d) for d in dtypes]


@FEW
@given(st.data(), st.sampled_from(s.SHAPE_KINDS), st.integers(2, 60))
def test_weight_shapes_have_their_kind_and_size(data, kind, max_size):
    shape = data.draw(s.weight_shapes(kinds=(kind,), max_size=max_size))
    assert 1 <= math.prod(shape) <= max_size and all(side >= 1 for side in shape)
    if kind == "vector":
        assert len(shape) == 1
    elif kind == "square":
        assert len(shape) == 2 and shape[0] == shape[1]
    elif kind == "rectangular":
        assert len(shape) == 2 and shape[0] != shape[1]
    elif kind == "conv":
        assert len(shape) == 4 and shape[2] == shape[3] in (1, 3)
    else:
        assert 1 <= len(shape) <= 4


def test_weight_shapes_reach_square_conv_and_rectangular_shapes():
    shapes = _draws(s.weight_shapes())
    assert any(len(sh) == 2 and sh[0] == sh[1] >= 3 for sh in shapes)
    assert any(len(sh) == 2 and sh[0] != sh[1] for sh in shapes)
    assert any(len(sh) == 4 and sh[2] == 3 for sh in shapes)


@FEW
@given(st.data(), st.integers(0, 5), st.sampled_from([None, 5, 7]))
def test_min_nan_and_max_nan_are_guaranteed(data, min_nan, max_nan):
    w = data.draw(s.weight_arrays(allow_nan=True, min_nan=min_nan, max_nan=max_nan))
    assert min_nan <= _nan_count(w) and (max_nan is None or _nan_count(w) <= max_nan)


@FEW
@given(s.weight_arrays(dtypes=(np.float16,), kinds=("square", "conv"), max_size=36, views=False))
def test_weight_arrays_respect_dtype_kind_size_views_and_finiteness(w):
    assert w.dtype == np.float16 and w.size <= 36 and w.flags.c_contiguous
    assert (w.ndim == 2 and w.shape[0] == w.shape[1]) or w.ndim == 4
    assert np.all(np.isfinite(w.astype(np.float64)))  # no NaN or inf unless allowed


def test_weight_arrays_reach_the_float16_extremes_where_squares_overflow_and_underflow():
    mags = [np.abs(w.astype(float)) for w in _draws(s.weight_arrays(dtypes=(np.float16,)))]
    assert any(np.sum(m >= 256) >= 2 for m in mags)  # squares overflow to inf: a tie
    assert any(np.sum((m > 0) & (m < 2.4e-4)) >= 2 for m in mags)  # squares flush to 0: a tie
    assert 65504.0 in s.dtype_extremes(np.float16) and min(s.dtype_extremes(np.float16)) == 2.0**-24


@FEW
@given(s.tie_free_weight_arrays(allow_inf=True))
def test_tie_free_arrays_have_pairwise_distinct_magnitudes(w):
    mags = np.abs(w.astype(np.float64)).ravel()
    assert np.unique(mags).size == mags.size and not np.any(np.isnan(mags))


@FEW
@given(s.layer_lists(tie_free=True, min_layers=2, max_layers=3))
def test_tie_free_layer_lists_are_distinct_across_layers(layers):
    assert 2 <= len(layers) <= 3
    mags = np.concatenate([np.abs(a.astype(np.float64)).ravel() for a in layers])
    assert np.unique(mags).size == mags.size


@FEW
@given(s.prune_cases(), s.tie_free_prune_cases())
def test_prune_cases_give_counts_within_the_array(case, tie_free_case):
    for weights, n in (case, tie_free_case):
        assert 0 <= n <= weights.size


@FEW
@given(st.data(), st.integers(0, 30))
def test_prune_counts_stay_in_range(data, size):
    assert 0 <= data.draw(s.prune_counts(size)) <= size


@pytest.mark.parametrize(
    "make",
    [
        lambda: s.weight_arrays(dtypes=[int]),
        lambda: s.weight_arrays(dtypes="float32"),
        lambda: s.weight_arrays(dtypes=[]),
        lambda: s.weight_arrays(min_dims=3, max_dims=2),
        lambda: s.weight_arrays(max_size=0),
        lambda: s.weight_arrays(min_nan=2),  # NaN not allowed
        lambda: s.weight_arrays(allow_nan=True, min_nan=3, max_nan=2),
        lambda: s.weight_arrays(allow_nan=True, min_nan=100, max_size=48),
        lambda: s.weight_arrays(allow_nan="yes"),
        lambda: s.weight_arrays(kinds=("hexagonal",)),
        lambda: s.weight_arrays(kinds=("conv",), max_dims=2),
        lambda: s.tie_free_weight_arrays(max_size=1.5),
        lambda: s.weight_shapes(kinds=("rectangular",), max_size=1),
        lambda: s.prune_counts(-1),
        lambda: s.prune_counts(True),
        lambda: s.layer_lists(min_layers=0),
        lambda: s.layer_lists(min_layers=3, max_layers=2),
        lambda: s.layer_lists(tie_free=True, allow_nan=True),
        lambda: s.float_dtypes([np.int32]),
    ],
)
def test_bad_arguments_raise_invalid_argument_when_called(make):
    with pytest.raises(InvalidArgument):
        make()


def test_numpy_integers_are_accepted():
    assert s.weight_arrays(max_size=np.int64(8), min_nan=np.int32(1), allow_nan=True) is not None


def test_array_shapes_is_a_deprecated_alias_of_weight_shapes():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        strategy = s.array_shapes(max_size=8)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert all(math.prod(shape) <= 8 for shape in _draws(strategy))
