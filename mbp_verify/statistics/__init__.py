"""Statistical verdicts with stated error rates: binomial bounds, Holm, sequential tests, Monte Carlo
p-values, slope fits."""

from .._deprecation import renamed
from .binomial import (
    CP_METHOD,
    BinomialVerdict,
    clopper_pearson_lower,
    clopper_pearson_upper,
    guarantee_test,
    refutation_test,
    tail_pvalue,
)
from .bootstrap import SlopeFit, loglog_slope
from .montecarlo import MonteCarloResult, minimum_draws, monte_carlo_test
from .multiple import HolmResult, holm
from .sequential import GroupSequentialDesign, equally_spaced_looks, group_sequential_design

__all__ = [
    "CP_METHOD",
    "BinomialVerdict",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "guarantee_test",
    "refutation_test",
    "tail_pvalue",
    "SlopeFit",
    "loglog_slope",
    "MonteCarloResult",
    "minimum_draws",
    "monte_carlo_test",
    "HolmResult",
    "holm",
    "GroupSequentialDesign",
    "equally_spaced_looks",
    "group_sequential_design",
]

# Deprecated names (renamed in 0.2; removed in the next version).
__getattr__ = renamed(globals(), {"MonteCarloTest": "MonteCarloResult"})
