"""Activation functions as sympy expressions in one real variable `x`.

The names and parameters match the numeric activations of `mbp_verify.engine.activations`
(a property checks that both agree pointwise). Kinks are written as `Piecewise`, so that
derivatives are taken piece by piece. Users can add activations from an expression string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from ..engine.activations import ActivationSpec, parse_activation
from ..errors import InputError

__all__ = ["X", "LAMBDA", "ALPHA", "CONSTANT_VALUES", "symbolic_activation", "registered_names", "parse_expression"]

X = sp.Symbol("x", real=True)
# SELU's constants stay symbols through the derivation (so the exact form reads
# "alpha*lambda") and get their values only when a number is needed.
LAMBDA, ALPHA = sp.Symbol("lambda", positive=True), sp.Symbol("alpha", positive=True)
CONSTANT_VALUES = {
    LAMBDA: sp.Float("1.0507009873554804934193349852946", 40),
    ALPHA: sp.Float("1.6732632423543772848170429916717", 40),
}

_Builder = Callable[[Mapping[str, sp.Expr]], sp.Expr]


def _sigmoid(z: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-z))


def _softplus(z: sp.Expr, beta: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(beta * z)) / beta


_REGISTRY: dict[str, _Builder] = {
    "identity": lambda p: X,
    "relu": lambda p: sp.Piecewise((0, X < 0), (X, True)),
    "leaky_relu": lambda p: sp.Piecewise((p["a"] * X, X < 0), (X, True)),
    "relu6": lambda p: sp.Piecewise((0, X < 0), (X, X < 6), (6, True)),
    "hardtanh": lambda p: sp.Piecewise((-1, X < -1), (X, X < 1), (1, True)),
    "elu": lambda p: sp.Piecewise((p["a"] * (sp.exp(X) - 1), X < 0), (X, True)),
    "celu": lambda p: sp.Piecewise((p["a"] * (sp.exp(X / p["a"]) - 1), X < 0), (X, True)),
    "selu": lambda p: sp.Piecewise((LAMBDA * ALPHA * (sp.exp(X) - 1), X < 0), (LAMBDA * X, True)),
    "sigmoid": lambda p: _sigmoid(X),
    "tanh": lambda p: sp.tanh(X),
    "softplus": lambda p: _softplus(X, p["beta"]),
    "softsign": lambda p: sp.Piecewise((X / (1 - X), X < 0), (X / (1 + X), True)),
    "silu": lambda p: X * _sigmoid(X),
    "gelu": lambda p: X * (1 + sp.erf(X / sp.sqrt(2))) / 2,
    "gelu_tanh": lambda p: X * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (X + sp.Rational(44715, 10**6) * X**3))) / 2,
    "mish": lambda p: X * sp.tanh(_softplus(X, sp.Integer(1))),
    "hardsigmoid": lambda p: sp.Piecewise((0, X < -3), (X / 6 + sp.Rational(1, 2), X < 3), (1, True)),
    "hardswish": lambda p: sp.Piecewise((0, X < -3), (X * (X + 3) / 6, X < 3), (X, True)),
}


def registered_names() -> tuple[str, ...]:
    """Scalar activations with a symbolic form (softmax is handled as a vector map)."""
    return tuple(_REGISTRY)


def _exact_param(value: float) -> sp.Expr:
    return sp.nsimplify(repr(value), rational=True)


def symbolic_activation(spec: "str | ActivationSpec", *, applied: bool = False) -> tuple[ActivationSpec, sp.Expr]:
    """The parsed spec and its sympy expression in `X`. Parameters are the decimals as written
    (a=0.2 is 1/5), or with `applied` the exact binary value of the float the network applies
    (0.2 + 1.1e-17)."""
    parsed = parse_activation(spec)
    if parsed.name not in _REGISTRY:
        raise InputError(f"activation {parsed.name!r} has no symbolic form")
    params = {k: sp.Rational(v) if applied else _exact_param(v) for k, v in parsed.params}
    return parsed, _REGISTRY[parsed.name](params)


_TRANSFORMS = standard_transformations + (implicit_multiplication_application, convert_xor)
_T = sp.Symbol("t", real=True)
_ALLOWED_FUNCTIONS: dict[str, object] = {
    name: getattr(sp, name)
    for name in (
        "exp",
        "log",
        "sqrt",
        "tanh",
        "sinh",
        "cosh",
        "atan",
        "asinh",
        "erf",
        "erfc",
        "Abs",
        "Max",
        "Min",
        "sin",
        "cos",
        "tan",
        "Piecewise",
        "sign",
        "pi",
        "E",
    )
}
_ALLOWED_FUNCTIONS.update(
    abs=sp.Abs,
    max=sp.Max,
    min=sp.Min,
    e=sp.E,
    sigmoid=sp.Lambda(_T, _sigmoid(_T)),
    softplus=sp.Lambda(_T, _softplus(_T, sp.Integer(1))),
    relu=sp.Lambda(_T, sp.Max(_T, 0)),
)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a number literal (its exponent is no name: 1e308 must not read as the unknown name e308)
_NUMBER_RE = re.compile(r"(?<![\w.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_KEYWORDS = frozenset({"x", "True", "False"})  # the variable, and Piecewise's "otherwise" condition
# what a parsed expression may apply: the allowed names' classes, and what sympy writes them as
_FUNCTION_NAMES = frozenset(
    f.__name__ for f in (*_ALLOWED_FUNCTIONS.values(), sp.sech) if isinstance(f, type) and issubclass(f, sp.Basic)
)
_SHOWN = 80  # characters of a rejected expression quoted in its error message


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…")


def _too_large(expr: sp.Expr) -> "sp.Expr | None":
    """A number in `expr` beyond the float64 range (10**400): no float constant can describe it."""
    for number in expr.atoms(sp.Number):
        if number.is_finite and abs(number) > sp.Float(1.79e308):
            return number
    return None


def parse_expression(text: str) -> sp.Expr:
    """Parse a user expression in `x` (e.g. "x*tanh(log(1+exp(x)))"); InputError if it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("the activation expression is empty")
    names = _NAME_RE.findall(_NUMBER_RE.sub(" 0 ", text))
    unknown = sorted({name for name in names if name not in _ALLOWED_FUNCTIONS and name not in _KEYWORDS})
    if unknown:
        known = ", ".join(sorted(_ALLOWED_FUNCTIONS))
        raise InputError(
            f"activation expression {_quoted(text)} uses unknown name(s) {', '.join(unknown)[:_SHOWN]}; "
            f"write it in x with: {known}"
        )
    local = dict(_ALLOWED_FUNCTIONS, x=X)
    try:
        expr = parse_expr(text, local_dict=local, transformations=_TRANSFORMS, evaluate=True)
    except RecursionError:
        raise InputError(f"activation expression {_quoted(text)} is nested too deeply to parse") from None
    except Exception as exc:  # sympy raises many exception types for bad syntax
        raise InputError(f"cannot parse activation expression {_quoted(text)}: {type(exc).__name__}") from None
    if not isinstance(expr, sp.Expr):
        raise InputError(f"activation expression {_quoted(text)} is not a real expression")
    extra = expr.free_symbols - {X}
    if extra:
        names = ", ".join(sorted(str(s) for s in extra))
        raise InputError(f"activation expression {_quoted(text)} may only use the variable x (found {names})")
    if expr.has(sp.I) or expr.has(sp.zoo) or expr.has(sp.nan):
        raise InputError(f"activation expression {_quoted(text)} is not a finite real function")
    foreign = sorted(
        {type(f).__name__ for f in sp.preorder_traversal(expr) if isinstance(f, sp.core.function.Application)}
        - _FUNCTION_NAMES
    )
    if foreign:  # e.g. "x!" is factorial(x), which no name in the list allows
        raise InputError(f"activation expression {_quoted(text)} uses {', '.join(foreign)}, which is not supported")
    large = _too_large(expr)
    if large is not None:
        raise InputError(
            f"activation expression {_quoted(text)} has the constant {sp.N(large, 3)}, beyond the float64 range"
        )
    return expr
