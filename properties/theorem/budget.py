"""The statistical budget of the theorem properties: a correct engine fails a CI run by bad luck
with probability at most FALSE_FAILURE_RATE = 1e-4.

Every statistical item of `properties/theorem` (one pytest item per width or control, spread by
xdist) is its own one-cell sequential design at level ITEM_LEVEL = 1e-5, and a default run has
at most MAX_ITEMS = 10 such items, so the union bound gives <= 1e-4 for all of them together.
An item can fail a correct engine in two ways:

- a type-I error of its test (refuting a true guarantee, or a bootstrap interval missing the
  true slope): at most ITEM_LEVEL, computed exactly for the sequential design;
- lack of power (a true guarantee not established). The guarantee items use eps at least
  EPS_MARGIN times the largest certified upper bound seen at their widths; the upper bound is a
  product of spectral norms, which concentrate at the scale d^(-1/2), so the per-trial chance of
  exceeding eps is far below 1e-9 and the item's shortfall far below ITEM_LEVEL. The power of the
  refutation test on the negative controls is computed exactly (CONTROL_POWER_AT).

Within one item Holm is not needed (one cell); across items the Bonferroni split above is the
first step of Holm and needs no communication between xdist workers.
"""

from __future__ import annotations

from mbp_verify.theorem import SweepConfig, run_sweep

__all__ = ["FALSE_FAILURE_RATE", "ITEM_LEVEL", "MAX_ITEMS", "ALPHA", "DELTA", "EPS", "EPS_MARGIN", "TRIALS", "LOOKS",
           "GUARANTEE_WIDTHS", "CONTROL_POWER_AT", "item_config", "run_item"]

FALSE_FAILURE_RATE = 1e-4
ITEM_LEVEL = 1e-5
MAX_ITEMS = 10
ALPHA = 0.3
DELTA = 0.25
EPS = 0.15
EPS_MARGIN = 1.25
TRIALS = 45
LOOKS = 5
CONTROL_POWER_AT = 0.9
GUARANTEE_WIDTHS = {"mbp-quick": (64, 128), "mbp-default": (64, 128, 256), "mbp-thorough": (64, 128, 256, 512)}


def item_config(width: int, seed: int, **changes: object) -> SweepConfig:
    """A one-cell sweep at the suite's alpha, delta, eps and level (changes override)."""
    settings = dict(alphas=(ALPHA,), widths=(width,), eps=EPS, delta=DELTA, trials=TRIALS, looks=LOOKS,
                    confidence=1.0 - ITEM_LEVEL, compare_random=False, seed=seed)
    settings.update(changes)
    return SweepConfig(**settings)  # type: ignore[arg-type]


def run_item(width: int, seed: int, **changes: object):
    """Run one item in this process (xdist already spreads the items over workers)."""
    return run_sweep(item_config(width, seed, **changes), workers=0)
