"""Statistical verdicts with stated error rates: binomial bounds, Holm, sequential tests."""

from .multiple import HolmResult, holm

__all__ = ["HolmResult", "holm"]
