"""The statistical budget of the theorem properties: each declares its share of the suite's
false-failure budget (`mbp_property(false_failure=...)`), and `theorem.false_failure_budget`
computes every share exactly and checks it against the declaration.

Every statistical item of `properties/theorem` (one pytest item per width or control, spread by
xdist) is its own one-cell sequential design at level ITEM_LEVEL = 1e-5 (no communication between
workers is needed: the split is the first step of Holm). An item can fail a correct engine in
two ways, and `theorem.false_failure_budget` adds both up exactly for every item of the largest
profile:

- a type-I error of its test (refuting a true guarantee): the exact sequential error rate, <= 1e-5;
- lack of power: a true guarantee not established (guarantee items), or a broken setting not
  refuted (negative controls). The guarantee items use eps >= EPS_MARGIN times the largest
  certified upper bound seen at their widths; that bound is a product of spectral norms, which
  concentrate at the scale d^(-1/2), so the per-trial probability of an uncertified trial is far
  below GUARANTEE_POWER_AT = 0.005, where the design's shortfall is computed. The controls'
  shortfall is computed at a violation probability of CONTROL_POWER_AT = 0.9 (they violate in
  every trial seen). The review-reading item's bootstrap intervals are at 1 - 2 ITEM_LEVEL.

Declared shares (each at least the exact computation, for the largest profile):
GUARANTEE_SHARE for all widths of `theorem.guarantee_holds` together, CONTROL_SHARE for the three
negative controls together, REVIEW_SHARE for the review-reading item.
"""

from __future__ import annotations

from mbp_verify.theorem import SweepConfig, SweepResult, run_sweep

__all__ = [
    "GUARANTEE_SHARE",
    "CONTROL_SHARE",
    "REVIEW_SHARE",
    "ITEM_LEVEL",
    "ALPHA",
    "DELTA",
    "EPS",
    "EPS_MARGIN",
    "TRIALS",
    "LOOKS",
    "GUARANTEE_WIDTHS",
    "GUARANTEE_POWER_AT",
    "CONTROL_POWER_AT",
    "item_config",
    "run_item",
]

ITEM_LEVEL = 1e-5
GUARANTEE_SHARE = 5.8e-5  # exact: 4 widths x 1.432e-5 = 5.727e-5
CONTROL_SHARE = 1e-10  # exact: 3 x 4.4e-16
REVIEW_SHARE = 2 * ITEM_LEVEL
ALPHA = 0.3
DELTA = 0.25
EPS = 0.15
EPS_MARGIN = 1.25
TRIALS = 90  # looks every 9 trials: 45 clean trials pass, an all-violated control is refuted at 18
LOOKS = 10
GUARANTEE_POWER_AT = 0.005
CONTROL_POWER_AT = 0.9
GUARANTEE_WIDTHS = {"mbp-quick": (64, 128), "mbp-default": (64, 128, 256), "mbp-thorough": (64, 128, 256, 512)}


def item_config(width: int, seed: int, **changes: object) -> SweepConfig:
    """A one-cell sweep at the suite's alpha, delta, eps and level (changes override)."""
    settings = dict(
        alphas=(ALPHA,),
        widths=(width,),
        eps=EPS,
        delta=DELTA,
        trials=TRIALS,
        looks=LOOKS,
        confidence=1.0 - ITEM_LEVEL,
        random_trials=0,
        seed=seed,
    )
    settings.update(changes)
    return SweepConfig(**settings)  # type: ignore[arg-type]


def run_item(width: int, seed: int, **changes: object) -> SweepResult:
    """Run one item in this process (xdist already spreads the items over workers)."""
    return run_sweep(item_config(width, seed, **changes), workers=0)
