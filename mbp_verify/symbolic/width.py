"""Theorem 1's width condition as a sympy expression, solvable for any one symbol.

d >= max{C1^(1/alpha), (C2/eps)^(1/alpha), (C3/delta)^(1/alpha), C4 + C5 log(1/delta)}.
The constants are not public, so users supply them; e.g. `solve_width_condition("eps", d=...,
alpha=..., delta=..., C1=..., ...)` gives the smallest eps the theorem guarantees at width d.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from ..errors import InputError

__all__ = ["WIDTH_SYMBOLS", "width_terms", "width_condition", "solve_width_condition"]

eps, delta, alpha, d = sp.symbols("eps delta alpha d", positive=True)
C = sp.symbols("C1:6", positive=True)
WIDTH_SYMBOLS = {s.name: s for s in (eps, delta, alpha, d, *C)}


def width_terms() -> tuple[sp.Expr, ...]:
    """The four lower bounds on d."""
    return (
        C[0] ** (1 / alpha),
        (C[1] / eps) ** (1 / alpha),
        (C[2] / delta) ** (1 / alpha),
        C[3] + C[4] * sp.log(1 / delta),
    )


def width_condition() -> sp.Expr:
    """The relation d >= max(...)."""
    return sp.Ge(d, sp.Max(*width_terms()))


def solve_width_condition(target: str, **values: float) -> sp.Set:
    """The set of values of `target` for which the condition holds, the others given."""
    if target not in WIDTH_SYMBOLS:
        raise InputError(f"unknown symbol {target!r}; use one of {', '.join(WIDTH_SYMBOLS)}")
    missing = set(WIDTH_SYMBOLS) - {target} - set(values)
    if missing:
        raise InputError(f"give values for {', '.join(sorted(missing))}")
    subs: Mapping[sp.Symbol, sp.Expr] = {WIDTH_SYMBOLS[k]: sp.nsimplify(v) for k, v in values.items()}
    if any(v <= 0 for v in subs.values()):
        raise InputError("all values must be positive")
    symbol = WIDTH_SYMBOLS[target]
    feasible = sp.Interval.open(0, sp.oo)
    for term in width_terms():
        inequality = sp.Ge(d.subs(subs) if symbol != d else d, term.subs(subs))
        feasible = feasible.intersect(sp.solveset(inequality, symbol, sp.Interval.open(0, sp.oo)))
    return feasible
