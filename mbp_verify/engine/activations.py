"""Numeric (numpy) activation functions, by name, with optional parameters.

An activation is written `name` or `name(key=value, ...)`, e.g. `leaky_relu(a=0.2)`. Names are
case-insensitive, and the names and parameter names of PyTorch, Keras and Hugging Face configs are
accepted as aliases (`LeakyReLU(negative_slope=0.2)`, `swish`, `GELU(approximate='tanh')`,
`gelu_new`); a spec is always reported under its canonical name.
The symbolic registry (`mbp_verify.symbolic`) holds the sympy form of the same names; a
property checks that both agree, so the forward pass and the derived Lipschitz constants
describe the same function.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = ["ActivationSpec", "parse_activation", "activation_names", "apply_activation"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SMALLEST_NORMAL = 2.2250738585072014e-308

NumericFn = Callable[[np.ndarray, Mapping[str, float]], np.ndarray]


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def _softplus(x: np.ndarray, beta: float) -> np.ndarray:
    return np.logaddexp(0.0, beta * x) / beta


def _expit(x: np.ndarray) -> np.ndarray:
    from scipy import special  # imported on first use: `import mbp_verify` stays light

    return special.expit(x)


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy import special

    return special.erf(x)


_NUMERIC: dict[str, tuple[NumericFn, dict[str, float]]] = {
    "identity": (lambda x, p: x, {}),
    "relu": (lambda x, p: np.maximum(x, 0.0), {}),
    "leaky_relu": (lambda x, p: np.where(x > 0, x, p["a"] * x), {"a": 0.01}),
    "relu6": (lambda x, p: _relu6(x), {}),
    "hardtanh": (lambda x, p: np.clip(x, -1.0, 1.0), {}),
    "elu": (lambda x, p: np.where(x > 0, x, p["a"] * np.expm1(np.minimum(x, 0.0))), {"a": 1.0}),
    "celu": (lambda x, p: np.where(x > 0, x, p["a"] * np.expm1(np.minimum(x, 0.0) / p["a"])), {"a": 1.0}),
    "selu": (
        lambda x, p: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
        {},
    ),
    "sigmoid": (lambda x, p: _expit(x), {}),
    "tanh": (lambda x, p: np.tanh(x), {}),
    "softplus": (lambda x, p: _softplus(x, p["beta"]), {"beta": 1.0}),
    "softsign": (lambda x, p: x / (1.0 + np.abs(x)), {}),
    "silu": (lambda x, p: x * _expit(x), {}),
    "gelu": (lambda x, p: 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0))), {}),
    "gelu_tanh": (
        lambda x, p: 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3))),
        {},
    ),
    "mish": (lambda x, p: x * np.tanh(_softplus(x, 1.0)), {}),
    "hardsigmoid": (lambda x, p: _relu6(x + 3.0) / 6.0, {}),
    "hardswish": (lambda x, p: x * _relu6(x + 3.0) / 6.0, {}),
}

# Other libraries' names (lower-cased, without "_") for the same function. Defaults stay ours:
# Keras's leaky_relu defaults to a = 0.2, ours (as PyTorch's) to 0.01.
_NAME_ALIASES = {
    "linear": "identity",
    "leakyrelu": "leaky_relu",
    "swish": "silu",
    "hardswish": "hardswish",
    "hardsilu": "hardswish",
    "hardtanh": "hardtanh",
    "gelunew": "gelu_tanh",
    "gelufast": "gelu_tanh",
    "gelupytorchtanh": "gelu_tanh",
}
# Names that mean different functions in different libraries: refused with the choice spelled out.
_AMBIGUOUS = {
    "hard_sigmoid": "'hard_sigmoid' is relu6(x + 3) / 6 in Keras 3 but clip(0.2 x + 0.5, 0, 1) in tf.keras 2; "
    "write 'hardsigmoid' for the first",
}
# Other libraries' parameter names, per canonical activation.
_PARAM_ALIASES = {
    "leaky_relu": {"negative_slope": "a", "alpha": "a"},
    "elu": {"alpha": "a"},
    "celu": {"alpha": "a"},
}
# GELU's `approximate` (PyTorch): a string, which selects the function rather than a number.
_GELU_APPROXIMATIONS = {"none": "gelu", "tanh": "gelu_tanh"}

_SPEC_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$")


@dataclass(frozen=True)
class ActivationSpec:
    """A named activation with its parameters (defaults filled in)."""

    name: str
    params: tuple[tuple[str, float], ...] = field(default=())

    def __str__(self) -> str:
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params)
        return f"{self.name}({inner})"

    @property
    def param_dict(self) -> dict[str, float]:
        return dict(self.params)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        fn, _ = _NUMERIC[self.name]
        return fn(x, self.param_dict)


def activation_names() -> tuple[str, ...]:
    """Names with a numeric implementation, in registry order."""
    return tuple(_NUMERIC)


def _canonical_name(name: str) -> str:
    """Our name for `name`, which may be another library's (any case); unknown names pass through."""
    lowered = name.lower()
    if lowered in _AMBIGUOUS:
        raise InputError(_AMBIGUOUS[lowered])
    if lowered in _NUMERIC:
        return lowered
    return _NAME_ALIASES.get(lowered.replace("_", ""), name)


def _unquoted(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"" else value


def parse_activation(spec: "str | ActivationSpec", **overrides: float) -> ActivationSpec:
    """Parse `relu` or `leaky_relu(a=0.2)` (or another library's name for it); unknown names or
    parameters raise InputError."""
    if isinstance(spec, ActivationSpec):
        if not overrides:
            return spec
        spec = spec.name if not spec.params else str(spec)
    if not isinstance(spec, str):
        raise InputError(f"activation must be a string such as 'relu', got {type(spec).__name__}")
    match = _SPEC_RE.match(spec)
    if match is None:
        raise InputError(f"cannot parse activation {spec!r}; write e.g. 'relu' or 'leaky_relu(a=0.2)'")
    name, inner = _canonical_name(match.group(1)), match.group(2)
    if name not in _NUMERIC:
        known = ", ".join(_NUMERIC)
        raise InputError(f"unknown activation {name!r}; known: {known}")
    defaults = dict(_NUMERIC[name][1])
    given: dict[str, float] = {}
    if inner and inner.strip():
        for part in inner.split(","):
            if "=" not in part:
                raise InputError(f"activation parameter {part.strip()!r} in {spec!r} must be key=value")
            key, value = (s.strip() for s in part.split("=", 1))
            if name in ("gelu", "gelu_tanh") and key == "approximate":
                name = _gelu_variant(name, _unquoted(value), spec)
                continue
            key = _PARAM_ALIASES.get(name, {}).get(key, key)
            if key in given:
                raise InputError(f"activation parameter {key!r} is given twice in {spec!r}")
            given[key] = _parse_float(value, spec)
    given.update((_PARAM_ALIASES.get(name, {}).get(key, key), value) for key, value in overrides.items())
    for key, value in given.items():
        if key not in defaults:
            allowed = ", ".join(defaults) or "none"
            raise InputError(f"activation {name!r} has no parameter {key!r} (parameters: {allowed})")
        if not np.isfinite(value):
            raise InputError(f"activation parameter {key}={value} must be finite")
        defaults[key] = float(value)
    if name == "celu" and defaults["a"] == 0:
        raise InputError("celu needs a != 0 (PyTorch's alpha; celu(x) = max(0, x) + min(0, a (exp(x/a) - 1)))")
    if name == "softplus" and defaults["beta"] <= 0:
        raise InputError("softplus needs beta > 0")
    if name == "softplus" and defaults["beta"] < _SMALLEST_NORMAL:  # 1/beta, log(2)/beta overflow float64
        raise InputError(
            f"softplus(beta={defaults['beta']!r}): beta below 2.2250738585072014e-308 (the smallest normal "
            "float64) puts sigma(0) = log(2)/beta near or beyond the float64 range"
        )
    return ActivationSpec(name, tuple(sorted(defaults.items())))


def _gelu_variant(name: str, approximation: str, spec: str) -> str:
    """gelu or gelu_tanh, as PyTorch's `approximate='none' | 'tanh'` selects; a conflict is an error."""
    chosen = _GELU_APPROXIMATIONS.get(approximation.lower())
    if chosen is None:
        raise InputError(f"GELU approximate={approximation!r} in {spec!r}: write 'none' or 'tanh'")
    if name == "gelu_tanh" and chosen == "gelu":
        raise InputError(f"{spec!r} names the tanh approximation of GELU and approximate='none' at once")
    return chosen


def _parse_float(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"activation parameter value {text!r} in {spec!r} is not a number") from None


def apply_activation(spec: "str | ActivationSpec", x: np.ndarray) -> np.ndarray:
    """Apply an activation (by spec) componentwise."""
    return parse_activation(spec)(x)
