"""Derived Lipschitz constants: known closed forms, non-Lipschitz detection, CLI contract."""

import json
import math

import pytest
from scipy.special import erf

from mbp_verify.cli import main
from mbp_verify.errors import InputError
from mbp_verify.symbolic import (
    derive_lipschitz,
    propagation_bound,
    registered_names,
    solve_width_condition,
    symbolic_activation,
)

SELU = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717


@pytest.mark.parametrize(
    "name, value, exact, attained",
    [
        ("sigmoid", 0.25, "1/4", True),
        ("hardsigmoid", 1 / 6, "1/6", True),
        ("hardswish", 1.5, "3/2", False),
        ("selu", SELU, "alpha*lambda", False),
        ("tanh", 1.0, "1", True),
        ("relu", 1.0, "1", True),
        ("softplus", 1.0, "1", False),
        ("leaky_relu(a=3)", 3.0, "3", True),
        ("elu(a=2)", 2.0, "2", False),
        ("gelu", (1 + erf(1)) / 2 + math.exp(-1) / math.sqrt(math.pi), None, True),
        ("silu", 1.0998393201288670, None, True),
        ("softmax", 0.5, "1/2", True),
    ],
)
def test_known_constants(name, value, exact, attained):
    d = derive_lipschitz(name)
    assert d.lipschitz == pytest.approx(value, rel=1e-12)
    if exact is not None:
        assert d.exact == exact
    assert d.attained is attained


def test_constants_come_from_the_derivation_not_a_table():
    # Expressions nobody registered: the constant must follow the function.
    assert derive_lipschitz("custom", expr="3*tanh(x)").lipschitz == pytest.approx(3.0)
    assert derive_lipschitz("custom", expr="1/(1+exp(-2*x))").lipschitz == pytest.approx(0.5)
    assert derive_lipschitz("custom", expr="x/(1+abs(x))").exact == "1"
    # Parameters flow through the derivation.
    assert derive_lipschitz("softplus(beta=3)").lipschitz == pytest.approx(1.0)
    assert derive_lipschitz("leaky_relu(a=0.25)").slope_min == pytest.approx(0.25)
    assert derive_lipschitz("elu(a=0.5)").lipschitz == pytest.approx(1.0)


@pytest.mark.parametrize("name", [n for n in registered_names() if n not in ("selu",)])
def test_registered_constant_equals_derivation_of_its_expression(name):
    # The registered activation and the same formula typed in as a custom expression give
    # the same constant: nothing is looked up by name.
    registered = derive_lipschitz(name)
    _, expr = symbolic_activation(name)
    typed = derive_lipschitz("typed", expr=str(expr))
    assert typed.lipschitz == pytest.approx(registered.lipschitz, rel=1e-12)
    assert typed.attained is registered.attained


def test_slope_ranges():
    assert (derive_lipschitz("relu").slope_min, derive_lipschitz("relu").slope_max) == (0.0, 1.0)
    silu = derive_lipschitz("silu")
    assert silu.slope_min == pytest.approx(-0.0998393201288670, rel=1e-9) and not silu.monotone
    assert derive_lipschitz("sigmoid").slope_min == 0.0


@pytest.mark.parametrize(
    "expr", ["x**2", "exp(x)", "sin(x**2)*x", "x*cos(x)", "sign(x)", "Piecewise((0, x < 0), (1, True))"]
)
def test_not_lipschitz_is_reported_without_a_number(expr):
    # Unbounded slopes, and jumps (sigma' = 0 almost everywhere, yet no Lipschitz constant).
    d = derive_lipschitz("custom", expr=expr)
    assert d.lipschitz is None and not d.is_lipschitz


@pytest.mark.parametrize(
    "expr, value, monotone",
    [
        ("sin(x)", 1.0, False),  # sigma' oscillates: an AccumBounds limit, not unbounded
        ("x + sin(x)/2", 1.5, True),
        ("1/(1 + x**2)", 3 * math.sqrt(3) / 8, False),
        ("x*sigmoid(x)", 1.0998393201288670, False),  # named helpers inside expressions
        ("relu(x) - relu(x - 1)", 1.0, True),
    ],
)
def test_more_custom_expressions(expr, value, monotone):
    d = derive_lipschitz("custom", expr=expr)
    assert d.lipschitz == pytest.approx(value, rel=1e-12) and d.monotone is monotone


@pytest.mark.parametrize(
    "expr, words",
    [
        ("x+", "cannot parse"),
        ("y*x", "unknown name(s) y"),
        ("", "empty"),
        ("import os", "unknown name"),
        ("foo(x)", "unknown name(s) foo"),
        ("log(x)", "not a finite"),
        ("sqrt(x)", "not a finite"),
        ("1/x", "not a finite"),
        ("tan(x)", "not a finite"),
    ],
)
def test_bad_expressions(expr, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        derive_lipschitz("custom", expr=expr)


def test_sigma0_homogeneity_monotonicity():
    assert derive_lipschitz("sigmoid").sigma0 == 0.5
    assert derive_lipschitz("relu").positively_homogeneous and derive_lipschitz("relu").monotone
    assert not derive_lipschitz("elu").positively_homogeneous
    assert not derive_lipschitz("silu").monotone


def test_cli_json_and_exit_codes(tmp_path, capsys):
    out = tmp_path / "l.json"
    assert main(["lipschitz", "hardswish", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["lipschitz"] == 1.5 and data["exact"] == "3/2" and data["attained"] is False
    assert data["sigma0"] == 0.0 and data["schema"] == "mbp-verify/lipschitz"
    assert main(["lipschitz", "leaky_relu", "--param", "a=0.2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["lipschitz"] == 1.0
    assert main(["lipschitz", "--expr", "x**2", "--json", str(out)]) == 1
    assert json.loads(out.read_text())["lipschitz"] is None
    assert main(["lipschitz", "tanhshrink"]) == 2
    assert main(["lipschitz", "--expr", "x+"]) == 2
    assert main(["lipschitz"]) == 2
    assert main(["lipschitz", "leaky_relu", "--param", "b=1"]) == 2


def test_propagation_closed_form_depth_two():
    p = propagation_bound(2)
    # ||f - F|| <= b2 K1 e1 + e2 (K1 a1 + c1)
    assert p.evaluate([2, 3], [1.5, 2.5], [0.1, 0.2], [0.5], [0.3]) == pytest.approx(
        2.5 * 0.5 * 0.1 + 0.2 * (0.5 * 2 + 0.3)
    )
    with pytest.raises(InputError):
        p.evaluate([1], [1, 1], [1, 1], [1], [0])


def test_width_condition_solves_for_eps():
    region = solve_width_condition("eps", d=1024, alpha=0.3, delta=0.1, C1=2, C2=1, C3=0.01, C4=10, C5=5)
    assert float(region.inf) == pytest.approx(1024**-0.3)
    with pytest.raises(InputError):
        solve_width_condition("eps", d=1024)
