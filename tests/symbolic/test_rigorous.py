"""The rigorous Lipschitz derivation: reproducers of unsound or loose constants, the worker's
time limit, and the CLI contract (exit codes, JSON with non-finite values)."""

import json
import math

import mpmath
import pytest

from mbp_verify.cli import main
from mbp_verify.reports.atomic import json_ready
from mbp_verify.symbolic import derive_lipschitz
from mbp_verify.symbolic.worker import DerivationTimeout

SQRT2 = math.sqrt(2)


def _slope(text, x):
    """sigma'(x) at 50 digits, by mpmath's numerical differentiation of the typed formula."""
    f = lambda t: mpmath.mpmathify(
        eval(
            text,
            {
                "x": t,
                "exp": mpmath.exp,
                "tanh": mpmath.tanh,
                "sin": mpmath.sin,
                "cos": mpmath.cos,
                "log": mpmath.log,
                "Abs": abs,
            },
        )
    )
    with mpmath.workdps(50):
        return float(mpmath.diff(f, mpmath.mpf(x)))


@pytest.mark.parametrize(
    "expr, true_k, where, monotone",
    [
        ("x/(1+exp(-x/30))", 1.0998393201288670, 71.98, False),  # was K = 1 (critical point outside the window)
        ("x/2+(tanh(5000*x-3)-tanh(5000*x-7))/5000", 1.4986608402672, 0.0006, False),  # was 0.5 (two roots in one step)
        ("sin(x)+cos(x)", SQRT2, None, False),  # was 2 (loose limits at infinity)
    ],
)
def test_reproducers_are_sound_and_tight(expr, true_k, where, monotone):
    d = derive_lipschitz("custom", expr=expr)
    assert d.lipschitz >= true_k * (1 - 1e-15) and d.lipschitz == pytest.approx(true_k, rel=1e-9)
    assert d.kind == "exact" and d.monotone is monotone
    assert d.slope_min < 0  # sigma' goes negative: never called monotone
    if where is not None:
        assert abs(_slope(expr, where)) <= d.lipschitz
        assert d.argsup == pytest.approx(where, rel=0.05)


def test_oscillating_log_tail_gives_sqrt2_not_two():
    # sup|sigma'| = sqrt(2), approached as x -> +-oo (sigma' ~ sqrt(2) sin(log x + pi/4)); not 1.4006.
    d = derive_lipschitz("custom", expr="x*sin(log(Abs(x)+1))", time_limit=60)
    assert SQRT2 <= d.lipschitz <= SQRT2 + 1e-9
    assert _slope("x*sin(log(Abs(x)+1))", math.exp(math.pi / 4 + 2 * math.pi * 5) - 1) > SQRT2 - 1e-9


def test_large_power_is_not_lipschitz_and_not_called_non_real():
    d = derive_lipschitz("custom", expr="x**(10**10)")
    assert d.lipschitz is None and d.kind == "not_lipschitz"


def test_infinitely_many_kinks_are_refused_not_a_crash():
    from mbp_verify.errors import InputError

    with pytest.raises(InputError, match="kinks"):
        derive_lipschitz("custom", expr="Abs(sin(x))")


def test_a_runaway_expression_is_stopped_at_the_time_limit():
    with pytest.raises(DerivationTimeout, match="time limit of 3 s"):
        derive_lipschitz("custom", expr="9**9**9*x", time_limit=3)


def test_worker_gives_the_same_answer_as_in_process():
    here, there = derive_lipschitz("gelu"), derive_lipschitz("gelu", time_limit=60)
    assert (there.lipschitz, there.exact, there.kind, there.slope_min) == (
        here.lipschitz,
        here.exact,
        here.kind,
        here.slope_min,
    )


def test_cli_refuses_a_name_and_an_expression_together(capsys):
    assert main(["lipschitz", "relu", "--expr", "x"]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize("limit", ["0", "-1", "inf", "nan"])
def test_cli_refuses_bad_time_limits(limit, capsys):
    assert main(["lipschitz", "relu", "--time-limit", limit]) == 2


def test_cli_timeout_is_exit_two_with_one_line(capsys):
    assert main(["lipschitz", "--expr", "9**9**9*x", "--time-limit", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "time limit of 3 s" in err[0]


def test_cli_softplus_json_with_infinite_argsup(tmp_path):
    out = tmp_path / "sp.json"
    assert main(["lipschitz", "softplus", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["argsup"] == json_ready(math.inf) and data["kind"] == "exact" and data["lipschitz"] == 1.0


@pytest.mark.parametrize(
    "expr, point",
    [
        ("erf(x)", 6),  # erf(6) = 1 - 2.2e-17: one rounding to 53 bits gives exactly 1
        ("erf(x)", -6),
        ("erf(x)", 9),
        ("atan(x)", 1e20),
        ("asinh(x)", 1e-30),
        ("asinh(x)", -3),
    ],
)
def test_monotone_functions_enclose_values_within_an_ulp_of_a_round_number(expr, point):
    """The enclosure of erf/atan/asinh at a point contains the 300-digit value (it was padded at
    mpmath's default 53 bits, so erf(6)'s lower end rounded up to 1, above the true value)."""
    import sympy as sp

    from mbp_verify.symbolic.intervals import Box, compile_enclosure, interval, precision
    from mbp_verify.symbolic.registry import X

    enclosure = compile_enclosure(sp.sympify(expr, locals={"x": X}))
    with precision():
        value = enclosure(Box(interval(mpmath.mpf(point))))
    with mpmath.workprec(1000):
        exact = getattr(mpmath, expr.split("(")[0])(mpmath.mpf(point))
        assert mpmath.mpf(value.a) <= exact <= mpmath.mpf(value.b)
