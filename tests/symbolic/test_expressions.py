"""User expressions (`mbp-verify lipschitz --expr`): known answers, and hostile input refused with
one clear line (InputError, exit 2), never a traceback or a constant for the wrong function."""

from __future__ import annotations

from fractions import Fraction

import pytest

from mbp_verify.cli import main
from mbp_verify.errors import InputError
from mbp_verify.symbolic import derive_lipschitz
from mbp_verify.symbolic.registry import parse_expression


@pytest.mark.parametrize(
    "expr, true_k",
    [
        ("sin(x)", 1),
        ("x/(1+Abs(x))", 1),
        ("Piecewise((0, x<0), (x, x<1), (1, True))", 1),
        ("atan(x)", 1),
        ("1e308*x", Fraction(10**308)),  # was refused: "unknown name(s) e308"
        ("2.5E-3*x", Fraction("2.5e-3")),
        ("sqrt(1+x**2)", 1),  # was refused as undecided after its whole budget (oo/oo on the tails)
        ("(x+sqrt(x**2+4))/2", 1),  # squareplus: likewise
        ("x/sqrt(1+x**2)", 1),
    ],
)
def test_known_constants(expr, true_k):
    derivation = derive_lipschitz("custom", expr=expr)
    assert derivation.kind == "exact"
    assert Fraction(derivation.lipschitz) >= true_k
    assert derivation.lipschitz <= float(true_k) * (1 + 1e-12)


@pytest.mark.parametrize("expr", ["exp(x)", "x**2", "x*Abs(x)", "x*sqrt(1+x**2)"])
def test_not_lipschitz(expr):
    derivation = derive_lipschitz("custom", expr=expr)
    assert derivation.lipschitz is None and derivation.kind == "not_lipschitz"


@pytest.mark.parametrize(
    "expr, message",
    [
        ("x!", "factorial"),  # was "the derivation failed: ValueError: ... extend='complex'"
        ("x!!", "factorial2"),  # was a numpy TypeError
        ("10**400*x", "beyond the float64 range"),  # was "OverflowError: int too large to convert to float"
        ("x*1e400", "beyond the float64 range"),  # was "unknown name(s) e400"
        ("1e308*x*10", "beyond the float64 range"),
        ("Piecewise((x, x<0))", r"not defined on Interval\(0, oo\)"),  # was K = 1 for a function undefined on x >= 0
        ("Piecewise((x, x<0), (2*x, x>0))", r"not defined on \{0\}"),
        ("+".join(["x"] * 3000), "nested too deeply"),  # was "cannot parse ...: RecursionError"
        ("x+", "cannot parse"),
        ("foo(x)", "unknown name"),
        ("__import__('os')", "unknown name"),
        ("0x__import__", "unknown name"),
        ("1/x", "not a finite, continuous real function"),
        ("sqrt(-1-x**2)", "not a finite, continuous real function"),
        ("x/0", "not a finite real function"),
    ],
    ids=lambda value: str(value)[:32],
)
def test_hostile_expressions_are_refused_with_a_reason(expr, message):
    with pytest.raises(InputError, match=message):
        derive_lipschitz("custom", expr=expr)


def test_a_constant_beyond_float64_is_refused_at_once():
    """exp(1000) x: the search proves sup|sigma'| = e^1000 at once, but no float holds it (it spent
    its whole budget, then said no finite bound was proven)."""
    with pytest.raises(InputError, match="beyond the float64 range"):
        derive_lipschitz("custom", expr="exp(1000)*x")


def test_a_long_expression_is_quoted_short():
    with pytest.raises(InputError) as info:
        parse_expression("x" * 5000)
    assert len(str(info.value)) < 600 and "…" in str(info.value)


def test_cli_refusal_is_exit_two_with_one_line(capsys):
    assert main(["lipschitz", "--expr", "x!", "--time-limit", "30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0] and "failed" not in err[0]
    assert len(err[0]) < 400


def test_cli_json_constant_is_never_below_the_exact_value(tmp_path):
    """The number `mbp-verify lipschitz hardsigmoid --json` writes (it was 0.16666666666666666 < 1/6)."""
    import json

    out = tmp_path / "hs.json"
    assert main(["lipschitz", "hardsigmoid", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert Fraction(data["lipschitz"]) >= Fraction(1, 6) and Fraction(data["slope_max"]) >= Fraction(1, 6)
    assert data["lipschitz"] == derive_lipschitz("hardsigmoid").lipschitz
