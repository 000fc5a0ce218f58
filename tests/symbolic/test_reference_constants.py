"""Every reported activation constant against an independent 50-digit reference (`reference`).

Checked: the derivation's K, slope range and sigma(0) (what `mbp-verify lipschitz` prints and
writes), the bounds' `LayerConstants`, and every cell and many queries of the certified slope
tables (sigma' and chord slope). An upper end must be >= the true value and a lower end <=,
compared exactly (floats as mpf); K must also be tight (1e-9 relative). The default run
checks a representative set; `slow` checks every registered activation and more queries.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from mpmath import mpf

from mbp_verify.bounds.constants import layer_constants
from mbp_verify.bounds.slope_table import slope_table
from mbp_verify.engine import Network
from mbp_verify.seeding import rng_for
from mbp_verify.symbolic import derive_lipschitz, registered_names

from .reference import DPS, REFERENCE_NAMES, reference

FAR_TOLERANCE = mpf(10) ** -90  # the reference stands in sigma'(+-1e50) for x beyond 1e50 (see reference._far)
TIGHT = 1e-9
# name, spec, the parameter as the derivation reads it (the exact decimal), as the network applies it (float)
CASES = [(name, name, None) for name in REFERENCE_NAMES] + [
    ("leaky_relu", "leaky_relu(a=0.2)", "0.2"),
    ("leaky_relu", "leaky_relu(a=-0.3)", "-0.3"),
    ("elu", "elu(a=2.2)", "2.2"),
    ("celu", "celu(a=2.2)", "2.2"),
    ("softplus", "softplus(beta=0.3)", "0.3"),
    # sigma(0) = log 2 / beta was taken for beta = 2.9191 exactly and rounded to nearest, one ulp up:
    # 1.7e-18 below log 2 / float(2.9191), the network's
    ("softplus", "softplus(beta=2.9191)", "2.9191"),
]
FAST = {
    "sigmoid",
    "gelu",
    "selu",
    "hardsigmoid",
    "hardswish",
    "leaky_relu(a=0.2)",
    "softplus(beta=2.9191)",
    "celu(a=2.2)",
}
FAST_TABLES = {"gelu", "hardswish"}  # a table costs about 0.5 s to build


def _cases(fast: bool):
    return [pytest.param(*case, id=case[1]) for case in CASES if (case[1] in FAST) == fast]


def _references(name: str, parameter: "str | None"):
    """The function the derivation states (decimal parameter) and the one the network computes (its float)."""
    if parameter is None:
        return [reference(name)]
    return [reference(name, parameter), reference(name, mpmath.nstr(mpf(float(parameter)), 40))]


def _layer(spec: str):
    network = Network([np.ones((1, 1)), np.ones((1, 1))], spec)
    constants = layer_constants(network)[0]
    return constants, slope_table(network.activations[0], constants)


def _encloses(low: float, high: float, true: tuple, tolerance=0) -> bool:
    with mpmath.workdps(DPS):  # at mpmath's default 53 bits, true[0] + 0 would round true[0]
        return mpf(low) <= true[0] + tolerance and mpf(high) >= true[1] - tolerance


def _check_scalars(name: str, spec: str, parameter: "str | None") -> None:
    derivation = derive_lipschitz(spec)
    constants, _ = _layer(spec)
    with mpmath.workdps(DPS):  # the project ran at its own precision; the comparisons run at 50 digits
        _compare_scalars(name, parameter, derivation, constants)


def _compare_scalars(name: str, parameter: "str | None", derivation, constants) -> None:
    true = reference(name, parameter)
    assert derivation.kind == "exact"
    assert mpf(derivation.lipschitz) >= true.lipschitz, (derivation.lipschitz, true.lipschitz)
    assert mpf(derivation.lipschitz) <= true.lipschitz * (1 + TIGHT)
    assert _encloses(derivation.slope_min, derivation.slope_max, (true.slope_inf, true.slope_sup))
    assert derivation.slope_max <= float(true.slope_sup) + TIGHT * max(1.0, abs(float(true.slope_sup)))
    assert derivation.slope_min >= float(true.slope_inf) - TIGHT * max(1.0, abs(float(true.slope_inf)))
    assert abs(mpf(derivation.sigma0) - true.sigma0) <= 2.0**-52 * abs(true.sigma0)
    for true in _references(name, parameter):
        assert mpf(constants.lipschitz) >= true.lipschitz
        assert _encloses(constants.slope_min, constants.slope_max, (true.slope_inf, true.slope_sup))
        assert mpf(constants.sigma0) >= abs(true.sigma0)


def _check_cells(name: str, spec: str, parameter: "str | None") -> None:
    _, table = _layer(spec)
    ends = [-math.inf, *table.breakpoints.tolist(), math.inf]
    for true in _references(name, parameter):
        for k, (a, b) in enumerate(zip(ends, ends[1:])):
            tolerance = FAR_TOLERANCE if max(abs(a), abs(b)) > 1e50 else 0
            derivative = (table.derivative.lows[k], table.derivative.highs[k])
            assert _encloses(*derivative, true.derivative_range(a, b), tolerance), (k, a, b, derivative)
            chord = (table.chord.lows[k], table.chord.highs[k])
            assert _encloses(*chord, true.chord_range(a, b), tolerance), (k, a, b, chord)


def _adversarial(true) -> list[tuple[float, float]]:
    """Huge, tiny and subnormal ends, intervals across 0 and single points at the extrema of sigma'."""
    tiny = 5e-324
    queries = [
        (1e300, 1e300),
        (-1e300, -1e299),
        (1e299, math.inf),
        (-math.inf, -1e300),
        (-math.inf, math.inf),
        (1e-300, 1e-300),
        (-1e-300, 1e-300),
        (tiny, tiny),
        (-tiny, tiny),
        (-tiny, -tiny),
        (-1e-300, 0.0),
        (0.0, 1e-300),
        (-1.0, 1.0),
        (-0.0625, 0.0625),
        (2.0**20, 2.0**20),
        (8.0, 8.0),
        (1 / 16, 1 / 16),
        (-(2.0**20), 1e300),
        (3.0, 3.0),
        (-3.0, -3.0),
        (6.0, 6.0),
        (1.0, 1.0),
        (-1.0, -1.0),
    ]
    for _, x in true.slope_critical:
        x = float(x)
        queries += [(x, x), (math.nextafter(x, -math.inf), math.nextafter(x, math.inf)), (x - 1e-3, x + 1e-3)]
    for x in true.chord_critical:
        queries.append((float(x), float(x)))
    return queries


def _random(count: int, trial: int) -> list[tuple[float, float]]:
    rng = rng_for(20210701, "tests.symbolic.reference_slope_tables", trial)
    centres = np.where(
        rng.random(count) < 0.5,
        rng.uniform(-12, 12, count),
        np.sign(rng.standard_normal(count)) * 10.0 ** rng.uniform(-300, 300, count),
    )
    widths = 10.0 ** rng.uniform(-18, 3, count) * (rng.random(count) < 0.9)
    return [(float(c - w * u), float(c + w * (1 - u))) for c, w, u in zip(centres, widths, rng.random(count))]


def _check_queries(name: str, spec: str, parameter: "str | None", count: int, trial: int) -> None:
    _, table = _layer(spec)
    for true in _references(name, parameter):
        queries = _adversarial(true) + _random(count, trial)
        lo, hi = np.array([q[0] for q in queries]), np.array([q[1] for q in queries])
        d_low, d_high = table.query(lo, hi)
        c_low, c_high = table.chord_query(lo, hi)
        for i, (a, b) in enumerate(queries):
            tolerance = FAR_TOLERANCE if max(abs(a), abs(b)) > 1e50 else 0
            if not (a == b and a in true.kinks):  # a kink alone holds no two points: no difference quotient
                assert _encloses(d_low[i], d_high[i], true.derivative_range(a, b), tolerance), (
                    a,
                    b,
                    d_low[i],
                    d_high[i],
                )
            if a == b == 0:
                continue  # q(0) is not defined: [0, 0] holds no x != 0
            assert _encloses(c_low[i], c_high[i], true.chord_range(a, b), tolerance), (a, b, c_low[i], c_high[i])


@pytest.mark.parametrize("name, spec, parameter", _cases(fast=True))
def test_constants_and_slope_tables_enclose_the_reference(name, spec, parameter):
    _check_scalars(name, spec, parameter)
    if spec in FAST_TABLES:
        _check_queries(name, spec, parameter, count=60, trial=0)


@pytest.mark.slow
@pytest.mark.parametrize("name, spec, parameter", _cases(fast=True) + _cases(fast=False))
def test_every_activation_and_every_table_cell_encloses_the_reference(name, spec, parameter):
    _check_scalars(name, spec, parameter)
    _check_cells(name, spec, parameter)
    _check_queries(name, spec, parameter, count=400, trial=1)


def test_the_reference_finds_the_known_constants():
    """The reference itself, against closed forms: gelu's sup sigma' is Phi(sqrt 2) + sqrt(2) phi(sqrt 2)
    (sigma'' = phi(x)(2 - x^2)); silu'' = s(1 - s)(2 + x(1 - 2s)) vanishes where
    exp(-x) = (x - 2)/(x + 2); sigmoid's is 1/4; selu's lambda alpha."""
    with mpmath.workdps(50):
        root2 = mpmath.sqrt(2)
        gelu = mpmath.ncdf(root2) + root2 * mpmath.npdf(root2)
        assert abs(reference("gelu").slope_sup - gelu) < mpf(10) ** -40
        assert mpmath.nstr(gelu, 12) == "1.12890414519"  # not 1.1289470...
        ((_, x),) = [c for c in reference("silu").slope_critical if c[1] > 0]
        assert abs(mpmath.exp(-x) - (x - 2) / (x + 2)) < mpf(10) ** -30
        assert abs(reference("sigmoid").slope_sup - mpf(1) / 4) < mpf(10) ** -45
        lam, alpha = mpf("1.0507009873554804934193349852946"), mpf("1.6732632423543772848170429916717")
        assert reference("selu").lipschitz == lam * alpha


# ---- pinned counterexamples: each failed before the interval ends were read exactly ----


@pytest.mark.parametrize(
    "spec, true_k",
    [
        ("hardsigmoid", Fraction(1, 6)),  # was 0.16666666666666666 < 1/6
        ("selu", Fraction("1.0507009873554804934193349852946") * Fraction("1.6732632423543772848170429916717")),
        ("hardswish", Fraction(3, 2)),
    ],
)
def test_registered_constant_is_never_below_the_exact_value(spec, true_k):
    derivation = derive_lipschitz(spec)
    assert Fraction(derivation.lipschitz) >= true_k
    assert Fraction(math.nextafter(derivation.lipschitz, 0)) < true_k  # and the smallest such float
    assert Fraction(derivation.slope_max) >= true_k


def test_a_rational_slope_is_enclosed_from_below():
    derivation = derive_lipschitz("leaky_relu(a=0.2)")  # the derivation's function has slope 1/5 on x < 0
    assert Fraction(derivation.slope_min) <= Fraction(1, 5)  # was 0.2 > 1/5


@pytest.mark.parametrize(
    "expr, true_k",
    [
        ("x/3", Fraction(1, 3)),  # was 0.3333333333333333 < 1/3
        ("Piecewise((0, x<0), (x**2/2, x<1/3), (1/18, True))", Fraction(1, 3)),  # sup at the kink 1/3
        ("E*x", None),
        ("pi*x", None),
    ],
)
def test_an_expression_constant_is_never_below_the_exact_value(expr, true_k):
    derivation = derive_lipschitz("custom", expr=expr)
    if true_k is None:  # an irrational slope: compare at 50 digits
        with mpmath.workdps(50):
            true = {"E*x": mpmath.e, "pi*x": mpmath.pi}[expr]
            assert mpf(derivation.lipschitz) >= true and mpf(derivation.slope_min) <= true
    else:
        assert Fraction(derivation.lipschitz) >= true_k


def test_irrational_constants_are_enclosed():
    """sqrt(2), log(2), exp(-1) as interval constants: their ends were both the nearest float."""
    import sympy as sp

    from mbp_verify.symbolic.intervals import Box, compile_enclosure, interval, lower, upper

    for constant in (sp.sqrt(2), sp.log(2), sp.exp(-1), sp.sqrt(2 / sp.pi)):
        value = compile_enclosure(constant)(Box(interval(0)))
        with mpmath.workdps(60):
            true = mpmath.mpf(sp.N(constant, 60)._mpf_)
            assert lower(value) <= true <= upper(value), constant


def test_the_answer_does_not_depend_on_the_callers_mpmath_precision():
    from mbp_verify.symbolic.lipschitz import derive_expression
    from mbp_verify.symbolic.registry import symbolic_activation

    _, expr = symbolic_activation("hardsigmoid")
    first = derive_expression("hardsigmoid", expr, refine=False)
    with mpmath.workdps(50):
        second = derive_expression("hardsigmoid", expr, refine=False)
    assert (first.lipschitz, first.slope_min, first.slope_max) == (second.lipschitz, second.slope_min, second.slope_max)


def test_registry_covers_every_reference():
    assert set(REFERENCE_NAMES) == set(registered_names())


def test_softmax_constant_is_the_largest_jacobian_norm():
    """softmax's K = 1/2 against its Jacobian diag(p) - p p^T at 50 digits: never above 1/2 at
    8 random logits in each dimension 2 to 6, and 1/2 exactly at p = (1/2, 1/2, 0, ...)."""
    assert derive_lipschitz("softmax").lipschitz == 0.5
    rng = rng_for(20210701, "tests.symbolic.softmax_jacobian", 0)
    with mpmath.workdps(50):
        largest = mpf(0)
        for n in range(2, 7):
            for logits in rng.normal(scale=3.0, size=(8, n)):
                e = [mpmath.exp(mpf(float(v))) for v in logits]
                p = [v / sum(e) for v in e]
                jacobian = mpmath.matrix([[(p[i] if i == j else 0) - p[i] * p[j] for j in range(n)] for i in range(n)])
                largest = max(largest, max(abs(v) for v in mpmath.eigsy(jacobian)[0]))
        assert largest <= mpf(1) / 2
        half = mpmath.matrix([[mpf(1) / 4, -mpf(1) / 4], [-mpf(1) / 4, mpf(1) / 4]])
        assert abs(max(mpmath.eigsy(half)[0]) - mpf(1) / 2) < mpf(10) ** -45


@pytest.mark.parametrize(
    "spec, at_plus, at_minus",
    [("sigmoid", 0, 0), ("softplus", 1, 0), ("silu", 1, 0), ("gelu_tanh", 1, 0), ("mish", 1, 0)],
)
def test_ascent_derivative_is_finite_far_out(spec, at_plus, at_minus):
    """The lower-bound search's sigma' (`symbolic.derivative`) was NaN beyond |x| ~ 710 (inf / inf
    in e^-x / (1 + e^-x)^2); it must be the limit there, to 1e-290."""
    from mbp_verify.symbolic.derivative import activation_derivative

    x = np.array([710.0, 1e5, 1e300, -710.0, -1e5, -1e300])
    values = activation_derivative(spec)(x)
    limits = np.array([at_plus] * 3 + [at_minus] * 3, dtype=float)
    assert np.all(np.abs(values - limits) <= 1e-290 + 1e-15 * np.abs(limits)), values


def _check_ascent_derivative(name: str) -> None:
    from mbp_verify.symbolic.derivative import activation_derivative

    true = reference(name)
    x = np.concatenate([np.linspace(-50, 50, 401), [1e300, -1e300, 1e-300, -1e-300, 5e-324, 709.5, -709.5, 1e5, -1e5]])
    values = activation_derivative(name)(x)
    for point, value in zip(x.tolist(), values.tolist()):
        if point in true.kinks:
            continue  # the right-hand piece's value is documented there
        exact = true.derivative_range(point, point)[1]
        with mpmath.workdps(DPS):
            assert abs(mpf(value) - exact) <= 1e-12 * (1 + abs(exact)), (point, value)


@pytest.mark.slow
@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_ascent_derivative_matches_the_reference(name):
    _check_ascent_derivative(name)
