"""The certified bracket at every float64 scale, against exact rational arithmetic.

Networks from `extreme.extreme_pair` (per-layer scales 2^-1000..2^1000, subnormal entries,
exact ties, layers spanning 2^2000, every mask kind, input dimensions 1 and 2) are bracketed
and checked by `extreme.violations`: no NaN anywhere, unavailable methods are never numbers,
every upper bound is >= the exact ||f(x) - F(x)|| at reference points of the ball (for
homogeneous activations and d0 = 1 those points give the exact supremum), and the replayed
lower value is within its margin of the exact value at the witness. Every draw comes from
rng_for(root seed, property id, network index). The reported reproducers are pinned below.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from mbp_verify.bounds import bracket_sup_error
from mbp_verify.engine import Network, apply_masks
from mbp_verify.reports.atomic import json_ready
from mbp_verify.seeding import rng_for
from mbp_verify.suite import mbp_property

from .extreme import exact_norm, exact_square_error, extreme_pair, violations

DEFAULT_NETWORKS = 40
SLOW_NETWORKS = 2000


def _sweep(count: int, root_seed: int, property_id: str, evidence: dict) -> None:
    """Bracket `count` extreme networks; record the counts; fail on the first violations."""
    failures: list[str] = []
    unavailable: Counter = Counter()
    infinite = 0
    for index in range(count):
        rng = rng_for(root_seed, property_id, index)
        with np.errstate(all="ignore"):
            pair, description = extreme_pair(rng)
            result = bracket_sup_error(pair, rng=rng, effort="fast", certify_all=True)
        found = violations(pair, result)
        if found:
            failures.append(f"network {index} ({description}): {found[0]}")
        unavailable.update(result.unavailable.keys())
        infinite += result.upper == math.inf
    evidence.update(
        networks_checked=count, violations=len(failures), upper_infinite=infinite, unavailable_methods=dict(unavailable)
    )
    assert not failures, f"{len(failures)} of {count} networks violated exact arithmetic; first: " + "; ".join(
        failures[:3]
    )


@mbp_property(
    id="bounds.extreme_scale_sound",
    statement=f"on {DEFAULT_NETWORKS} extreme-scale networks (layer scales 2^+-1000, subnormals, ties, every mask "
    f"kind, "
    "d0 = 1, 2) no bracket value is NaN, every upper bound is >= the exact error at reference points "
    "and |lower - exact| <= lower_margin at the witness (exact rationals)",
    source="docs/certificates.md (sound at every scale); docs/design.md section 4 (CERTIFIED decisions must be sound)",
)
def test_extreme_scale_sound(mbp_root_seed, mbp_evidence):
    _sweep(DEFAULT_NETWORKS, mbp_root_seed, "bounds.extreme_scale_sound", mbp_evidence)


@pytest.mark.slow
@mbp_property(
    id="bounds.extreme_scale_fuzz",
    statement=f"the same checks as bounds.extreme_scale_sound on {SLOW_NETWORKS} extreme-scale networks: zero "
    f"violations",
    source="docs/certificates.md (sound at every scale: >= 2,000 extreme-scale networks under --full)",
)
def test_extreme_scale_fuzz(mbp_root_seed, mbp_evidence):
    _sweep(SLOW_NETWORKS, mbp_root_seed, "bounds.extreme_scale_fuzz", mbp_evidence)


def _rng_layers(seed: int, widths: list[int], draw) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [draw(rng, l, (widths[l + 1], widths[l])) for l in range(len(widths) - 1)]


def _underflowing_layerwise():
    """W1..W4 ~ 1e-100 N(0, 1), W5 ~ 1e100 N(0, 1); the last mask keeps the entries above the median."""
    ws = _rng_layers(1, [2, 3, 3, 3, 3, 2], lambda rng, l, s: (1e-100 if l < 4 else 1e100) * rng.standard_normal(s))
    masks = [np.ones(w.shape, dtype=bool) for w in ws]
    masks[4] = np.abs(ws[4]) > np.median(np.abs(ws[4]))
    return apply_masks(Network(ws, "relu"), masks)


def _underflowing_scalar():
    """1x1x1: W1 = W2 = sqrt(1.49) 2^-537 (their product underflows), W3 = 2^1000 pruned; exact sup c^2 2^1000."""
    c = math.sqrt(1.49) * 2.0**-537
    net = Network([np.array([[c]]), np.array([[c]]), np.array([[2.0**1000]])], "relu")
    return apply_masks(net, [np.ones((1, 1)), np.ones((1, 1)), np.zeros((1, 1))])


def _huge(activation: str, scale: float):
    """W_l = scale U(-1, 1) (default_rng(3)), widths [2, 3, 3, 3, 3, 2]; only W5[0, 0] pruned."""
    ws = _rng_layers(3, [2, 3, 3, 3, 3, 2], lambda rng, l, s: scale * rng.uniform(-1, 1, s))
    masks = [np.ones(w.shape, dtype=bool) for w in ws]
    masks[4][0, 0] = False
    return apply_masks(Network(ws, activation), masks)


def _tiny_depth_two():
    """Depth-2 ReLU with weights 1e-100: ||f - F|| ~ 1e-200, whose square underflows."""
    ws = _rng_layers(0, [2, 3, 2], lambda rng, l, s: 1e-100 * rng.standard_normal(s))
    masks = [np.ones(w.shape, dtype=bool) for w in ws]
    masks[1][0, 0] = False
    return apply_masks(Network(ws, "relu"), masks)


# name: (pair, an eps below the exact supremum that must not be certified, or None)
REPRODUCERS = {
    "layerwise_underflow_1e-100_1e100": (_underflowing_layerwise, 1e-310),
    "scalar_underflow_2^-537_2^1000": (_underflowing_scalar, 6e-23),
    "softsign_1e100_nan": (lambda: _huge("softsign", 1e100), None),
    "hardtanh_2^280_nan": (lambda: _huge("hardtanh", 2.0**280), None),
    "lower_margin_underflow_1e-100": (_tiny_depth_two, None),
}


@mbp_property(
    id="bounds.extreme_scale_reproducers",
    statement="the reported reproducers (underflowed layerwise products, NaN bounds, an underflowed replay) get sound "
    "brackets: no NaN, JSON-safe, upper >= the exact error, |lower - exact| <= margin, no wrong certificate",
    source="docs/certificates.md (sound at every scale: every reported reproducer pinned)",
)
@pytest.mark.parametrize("name", sorted(REPRODUCERS))
def test_reproducers(name, mbp_evidence):
    build, eps = REPRODUCERS[name]
    with np.errstate(all="ignore"):
        pair = build()
        result = bracket_sup_error(pair, rng=0, effort="fast", certify_all=True)
    assert not violations(pair, result), violations(pair, result)
    json.dumps(json_ready(result.to_dict()), allow_nan=False)
    exact = exact_square_error(pair, result.witness)
    if eps is not None:
        assert exact > 0 and result.decide(eps) != "certified"
    mbp_evidence.update(
        upper=result.upper,
        lower=result.lower,
        lower_margin=result.lower_margin,
        exact_at_witness=exact_norm(exact),
        unavailable=sorted(result.unavailable),
    )
