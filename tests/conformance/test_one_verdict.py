"""One verdict everywhere: `pytest --mbp-pruner` and `mbp-verify check-pruner` give the same
exit code on the bundled torch adapters (advisory failures reported, never failing)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

# an advisory failure on both (effective_zero_nonfinite: w * mask leaves NaN); a required failure
# (magnitude_order, float16 squares) on torch.ao's L2 norm only
SELECT = "magnitude_order or effective_zero_nonfinite"


@pytest.mark.parametrize(
    "target,expected",
    [("mbp_verify.adapters.torch_prune:L1Unstructured", 0), ("mbp_verify.adapters.torch_ao:WeightNormSparsifier", 1)],
)
def test_plugin_and_check_pruner_agree(pytester, tmp_path, target, expected):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "mbp_verify",
            "check-pruner",
            target,
            "--quick",
            "--workers",
            "1",
            "-k",
            SELECT,
            "--reports-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    plugin = pytester.runpytest_subprocess(
        "--mbp-pruner", target, "--mbp-profile", "mbp-quick", "-p", "no:cacheprovider", "-k", SELECT, "-n", "0"
    )
    assert cli.returncode == expected, cli.stdout + cli.stderr
    assert plugin.ret == expected, plugin.stdout.str()
    assert plugin.parseoutcomes()["failed"] >= 1  # the advisory failures are still reported
