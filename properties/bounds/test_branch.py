"""Branch-and-bound over the input at every float64 scale, against exact rational arithmetic.

The extreme-scale networks of `extreme.extreme_pair` (d0 = 1, 2) are bracketed with a
branch-and-bound (target ratio 1, a short time limit, so it stops mid-search with open boxes)
and checked by `extreme.violations`: every upper bound, the branch-and-bound one included, is
>= the exact error at the reference points (for d0 = 1 and homogeneous activations, the exact
supremum), and the replayed lower value is within its margin of the exact value at the witness.
"""

from __future__ import annotations

import numpy as np

from mbp_verify.bounds import bracket_sup_error
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property

from .extreme import extreme_pair, violations

NETWORKS = 16


@mbp_property(
    id="bounds.branch_extreme_sound",
    statement=f"on {NETWORKS} extreme-scale networks (layer scales 2^+-1000, subnormals, ties, every mask kind, "
    "d0 = 1, 2) the branch-and-bound upper bound is >= the exact error at reference points and its "
    "replayed witness is within lower_margin of the exact value (exact rationals)",
    source="docs/certificates.md (branch-and-bound is certified like every other upper bound)",
)
def test_branch_extreme_sound(mbp_root_seed, mbp_evidence):
    failures, branched = [], 0
    for index in range(NETWORKS):
        rng = rng_for(mbp_root_seed, "bounds.branch_extreme_sound", index)
        with np.errstate(all="ignore"):
            pair, description = extreme_pair(rng)
            result = bracket_sup_error(pair, rng=rng, effort="fast", target_ratio=1.0, time_limit=0.05)
        branched += "branch_and_bound" in result.upper_bounds
        found = violations(pair, result)
        if found:
            failures.append(f"network {index} ({description}): {found[0]}")
    mbp_evidence.update(networks_checked=NETWORKS, branched=branched, violations=len(failures))
    assert branched > 0, "no network was branched: the property checks nothing"
    assert not failures, "; ".join(failures[:3])
