"""Derivations with extreme or many-digit activation parameters, and what `attained` may claim.

sympy's polynomial code writes exp(p/q x) as exp(x/q)**p with p + 1 dense coefficients, so
`softplus(beta=9.87654321)` (p = 987654321) used to take every byte of the machine's memory in
`sp.factor`; so did beta = 1e10, 1e-40, 1e300 and a float32 value printed in full
(1.7000000476837158). The derivations run in a child process under an address-space limit, so a
regression fails with MemoryError here instead of taking the machine down.
"""

import json
import math
import subprocess
import sys
import textwrap

import pytest

from mbp_verify.engine import parse_activation
from mbp_verify.errors import InputError
from mbp_verify.symbolic import derive_lipschitz

HUGE_POWERS = ["9.87654321", "1.7000000476837158", "1e10", "1e-40", "1e300", "1e-300", "2.2250738585072014e-308"]
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from mbp_verify.symbolic import derive_lipschitz
    out = {}
    for beta in sys.argv[1:]:
        d = derive_lipschitz(f"softplus(beta={beta})")
        out[beta] = [d.lipschitz, d.kind, d.exact, d.attained, d.slope_min, d.slope_max, d.sigma0]
    print(json.dumps(out))
    """
)


def test_softplus_with_large_exponential_powers_derives_within_bounded_memory():
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, *HUGE_POWERS], capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout)
    for beta in HUGE_POWERS:
        k, kind, exact, attained, slope_min, slope_max, sigma0 = results[beta]
        # sup softplus' = 1, a limit at +inf: never attained; softplus' > 0, so slopes lie in [0, 1]
        assert (k, kind, exact, attained) == (1.0, "exact", "1", False), beta
        assert slope_min <= 0.0 and slope_max >= 1.0
        assert sigma0 == pytest.approx(math.log(2) / float(beta), rel=1e-15)


@pytest.mark.parametrize("beta", ["5e-324", "4e-309", "1e-310"])
def test_softplus_beta_whose_sigma0_leaves_the_float64_range_is_an_input_error(beta):
    # log(2)/beta is beyond (or next to) the float64 range: before, "OverflowError: integer division
    # result too large for a float" from sympy's lambdify (and a forward pass of +inf everywhere).
    with pytest.raises(InputError, match="smallest normal"):
        parse_activation(f"softplus(beta={beta})")


def test_a_saturated_derivative_is_not_claimed_attained():
    # sigma' = (sigmoid(x) + sigmoid(9.87654321 x))/2 -> 1 as x -> oo, never reaching it; sigma''
    # reads as 0.0 in float64 from x = 3.6 on. Those points used to be taken for critical points,
    # and the supremum reported as attained at x = 35.788.
    expr = "softplus(x)/2 + log(1+exp(987654321*x/100000000))*100000000/987654321/2"
    d = derive_lipschitz("custom", expr=expr)
    assert d.lipschitz == 1.0 and d.kind == "exact"
    assert d.attained is False


def test_a_root_of_the_second_derivative_on_the_scan_grid_is_still_attained():
    # sigma'' = 0 exactly at the grid point x = 0 (a one-point zero run between opposite signs):
    # the supremum 1/4 + 9.87654321/4 is attained there.
    d = derive_lipschitz("custom", expr="sigmoid(x) + sigmoid(987654321*x/100000000)")
    assert d.lipschitz == pytest.approx(0.25 + 9.87654321 / 4, rel=1e-12)
    assert d.lipschitz >= 0.25 + 9.87654321 / 4
    assert d.attained is True and d.argsup == 0.0
