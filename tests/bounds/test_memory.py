"""The bracket's bounded memory changes no number.

The bracket keeps no scaled copy of the pair (`scaling.ScaledLayers` computes a layer when read),
no Gram matrix (each reader computes its own), and no chain product beyond the segment at hand;
Cholesky works in the Gram's own memory. Each of these is checked here against the path that
stores (the stored scaled pair, a Gram computed whole, a copy for Cholesky), bit for bit, and the
bracket against values computed before any of it existed.
"""

import tracemalloc

import numpy as np
import pytest
import scipy.linalg.lapack

from mbp_verify.bounds import bracket, bracket_sup_error, spectral
from mbp_verify.bounds import replay as replay_module
from mbp_verify.bounds.ascent import maximise_error
from mbp_verify.bounds.averaged import averaged_bound
from mbp_verify.bounds.constants import layer_constants
from mbp_verify.bounds.layerwise import layer_norms
from mbp_verify.bounds.parts import pair_parts
from mbp_verify.bounds.replay import replay_error
from mbp_verify.bounds.scaling import pair_scaling, scale_pair, scaled_pair
from mbp_verify.bounds.segments import _add_error_gram, _ata, _gram_into
from mbp_verify.engine import Network, prune_network, sample_network
from mbp_verify.seeding import rng_for
from mbp_verify.theorem.trial import TrialSpec, prune_trial_network, sample_trial_network


def _bits(array) -> bytes:
    return np.ascontiguousarray(array, dtype=np.float64).tobytes()


def _pair(widths, seed, activation="relu", alpha=0.2):
    return prune_network(sample_network(widths, seed, activation=activation), alpha)


def _trial_pair(spec, index):
    rng = rng_for(7, spec.network_id, index)
    return prune_trial_network(spec, sample_trial_network(spec, rng), rng)


def _extreme_pair():
    """Weights far from 1, subnormal entries (an inexact scaling) and an exact zero."""
    rng = np.random.default_rng(4)
    weights = [rng.uniform(-1, 1, (30, 20)) * 2.0**-700, rng.uniform(-1, 1, (30, 30)), rng.uniform(-1, 1, (3, 30))]
    weights[1][0, :4] = [2.0**-1074, 3 * 2.0**-1074, 2.0**-1060, 0.0]
    weights[2] *= 2.0**600
    return prune_network(Network(weights, "tanh"), 0.3)


PAIRS = {
    "relu": lambda: _pair((40, 50, 50, 6), 1),
    "tanh-deep": lambda: _pair((30, 40, 40, 40, 5), 2, "tanh"),
    "wide-inside": lambda: _pair((170, 180, 170, 8), 3),  # Lanczos, not eigh, for every Gram
    # sigma(0) != 0 (the offsets' tails): a chain product stored in another memory layout moves
    # this pair's averaged bound by one ulp
    "softplus-deep": lambda: _trial_pair(TrialSpec(width=48, depth=4, activation="softplus", alpha=0.2, eps=0.2), 14),
    "extreme": _extreme_pair,
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_scaled_layers_are_the_stored_scaled_pair(name):
    pair = PAIRS[name]()
    stored, scaling = scale_pair(pair)
    lazy = scaled_pair(pair, pair_scaling(pair))
    assert pair_scaling(pair) == scaling
    assert lazy.original.widths == stored.original.widths and lazy.original.depth == stored.original.depth
    for mine, theirs in ((lazy.original, stored.original), (lazy.pruned, stored.pruned)):
        for layer in range(pair.original.depth):
            assert _bits(mine.weights[layer]) == _bits(theirs.weights[layer])
        assert [_bits(w) for w in mine.weights[1:]] == [_bits(w) for w in theirs.weights[1:]]  # slices too


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_bounds_on_the_lazy_pair_equal_those_on_the_stored_pair(name):
    """Layer norms, the averaged bound (several factors: products recomputed per factor), the
    search and the replay give the same bits whether the scaled layers are stored or computed."""
    pair = PAIRS[name]()
    stored, scaling = scale_pair(pair)
    lazy = scaled_pair(pair, scaling)
    constants = layer_constants(pair.original)
    results = []
    for target in (stored, lazy):
        rng = np.random.default_rng(11)
        parts = pair_parts(target, rng)
        norms = layer_norms(parts, rng)
        bound = averaged_bound(parts, constants, rng, (0.85, 1.0, 1.15), [(0.0, 1.0)] * len(constants))
        starts = rng.standard_normal((4, pair.original.widths[0]))
        search = maximise_error(target, starts, iterations=15, on_sphere=False)
        replay = replay_error(target, search.best_input / 2, [c.lipschitz for c in constants], norms=norms.uppers()[:2])
        results.append(
            (
                [(b.upper, b.estimate, _bits(b.right_vector)) for b in (*norms.full, *norms.pruned, *norms.error)],
                (bound.value, bound.scalings, bound.segment_norms, bound.tails),
                [_bits(v) for v in bound.input_directions],
                (_bits(search.best_input), search.best_value, search.iterations),
                replay,
            )
        )
    assert results[0] == results[1]


def _gram(rng, n, layout, symmetric):
    a = rng.standard_normal((n + 3, n))
    gram = a.T @ a
    if not symmetric:  # the certificate reads the lower triangle only: an upper one that differs must not matter
        gram[np.triu_indices(n, 1)] += rng.uniform(-1e-3, 1e-3, n * (n - 1) // 2)
    return np.array(gram, order=layout)


@pytest.mark.parametrize("n", [7, 150, 200])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_cholesky_in_place_sees_what_a_copy_saw(monkeypatch, n, layout, symmetric):
    """Every attempt factors the lower triangle of fl(tau I - G) exactly as the negated copy
    -G with diagonal tau - G_ii gives it, and the in-place certificate equals the copying one
    (which leaves G untouched)."""
    taus, seen = [], []
    real_certify, real_potrf = spectral._certify, scipy.linalg.lapack.dpotrf

    def recording_certify(work, gram_diagonal, tau):
        taus.append(tau)
        return real_certify(work, gram_diagonal, tau)

    def recording_potrf(a, **kwargs):
        seen.append((np.tril(a, -1).copy(), np.diag(a).copy()))
        return real_potrf(a, **kwargs)

    monkeypatch.setattr(spectral, "_certify", recording_certify)
    monkeypatch.setattr(spectral.scipy.linalg.lapack, "dpotrf", recording_potrf)
    gram = _gram(np.random.default_rng(n), n, layout, symmetric)
    kept = gram.copy()
    copied = spectral.certify_gram(gram, 1e-9, rng=np.random.default_rng(0))
    assert _bits(gram) == _bits(kept)
    in_place = spectral.certify_gram(gram, 1e-9, rng=np.random.default_rng(0), overwrite=True)
    assert (copied[0], copied[1], copied[3]) == (in_place[0], in_place[1], in_place[3])
    assert _bits(copied[2]) == _bits(in_place[2])
    assert len(seen) == len(taus) == 2 * copied[3]
    for tau, (lower, diagonal) in zip(taus, seen):
        shifted = np.negative(kept, order="F")
        shifted[np.diag_indices(n)] = tau - np.diag(kept)
        assert _bits(lower) == _bits(np.tril(shifted, -1)) and _bits(diagonal) == _bits(np.diag(shifted))


@pytest.mark.parametrize("side", ["right", "left"])
def test_gram_bands_equal_the_whole_product(side):
    pair = PAIRS["wide-inside"]()
    parts = pair_parts(pair, np.random.default_rng(0))
    for layer in range(parts.depth):
        whole = parts.gram("error", layer, side)
        block = np.array(np.random.default_rng(layer).standard_normal(whole.shape), order="F")
        expected = block + 0.37 * whole
        _add_error_gram(block, parts, layer, side, 0.37)
        assert _bits(block) == _bits(expected)
    w = parts.full[1]
    gram = np.empty((2 * w.shape[1], 2 * w.shape[1]), order="F")
    _gram_into(gram[: w.shape[1], : w.shape[1]], w)
    assert _bits(gram[: w.shape[1], : w.shape[1]]) == _bits(_ata(w))


# Brackets computed (rng 5, effort "default") by the implementation before this memory work
# (commit 3edb064), which stored the scaled pair, every Gram matrix and every chain product, and
# copied each Gram for Cholesky: a second, independent path to the same numbers. Floats as hex.
# tanh-deep's averaged and softplus-deep's layerwise, averaged and upper bounds are 1-2 ulps
# higher than that commit's: the slope tables' interval ends are now read exactly (they were
# rounded to nearest at 53 bits, which could place them inside the range they bound). The ellipsoid
# bounds differ in the last 11-15 bits (relative <= 5e-12): the chain products use that the
# ellipsoid's factor is triangular (the same inner products, summed in another order), and the
# factor's residual is bounded as it is computed, block by block (`ellipsoid._lower_inverse`).
# The lower ends and their margins are those of the raced witness search (`ascent`, race=True):
# another witness, 1.8 % (relu, wide-inside) and 1e-8-6e-8 relative (tanh-deep, softplus-deep)
# higher. The averaged bounds (softplus-deep's upper end) moved by -0.13 % .. +0.4 %: their scalings
# beta_l now come from power-iteration estimates of ||W_l||, ||E_l|| that every path computes
# alike (`PairParts.estimate`), no longer from the Lanczos estimates of the certificates, which
# the bracket skips where the layerwise bound cannot win. Each value is certified as before.
BEFORE = {
    "relu": {
        "layerwise": "0x1.4d0c7be58414fp-2",
        "averaged": "0x1.41709df3d8271p-3",
        "ellipsoid": "0x1.f211dbd06e6c1p-4",
        "lower": "0x1.1e15fb3937ccbp-5",
        "upper": "0x1.f211dbd06e6c1p-4",
        "margin": "0x1.3f6cece7b969fp-57",
    },
    "tanh-deep": {
        "layerwise": "0x1.22c9fdfc81855p-1",
        "averaged": "0x1.a27ae7eb0dee4p-4",
        "averaged_local": "0x1.4a3313792cfcdp-4",
        "ellipsoid": "0x1.2e3e9c2aa1918p-3",
        "lower": "0x1.81eb282ac78b4p-5",
        "upper": "0x1.4a3313792cfcdp-4",
        "margin": "0x1.1c7f544c66d0bp-44",
    },
    "softplus-deep": {
        "layerwise": "0x1.dcf4cbed00152p+1",
        "averaged": "0x1.ee2b24cc37a1cp-1",
        "lower": "0x1.18411a2185601p-2",
        "upper": "0x1.ee2b24cc37a1cp-1",
        "margin": "0x1.9c4a12a800880p-43",
    },
    "wide-inside": {
        "layerwise": "0x1.5c5957cefcc19p-3",
        "averaged": "0x1.541cb234c7f61p-4",
        "ellipsoid": "0x1.0bad2c8697fc2p-4",
        "lower": "0x1.ef1e3f99f1631p-7",
        "upper": "0x1.0bad2c8697fc2p-4",
        "margin": "0x1.06eed5117b237p-57",
    },
}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_bracket_numbers_are_those_before(monkeypatch, name):
    # Every bound certified, as then (the averaged bound is now skipped where it cannot win), and
    # smooth activations replayed by float64 evaluation, as then (now by mpmath at 120 bits).
    monkeypatch.setattr(bracket, "_ESTIMATE_SLACK", 0)
    monkeypatch.setattr(replay_module, "_accurate_functions", lambda spec: None)
    # Bit for bit only at a fixed BLAS thread count: a threaded reduction (a dot product, a
    # triangular multiply) splits its sums otherwise. One thread, as in xdist workers and benchmarks.
    threadpoolctl = pytest.importorskip("threadpoolctl")  # with scikit-learn, in the `test` extra
    with threadpoolctl.threadpool_limits(1):
        result = bracket_sup_error(PAIRS[name](), rng=5, effort="default")
    got = {k: float(v).hex() for k, v in result.upper_bounds.items()}
    got.update(lower=result.lower.hex(), upper=result.upper.hex(), margin=result.lower_margin.hex())
    assert got == BEFORE[name]


@pytest.mark.parametrize("ellipsoid, limit", [(True, 22.0), (False, 8.5)])
def test_a_bracket_keeps_a_few_d2_beyond_its_pair(monkeypatch, ellipsoid, limit):
    """Traced peak of one bracket (caches warmed) at d = 160, depth 3, in d^2 float64 beyond the
    pair: about 7 (the inside segment's 2d x 2d Gram plus one layer, or the replay's pieces of a
    layer), 20 with the ellipsoid bound (its 2d x 2d map, Cholesky factor, inverse and their
    product). Storing the scaled pair, the Gram matrices and the chain products took 30 (39)."""
    if not ellipsoid:
        monkeypatch.setattr(bracket, "_ellipsoid", lambda *args: None)
    d = 160
    pair = _pair((d, d, d, d), 7)
    bracket_sup_error(pair, rng=0, effort="fast")
    tracemalloc.start()
    try:
        bracket_sup_error(pair, rng=0, effort="fast")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= limit * 8 * d * d
