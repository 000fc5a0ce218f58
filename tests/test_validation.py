"""One validation module: what counts as an integer, a probability, a finite number."""

from fractions import Fraction

import numpy as np
import pytest

from mbp_verify._validation import validate_finite, validate_integer, validate_probability
from mbp_verify.errors import InputError


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3), 3.0, np.float32(3.0), Fraction(6, 2)])
def test_integers_of_every_kind(value):
    assert validate_integer(value, "n") == 3 and type(validate_integer(value, "n")) is int


@pytest.mark.parametrize("value", [True, "3", b"3", 3.5, float("nan"), float("inf"), None, [3], np.array([3, 4]), -1])
def test_not_integers_or_below_minimum(value):
    with pytest.raises(InputError, match="n must be an integer >= 0"):
        validate_integer(value, "n")


@pytest.mark.parametrize("value", [0.5, np.float64(0.5), np.float16(0.5), Fraction(1, 2)])
def test_probabilities(value):
    assert validate_probability(value, "p") == 0.5


@pytest.mark.parametrize(
    "value, closed",
    [
        (0.0, False),
        (1.0, False),
        (-0.1, True),
        (1.1, True),
        (float("nan"), True),
        ("0.5", True),
        (True, True),
        (None, True),
    ],
)
def test_not_probabilities(value, closed):
    with pytest.raises(InputError, match="^p must"):
        validate_probability(value, "p", closed=closed)


def test_closed_interval_admits_its_ends():
    assert validate_probability(0, "p", closed=True) == 0.0 and validate_probability(1, "p", closed=True) == 1.0


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), np.float64("nan"), "1", True])
def test_not_finite(value):
    with pytest.raises(InputError, match="^x must be"):
        validate_finite(value, "x")
