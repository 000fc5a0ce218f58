"""Random activation expressions: the proven Lipschitz constant never falls below sampled slopes.

The reference is independent of the interval search: sigma' from sympy's derivative evaluated
by mpmath at 30 digits on a dense grid of [-60, 60] and 481 log-spaced points out to 1e12 on
each side, with golden-section refinement between the neighbours of the best samples. A `Lipschitz` answer must
be >= every sampled |sigma'| (and the slope range must contain every sampled slope); an `exact`
answer must also be within 1e-6 of the best sample. A refusal (undecided, time limit) is sound.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mbp_verify.errors import InputError
from mbp_verify.suite import mbp_property
from mbp_verify.symbolic import registered_names
from mbp_verify.symbolic.lipschitz import derive_expression
from mbp_verify.symbolic.registry import CONSTANT_VALUES, X, parse_expression, symbolic_activation

_MARGIN = 1e-12  # relative: the reference's own 30-digit evaluation error is far below this
_REPRODUCERS = ["x/(1+exp(-x/30))", "x/2+(tanh(5000*x-3)-tanh(5000*x-7))/5000", "sin(x)+cos(x)", "x*sin(log(Abs(x)+1))"]

_coef = st.sampled_from(["1", "2", "1/2", "3", "-1", "1/3", "5"])
_shift = st.sampled_from(["0", "1", "-2", "1/2"])


@st.composite
def _argument(draw):
    return f"({draw(_coef)}*x + {draw(_shift)})"


@st.composite
def _term(draw, depth=0):
    u = draw(_argument()) if depth >= 1 or draw(st.booleans()) else f"({draw(_term(depth=depth + 1))})"
    shape = draw(st.sampled_from(["tanh", "sin", "cos", "log1p2", "rational", "poly_bounded", "abs", "expneg"]))
    c = draw(_coef)
    return {
        "tanh": f"{c}*tanh({u})",
        "sin": f"{c}*sin({u})",
        "cos": f"{c}*cos({u})",
        "log1p2": f"{c}*log(1 + {u}**2)",
        "rational": f"{c}*{u}/(1 + {u}**2)",
        "poly_bounded": f"{c}*x*tanh({u})",
        "abs": f"{c}*Abs({u})",
        "expneg": f"{c}*exp(-{u}**2)",
    }[shape]


@st.composite
def expressions(draw):
    return " + ".join(draw(st.lists(_term(), min_size=1, max_size=3)))


def _reference(expr: sp.Expr, extra: "float | None" = None) -> tuple[float, float]:
    """(min, max) of sampled sigma' values (30 digits), refined around the extremes; `extra` (the
    derivation's argsup) is sampled with a fine neighbourhood, so narrow peaks can be checked too."""
    f = sp.lambdify(X, sp.diff(expr, X).subs(CONSTANT_VALUES), modules="mpmath")
    positive = np.geomspace(60, 1e12, 481)
    near = (
        []
        if extra is None or not np.isfinite(extra)
        else list(extra + np.linspace(-1e-3, 1e-3, 201) * max(1, abs(extra)))
    )
    grid = np.unique(np.concatenate([-positive, np.linspace(-60, 60, 2401), positive, near]))
    with mpmath.workdps(30):

        def g(t):
            try:
                return float(mpmath.re(f(mpmath.mpf(float(t)))))
            except (ValueError, ZeroDivisionError, TypeError):
                return float("nan")

        sampled = np.array([g(t) for t in grid])
        values = [(v, t) for v, t in zip(sampled, grid) if np.isfinite(v)]
        for sign in (1, -1):
            scores = np.where(np.isfinite(sampled), sign * sampled, -np.inf)
            for i in np.argsort(scores)[-3:]:  # golden-section between the neighbours of the 3 best samples
                lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
                for _ in range(80):
                    a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
                    if sign * g(a) >= sign * g(b):
                        hi = b
                    else:
                        lo = a
                values.append((g((lo + hi) / 2), (lo + hi) / 2))
    finite = [v for v, _ in values if np.isfinite(v)]
    return min(finite), max(finite)


def _check(text: str, counts: dict) -> None:
    expr = parse_expression(text)
    try:
        d = derive_expression("random", expr, seconds=4.0, refine=False)
    except InputError:
        counts["refused"] += 1
        return
    counts["checked"] += 1
    if d.lipschitz is None:
        counts["not_lipschitz"] += 1
        return
    counts[d.kind] += 1
    low, high = _reference(expr, d.argsup)
    slack = _MARGIN * max(1.0, abs(d.lipschitz))
    sound = (
        d.lipschitz >= max(abs(low), abs(high)) - slack and d.slope_max >= high - slack and d.slope_min <= low + slack
    )
    if not sound:
        counts["violations"] += 1
    assert sound, (
        f"{text}: K = {d.lipschitz!r}, slopes [{d.slope_min!r}, {d.slope_max!r}] vs sampled [{low!r}, {high!r}]"
    )
    if d.kind == "exact":
        assert d.lipschitz - max(abs(low), abs(high)) <= 1e-6 * max(1.0, d.lipschitz), f"{text}: exact K not reached"


def _counts() -> dict:
    return dict.fromkeys(["checked", "violations", "exact", "bound", "not_lipschitz", "refused"], 0)


@mbp_property(
    id="symbolic.lipschitz_random_sound",
    statement="for random expressions the proven K and slope range contain every sampled slope (exact answers are "
    "reached)",
    source="docs/lipschitz.md (sound by construction); Theorem 1 hypothesis (i)",
)
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=expressions())
@example(text=_REPRODUCERS[0])
@example(text=_REPRODUCERS[1])
@example(text=_REPRODUCERS[2])
def test_random_expressions_sound(text, mbp_evidence):
    counts = mbp_evidence.setdefault("counts", _counts())
    _check(text, counts)


@mbp_property(
    id="symbolic.lipschitz_random_sound_many",
    statement=">= 300 random expressions: zero soundness violations of the proven K and slope range",
    source="docs/lipschitz.md (sound by construction: >= 300 random expressions under --full)",
)
@pytest.mark.slow
@settings(max_examples=380, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=expressions())
@example(text=_REPRODUCERS[3])
@example(text="1*Abs((1*sin((1*x + 0))))")  # found here: kinks at every k pi crashed the piece split
def test_many_random_expressions_sound(text, mbp_evidence):
    counts = mbp_evidence.setdefault("counts", _counts())
    _check(text, counts)


@mbp_property(
    id="symbolic.registered_exact",
    statement="every registered activation's K is marked exact and within 1e-9 of sup|sigma'| sampled at 30 digits",
    source="docs/lipschitz.md (registered activations are exact)",
)
@pytest.mark.parametrize("name", registered_names())
def test_registered_constants_exact(name, mbp_evidence):
    from mbp_verify.symbolic import derive_lipschitz

    d = derive_lipschitz(name)
    _, expr = symbolic_activation(name)
    low, high = _reference(expr, d.argsup)
    assert d.kind == "exact" and d.gap <= 1e-9
    assert max(abs(low), abs(high)) - 1e-12 <= d.lipschitz <= max(abs(low), abs(high)) + 1e-9
    mbp_evidence.update(K=d.lipschitz, gap=d.gap, sampled=max(abs(low), abs(high)))
