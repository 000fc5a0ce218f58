"""`pytest --mbp-pruner pkg.mod:fn` in another project collects and runs properties/pruner."""

from __future__ import annotations

PRUNERS = """
import numpy as np

def good(w, n):
    keep = np.ones(np.size(w), bool)
    keep[np.argsort(np.abs(np.asarray(w, dtype=float)).ravel(), kind="stable")[:n]] = False
    return keep.reshape(np.shape(w))

def over_prunes_ties(w, n):
    a = np.abs(np.asarray(w, dtype=float))
    return np.ones(np.shape(w), bool) if n == 0 else ~(a <= np.sort(a.ravel())[n - 1])
"""


def _run(pytester, target, *args):
    pytester.makepyfile(their_pruners=PRUNERS, test_their_own="def test_theirs():\n    assert True\n")
    return pytester.runpytest_subprocess(
        "--mbp-pruner",
        target,
        "--mbp-profile",
        "mbp-quick",
        "-p",
        "no:cacheprovider",
        "-k",
        "exact_count or magnitude_order or theirs",
        *args,
    )


def test_plugin_runs_the_pruner_suite_in_another_project(pytester):
    result = _run(pytester, "their_pruners:good", str(pytester.path))
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes["passed"] >= 5  # their own test and the selected pruner properties


def test_plugin_reports_a_buggy_pruner_and_saves_the_counterexample_only_when_asked(pytester):
    result = _run(pytester, "their_pruners:over_prunes_ties", "-n", "2", "--mbp-counterexample-dir", "saved")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*test_exact_count*"])
    saved = sorted(p.name for p in (pytester.path / "saved").glob("*.npz"))
    assert any(name.startswith("pruner.exact_count--test_exact_count") for name in saved), saved


def test_plugin_writes_nothing_into_the_users_tree_and_prints_arrays(pytester):
    result = _run(pytester, "their_pruners:over_prunes_ties", "-n", "0")
    assert result.ret == 1
    created = {p.name for p in pytester.path.iterdir()}
    assert not created & {".hypothesis", "mbp-counterexamples"}, created
    out = result.stdout.str()
    assert "input of the failing check: weights=np.array(" in out
    assert "data=data(...)" not in out


ADVISORY = """
import numpy as np
from mbp_verify.conformance import PrunerRules

def _keep(w, n):
    keep = np.ones(np.size(w), bool)
    keep[np.argsort(np.abs(np.asarray(w, dtype=float)).ravel(), kind="stable")[:n]] = False
    return keep.reshape(np.shape(w))

class NaNLeft:
    rules = PrunerRules(tie="index", nan="largest")

    def prune(self, w, n):
        return _keep(w, n)

    def effective_weights(self, w, n):
        return np.asarray(w) * _keep(w, n)  # w * mask leaves NaN where pruned
"""


def test_advisory_failures_are_reported_but_do_not_fail_unless_strict(pytester):
    pytester.makepyfile(their_adapter=ADVISORY)
    args = (
        "--mbp-pruner",
        "their_adapter:NaNLeft",
        "--mbp-profile",
        "mbp-quick",
        "-p",
        "no:cacheprovider",
        "-k",
        "effective_zero",
        "-n",
        "0",
    )
    lenient = pytester.runpytest_subprocess(*args)
    assert lenient.ret == 0, lenient.stdout.str()
    assert lenient.parseoutcomes()["failed"] == 1  # still reported
    lenient.stdout.fnmatch_lines(["*1 advisory property failed (reported, not failing the run; --mbp-strict*"])
    strict = pytester.runpytest_subprocess(*args, "--mbp-strict")
    assert strict.ret == 1


def test_a_session_whose_every_property_skipped_is_not_a_pass(pytester):
    """As check-pruner: properties ran and all skipped (no effective_weights hook), so nothing was
    checked; the user's own passing test does not make it a pass (the session exited 0)."""
    pytester.makepyfile(their_pruners=PRUNERS, test_their_own="def test_theirs():\n    assert True\n")
    args = ["--mbp-pruner", "their_pruners:good", "--mbp-profile", "mbp-quick", "-p", "no:cacheprovider"]
    result = pytester.runpytest_subprocess(*args, "-k", "effective_zero or theirs")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["*every selected property was skipped: nothing was checked*"])
    assert pytester.runpytest_subprocess(*args, "-k", "theirs").ret == 0  # no property selected: pytest as usual
