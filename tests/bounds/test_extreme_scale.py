"""Scale-safe arithmetic of the bounds: directed conversions, power-of-two scaling, unavailable
methods, +inf uppers, the CLI on the reported reproducers, and negative controls for the exact check."""

import dataclasses
import json
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy

from mbp_verify.bounds import ErrorBracket, bracket_sup_error, certified_spectral_norm, layer_constants, replay_error
from mbp_verify.bounds.rounding import float_down, float_up, ldexp_up
from mbp_verify.bounds.scaling import scale_pair
from mbp_verify.cli import main
from mbp_verify.engine import Network, apply_masks, prune_network, sample_network, save_network
from mbp_verify.symbolic import propagation_bound
from properties.bounds.extreme import exact_square_error, violations
from properties.bounds.test_extreme_scale import REPRODUCERS

TINY = 2.0**-1074
HUGE = float(np.finfo(np.float64).max)


@pytest.mark.parametrize(
    "value",
    [
        Fraction(1, 3),
        Fraction(3, 2) * Fraction(TINY),
        Fraction(TINY) / 3,
        Fraction(HUGE) * 2,
        -Fraction(HUGE) * 2,
        Fraction(-7, 3) * Fraction(TINY),
        Fraction(0),
    ],
)
def test_directed_conversions_enclose_the_rational(value):
    up, down = float_up(value), float_down(value)
    assert down <= up
    assert up == math.inf or Fraction(up) >= value
    assert down == -math.inf or Fraction(down) <= value
    if math.isfinite(up) and math.isfinite(down):
        assert up == down or np.nextafter(down, math.inf) == up  # adjacent floats: as tight as possible


def test_ldexp_up_rounds_subnormals_upwards_and_overflows_to_inf():
    assert ldexp_up(1.5, -1074) == 2 * TINY  # 1.5 * 2^-1074 rounds to nearest-even 2^-1073 and up, never to 2^-1074
    assert ldexp_up(1.25, -1074) == 2 * TINY
    assert ldexp_up(1.0, 1024) == math.inf and ldexp_up(0.75, 1024) == 0.75 * 2.0**1023 * 2


def test_scaling_is_exact_or_reports_its_residual():
    exact = prune_network(sample_network([3, 4, 2], 0), 0.3)
    scaled, scaling = scale_pair(exact)
    assert scaling.exact and scaling.residuals == (0.0, 0.0)
    for w, v, s in zip(exact.original.weights, scaled.original.weights, scaling.shifts):
        assert np.array_equal(np.ldexp(v, s), w) and 0.5 <= np.max(np.abs(v)) < 1
    x = np.array([0.3, -0.2, 0.9])  # relu: f - F scales by exactly 2^S
    assert np.array_equal(
        np.ldexp(scaled.pruned.forward(x) - scaled.original.forward(x), scaling.total),
        exact.pruned.forward(x) - exact.original.forward(x),
    )
    wide = Network([np.array([[2.0**1000, 3 * TINY], [1.0, 5 * TINY]])])  # spans more than float64's range
    pair = apply_masks(wide, [np.array([[1, 0], [1, 1]])])
    _, scaling = scale_pair(pair)
    assert not scaling.exact and scaling.inexact_layers() == [1] and scaling.residuals[0] >= math.sqrt(2) * TINY


def test_spectral_norm_is_sound_where_the_scaling_rounds_and_in_the_subnormal_range():
    for row in ([2.0**1000, 3 * TINY, TINY], [3 * TINY, TINY, 0.0], [2.0**-1070, 2.0**-1073, TINY]):
        bound = certified_spectral_norm(np.array([row]))
        square = sum(Fraction(v) ** 2 for v in row)
        assert Fraction(bound.upper) ** 2 >= square and bound.exact_upper**2 >= square
    assert certified_spectral_norm(np.full((3, 3), HUGE)).upper == math.inf  # 3 * HUGE: no finite bound


def test_no_finite_bound_gives_inf_and_unknown():
    build, _ = REPRODUCERS["softsign_1e100_nan"]
    with np.errstate(all="ignore"):
        result = bracket_sup_error(build(), rng=0, effort="fast")
    assert result.upper == math.inf and result.upper_method == "none" and not result.upper_bounds
    assert set(result.unavailable) == {"layerwise", "averaged", "ellipsoid"}
    assert all("exceeds the float64 range" in reason for reason in result.unavailable.values())
    assert result.decide(1e308) == "unknown" and result.ratio == math.inf
    document = result.to_dict()
    assert document["upper"] == math.inf and document["ratio"] is None and document["unavailable"] == result.unavailable


def test_inexact_scaling_makes_the_averaged_bound_unavailable_but_layerwise_stays_sound():
    wide = Network([np.array([[2.0**1000, 3 * TINY], [1.0, 5 * TINY]]), np.array([[1.0, -1.0]])])
    pair = apply_masks(wide, [np.array([[1, 0], [1, 1]]), np.ones((1, 2))])
    result = bracket_sup_error(pair, rng=0, effort="fast")
    assert "averaged" in result.unavailable and "rounded" in result.unavailable["averaged"]
    assert result.upper_bounds["layerwise"] > 0 and not violations(pair, result)


def _mask_file(path, pair):
    np.savez(path, **{f"M{l + 1}": m.astype(np.int8) for l, m in enumerate(pair.masks)})
    return path


@pytest.mark.parametrize(
    "name, eps, status",
    [
        ("layerwise_underflow_1e-100_1e100", "1e-310", 1),
        ("scalar_underflow_2^-537_2^1000", "6e-23", 1),
        ("softsign_1e100_nan", "1e300", 1),
        ("hardtanh_2^280_nan", None, 0),
    ],
)
def test_cli_on_the_reproducers(name, eps, status, tmp_path, capsys):
    with np.errstate(all="ignore"):
        pair = REPRODUCERS[name][0]()
    network = tmp_path / "net.npz"
    save_network(network, pair.original)
    out = tmp_path / "bound.json"
    args = [
        "bound",
        str(network),
        "--mask-file",
        str(_mask_file(tmp_path / "m.npz", pair)),
        "--effort",
        "fast",
        "--activation",
        str(pair.original.activations[0]),
        "--json",
        str(out),
    ]
    with np.errstate(all="ignore"):
        assert main(args + (["--eps", eps] if eps else [])) == status
    text = out.read_text()
    assert "NaN" not in text and "Infinity" not in text
    document = json.loads(text)
    if document["upper_method"] == "none":
        assert "+inf" in capsys.readouterr().out and document["upper"] in (None, "inf")
    else:
        exact = exact_square_error(pair, np.array(document["witness"]))
        assert Fraction(document["upper"]) ** 2 >= exact


def _float_layerwise(pair) -> float:
    """The previous evaluation: certified norms, but the polynomial in plain floats (products underflow)."""
    norms = [
        [certified_spectral_norm(w).upper for w in ws]
        for ws in (pair.original.weights, pair.pruned.weights, pair.error_matrices())
    ]
    closed = propagation_bound(pair.original.depth)  # its own evaluate() is exact and rounded up now
    in_floats = sympy.lambdify([s for group in closed.symbols for s in group], closed.expression, modules="math")
    lipschitz = [c.lipschitz for c in layer_constants(pair.original)][: pair.original.depth - 1]
    return in_floats(*norms[0], *norms[1], *norms[2], *lipschitz, *[0.0] * (pair.original.depth - 1))


@pytest.mark.parametrize("name", ["layerwise_underflow_1e-100_1e100", "scalar_underflow_2^-537_2^1000"])
def test_exact_check_catches_the_float_layerwise_bound(name):
    pair = REPRODUCERS[name][0]()
    result = bracket_sup_error(pair, rng=0, effort="fast")
    assert not violations(pair, result)
    unsound = _float_layerwise(pair)
    forged = dataclasses.replace(result, upper=unsound, upper_bounds={"layerwise": unsound}, upper_method="layerwise")
    assert unsound < result.upper
    assert any("exact ||f - F||" in v for v in violations(pair, forged))


def test_exact_check_catches_a_margin_without_underflow_terms():
    pair = REPRODUCERS["lower_margin_underflow_1e-100"][0]()
    result = bracket_sup_error(pair, rng=0, effort="fast")
    assert not violations(pair, result)
    witness = result.witness
    naive = float(
        np.sqrt(np.sum((pair.pruned.forward(witness) - pair.original.forward(witness)) ** 2))
    )  # squares underflow
    forged = dataclasses.replace(result, lower=naive, lower_margin=1e-215)
    assert naive == 0.0 and any("lower_margin" in v for v in violations(pair, forged))
    assert isinstance(result, ErrorBracket) and result.lower > 0


def test_replay_of_a_tiny_difference_is_not_zero():
    pair = REPRODUCERS["lower_margin_underflow_1e-100"][0]()
    x = np.array([0.6, -0.8])  # ||f(x) - F(x)|| ~ 2.4e-201: its square underflows
    replay = replay_error(pair, x, [c.lipschitz for c in layer_constants(pair.original)])
    exact = exact_square_error(pair, x)
    assert replay.value > 0 and abs(Fraction(replay.value) ** 2 - exact) <= (
        2 * Fraction(replay.value) + Fraction(replay.margin)
    ) * Fraction(replay.margin)


def test_failed_certificates_make_methods_unavailable(monkeypatch):
    from mbp_verify.bounds import segments, spectral

    def fail(*args, **kwargs):
        raise ArithmeticError("the spectral-norm certificate did not succeed")

    monkeypatch.setattr(spectral, "certify_gram", fail)
    monkeypatch.setattr(segments, "certify_gram", fail)
    pair = prune_network(sample_network([4, 6, 3], 0), 0.3)
    result = bracket_sup_error(pair, rng=0, effort="fast")
    assert result.upper == math.inf and not result.upper_bounds
    assert set(result.unavailable) == {"layerwise", "averaged", "ellipsoid"}
    assert all("did not succeed" in reason for reason in result.unavailable.values())
    assert result.lower > 0 and result.decide(result.lower * 2) == "unknown"
