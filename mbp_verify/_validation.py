"""Argument validation shared by every layer: integers, probabilities and finite numbers.

In the style of `hypothesis.internal.validation`: one place that decides what counts as an
integer or a probability, so every public function rejects the same bad input with the same
kind of message (`InputError`, which the CLI turns into exit code 2). numpy integer and float
scalars are accepted wherever a Python int or float is; bools, strings and non-integral
numbers are not integers.
"""

from __future__ import annotations

import math
import numbers

from .errors import InputError

__all__ = ["validate_integer", "validate_probability", "validate_finite"]


def validate_integer(value: object, what: str, minimum: int = 0) -> int:
    """An integer (a Python or numpy int, or an integral number; not a bool) >= minimum."""
    try:
        integral = not isinstance(value, (bool, str, bytes)) and int(value) == value  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        integral = False
    if not integral or value < minimum:  # type: ignore[operator]
        raise InputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)  # type: ignore[call-overload]


def validate_finite(value: object, what: str) -> float:
    """A finite real number (Python or numpy), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{what} must be finite, got {value!r}")
    return number


def validate_probability(value: object, what: str, *, closed: bool = False) -> float:
    """A probability strictly inside (0, 1), or in [0, 1] when `closed`."""
    interval = "[0, 1]" if closed else "(0, 1)"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what} must be a number in {interval}, got {value!r}")
    number = float(value)
    if not (0.0 <= number <= 1.0 if closed else 0.0 < number < 1.0):
        where = "in [0, 1]" if closed else "strictly between 0 and 1"
        raise InputError(f"{what} must lie {where}, got {value!r}")
    return number
