"""Group-sequential exact binomial tests: stop at a look once the evidence suffices.

Trials are examined at looks n_1 < n_2 < ... < n_K (cumulative counts). At every look the
exact binomial p-value of the fixed-n test is compared with one *nominal* level, calibrated so
that the probability of ever crossing, computed exactly for the whole sequential design (a
dynamic programme over the binomial increments between looks), is at most the design's level.
So the error rate stated is the sequential design's own, not the fixed-n one.

Direction "below" tests H0: p >= delta (reject when k is small: a guarantee is established);
"above" tests H0: p <= delta (reject when k is large: a guarantee is refuted). Both crossing
events are monotone in p, so the worst case over H0 is p = delta, where the DP is evaluated.

The sequential p-value of an observed prefix of looks is G(t), t the smallest nominal p-value
seen so far and G(t) the exact probability under p = delta that the full design ever sees one
<= t. Stopping early only raises t, so P(p-value <= u) <= u: it may enter Holm's procedure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats

from .._validation import validate_integer, validate_probability
from ..errors import InputError

__all__ = ["Direction", "GroupSequentialDesign", "group_sequential_design", "equally_spaced_looks"]

Direction = Literal["below", "above"]


def equally_spaced_looks(n_max: int, count: int) -> tuple[int, ...]:
    """`count` looks at ceil(j * n_max / count), j = 1..count (duplicates removed)."""
    n_max, count = validate_integer(n_max, "n_max", 1), validate_integer(count, "count", 1)
    return tuple(sorted({-(-j * n_max // count) for j in range(1, count + 1)}))


def _nominal_table(looks: Sequence[int], delta: float, direction: Direction) -> tuple[np.ndarray, ...]:
    """Fixed-n p-values by count k = 0..n_j at every look (increasing in k for "below")."""
    table = []
    for n in looks:
        k = np.arange(n + 1)
        table.append(stats.binom.cdf(k, n, delta) if direction == "below" else stats.binom.sf(k - 1, n, delta))
    return tuple(table)


def _boundaries(table: Sequence[np.ndarray], nominal: float, direction: Direction) -> tuple[int, ...]:
    """Reject at look j when k <= b_j ("below", b_j = -1: never) or k >= b_j ("above", n_j + 1: never)."""
    bounds = []
    for values in table:
        if nominal <= 0.0:  # a nominal level of 0 rejects nothing (even where a tail underflows to 0)
            bounds.append(-1 if direction == "below" else values.size)
        elif direction == "below":
            bounds.append(int(np.searchsorted(values, nominal, side="right")) - 1)
        else:
            hits = np.flatnonzero(values <= nominal)
            bounds.append(int(hits[0]) if hits.size else values.size)
    return tuple(bounds)


def _stop_probabilities(looks: Sequence[int], bounds: Sequence[int], direction: Direction, p: float) -> np.ndarray:
    """Exact P(first crossing at look j) for j = 1..K when each trial fails with probability p."""
    alive = np.ones(1)
    previous = 0
    crossing = np.zeros(len(looks))
    for j, (n, b) in enumerate(zip(looks, bounds)):
        step = n - previous
        alive = np.convolve(alive, stats.binom.pmf(np.arange(step + 1), step, p))
        region = slice(0, b + 1) if direction == "below" else slice(b, n + 1)
        crossing[j] = alive[region].sum()
        alive[region] = 0.0
        previous = n
    return crossing


@dataclass(frozen=True, eq=False)
class GroupSequentialDesign:
    """A calibrated group-sequential exact binomial test; methods give its exact error rates."""

    looks: tuple[int, ...]
    delta: float
    level: float
    direction: Direction
    nominal: float
    boundaries: tuple[int, ...]
    _table: tuple[np.ndarray, ...] = field(repr=False)

    @property
    def can_reject(self) -> bool:
        """False when no outcome at any look could reach the level (too few trials)."""
        return any(0 <= b <= n for b, n in zip(self.boundaries, self.looks))

    def crosses(self, look: int, k: int) -> bool:
        """Whether k events among the first looks[look] trials cross the boundary at that look."""
        bound = self.boundaries[look]
        return k <= bound if self.direction == "below" else k >= bound

    def error_rate(self) -> float:
        """Exact type-I error of the whole design (at the worst case p = delta)."""
        return self.crossing_probability(self.delta)

    def crossing_probability(self, p: float) -> float:
        """Exact probability of crossing at some look when the true event probability is p."""
        p = validate_probability(p, "event probability", closed=True)
        return float(_stop_probabilities(self.looks, self.boundaries, self.direction, p).sum())

    def expected_trials(self, p: float) -> float:
        """Expected number of trials when stopping at the first crossing (or at the last look)."""
        p = validate_probability(p, "event probability", closed=True)
        stops = _stop_probabilities(self.looks, self.boundaries, self.direction, p)
        return float(np.dot(stops, self.looks) + (1.0 - stops.sum()) * self.looks[-1])

    def nominal_pvalue(self, look: int, k: int) -> float:
        """The fixed-n exact p-value of k events at look `look`."""
        return float(self._table[look][k])

    def pvalue(self, counts: Sequence[int]) -> float:
        """Sequential p-value of the counts observed at the first len(counts) looks."""
        if not 1 <= len(counts) <= len(self.looks):
            raise InputError(f"need counts for 1..{len(self.looks)} looks, got {len(counts)}")
        for look, (k, n) in enumerate(zip(counts, self.looks)):
            if not 0 <= k <= n or (look and k < counts[look - 1]):
                raise InputError(f"counts {list(counts)} are not cumulative event counts for looks {list(self.looks)}")
        smallest = min(self.nominal_pvalue(j, k) for j, k in enumerate(counts))
        bounds = _boundaries(self._table, smallest, self.direction)
        return min(1.0, float(_stop_probabilities(self.looks, bounds, self.direction, self.delta).sum()))

    def to_dict(self) -> dict:
        return {
            "method": "group-sequential exact binomial (one nominal level, exact crossing probability)",
            "direction": self.direction,
            "looks": list(self.looks),
            "delta": self.delta,
            "level": self.level,
            "nominal_level": self.nominal,
            "boundaries": list(self.boundaries),
            "exact_error_rate": self.error_rate(),
        }


def group_sequential_design(
    looks: Sequence[int], delta: float, level: float, direction: Direction
) -> GroupSequentialDesign:
    """Calibrate the largest nominal level whose exact sequential error rate is <= `level`."""
    checked = tuple(validate_integer(n, "a look (trial count)", 1) for n in looks)
    if not checked or any(b <= a for a, b in zip(checked, checked[1:])):
        raise InputError(f"looks must be increasing positive trial counts, got {list(looks)}")
    if direction not in ("below", "above"):
        raise InputError(f"direction must be 'below' or 'above', got {direction!r}")
    delta = validate_probability(delta, "delta")
    level = validate_probability(level, "level")
    table = _nominal_table(checked, delta, direction)
    candidates = np.unique(np.concatenate(table))
    candidates = candidates[candidates <= level]
    nominal, lo, hi = 0.0, 0, candidates.size - 1
    while lo <= hi:  # the crossing probability is non-decreasing in the nominal level
        mid = (lo + hi) // 2
        rate = _stop_probabilities(checked, _boundaries(table, candidates[mid], direction), direction, delta).sum()
        if rate <= level:
            nominal, lo = float(candidates[mid]), mid + 1
        else:
            hi = mid - 1
    return GroupSequentialDesign(
        checked, delta, level, direction, nominal, _boundaries(table, nominal, direction), table
    )
