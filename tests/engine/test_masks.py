"""Reference masks: tie rule, NaN policy, dtypes, global scope, random masks, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mbp_verify.engine import (
    compression_ratio,
    global_magnitude_masks,
    kept_count,
    magnitude_mask,
    network_compression_ratio,
    pruned_count,
    random_mask,
)
from mbp_verify.errors import InputError


def test_tie_rule_prunes_smaller_flat_index_first():
    w = np.array([1.0, -1.0, 1.0, 1.0, 2.0])
    assert magnitude_mask(w, 2).tolist() == [False, False, True, True, True]


def test_exact_zeros_and_signed_zero_rank_first():
    w = np.array([0.5, -0.0, 0.0, -0.5, 3.0])
    assert magnitude_mask(w, 2).tolist() == [True, False, False, True, True]
    assert magnitude_mask(w, 3).tolist() == [False, False, False, True, True]


def test_counts_zero_and_everything():
    w = np.arange(1.0, 7.0).reshape(2, 3)
    assert magnitude_mask(w, 0).all()
    assert not magnitude_mask(w, 6).any()


def test_nd_weights_treated_as_flat():
    w = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) - 11.5
    mask = magnitude_mask(w, 5)
    assert mask.shape == w.shape
    pruned = np.sort(np.abs(w[~mask]))
    assert pruned.tolist() == [0.5, 0.5, 1.5, 1.5, 2.5]


def test_float16_counts_beyond_float16_range():
    w = np.random.default_rng(0).uniform(-1, 1, 70_000).astype(np.float16)
    mask = magnitude_mask(w, 1000)
    assert kept_count(mask) == 69_000  # a float16 sum would overflow at 65504
    assert pruned_count(mask) == 1000


def test_nan_policy():
    w = np.array([np.nan, 1.0, np.inf, 2.0, -np.inf])
    with pytest.raises(InputError, match="NaN"):
        magnitude_mask(w, 1)
    largest = magnitude_mask(w, 3, nan_policy="largest")
    assert largest.tolist() == [True, False, False, False, True]  # NaN above +inf above... ties by index
    with pytest.raises(InputError, match="nan_policy"):
        magnitude_mask(w, 1, nan_policy="smallest")


def test_infinities_rank_largest():
    w = np.array([np.inf, 1.0, -np.inf, 2.0])
    assert magnitude_mask(w, 2).tolist() == [True, False, True, False]


def test_input_not_modified_and_not_aliased():
    w = np.array([3.0, -1.0, 2.0])
    before = w.copy()
    mask = magnitude_mask(w, 1)
    assert np.array_equal(w, before)
    assert not np.shares_memory(mask, w)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([]), "empty"),
        (np.zeros((0, 3)), "empty"),
        (np.array(["a", "b"]), "dtype"),
        (np.array([1, 2], dtype=object), "object"),
        (np.array([1, 2]), "dtype"),
        (np.array([True, False]), "dtype"),
        (np.array([1 + 1j]), "dtype"),
        ([[1.0, 2.0], [3.0]], "array"),
    ],
)
def test_bad_weight_arrays(bad, match):
    with pytest.raises(InputError, match=match):
        magnitude_mask(bad, 0)


@pytest.mark.parametrize("count", [-1, 4])
def test_bad_counts(count):
    with pytest.raises(InputError, match="n_prune"):
        magnitude_mask(np.ones(3), count)


@given(hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(-4, 4, width=16)), st.data())
def test_matches_full_sort_with_stable_ties(w, data):
    n = data.draw(st.integers(0, w.size))
    order = np.argsort(np.abs(w), kind="stable")
    expected = np.ones(w.size, dtype=bool)
    expected[order[:n]] = False
    assert np.array_equal(magnitude_mask(w, n), expected)


def test_global_one_threshold_across_layers():
    layers = [np.array([[5.0, 0.1], [0.2, 6.0]]), np.array([0.3, 7.0, 0.05])]
    masks = global_magnitude_masks(layers, 3)
    assert masks[0].tolist() == [[True, False], [False, True]]  # 0.1 and 0.2 go
    assert masks[1].tolist() == [True, True, False]  # 0.05 goes, 0.3 stays
    with pytest.raises(InputError, match="list"):
        global_magnitude_masks(np.ones(3), 1)
    with pytest.raises(InputError, match="n_prune"):
        global_magnitude_masks(layers, 8)


def test_random_mask_exact_and_seeded():
    mask = random_mask((10, 10), 37, np.random.default_rng(3))
    again = random_mask((10, 10), 37, np.random.default_rng(3))
    assert pruned_count(mask) == 37 and np.array_equal(mask, again)


def test_random_mask_positions_uniform():
    # Each position is pruned with probability 3/10; over 20000 draws the per-position count
    # has sd ~65, so a 6-sd band fails a correct sampler with probability < 1e-7.
    rng = np.random.default_rng(11)
    counts = sum((~random_mask(10, 3, rng)).astype(int) for _ in range(20_000))
    assert np.all(np.abs(counts - 6000) < 6 * np.sqrt(20_000 * 0.3 * 0.7))


def test_compression_ratio_counts_nonzero_weights():
    assert compression_ratio(np.array([[0.0, 1.0], [2.0, 0.0]])) == 0.5
    assert network_compression_ratio([np.array([0.0, 1.0]), np.array([1.0, 1.0, 1.0, 0.0])]) == 4 / 6
    with pytest.raises(InputError, match="binary"):
        kept_count(np.array([0, 2]))


@pytest.mark.parametrize("layout", ["random", "sorted", "reversed", "few_values", "periodic"])
def test_sampled_selection_path_is_exact(monkeypatch, layout):
    # Force the sampled-bracket path on small arrays, including layouts that defeat a
    # strided sample, and compare with a full stable sort.
    import mbp_verify.engine.masks as masks_module

    monkeypatch.setattr(masks_module, "_DIRECT_LIMIT", 64)
    rng = np.random.default_rng(7)
    base = rng.standard_normal(20_000)
    w = {
        "random": base,
        "sorted": np.sort(np.abs(base)),
        "reversed": np.sort(np.abs(base))[::-1].copy(),
        "few_values": np.round(base, 0),
        "periodic": np.tile(np.arange(37.0), 600),
    }[layout]
    for n in (1, 137, w.size // 2, w.size - 1):
        order = np.argsort(np.abs(w), kind="stable")
        expected = np.ones(w.size, dtype=bool)
        expected[order[:n]] = False
        assert np.array_equal(magnitude_mask(w, n), expected)
