"""`pytest --mbp-pruner pkg.mod:fn` in another project collects and runs properties/pruner."""

from __future__ import annotations

PRUNERS = '''
import numpy as np

def good(w, n):
    keep = np.ones(np.size(w), bool)
    keep[np.argsort(np.abs(np.asarray(w, dtype=float)).ravel(), kind="stable")[:n]] = False
    return keep.reshape(np.shape(w))

def over_prunes_ties(w, n):
    a = np.abs(np.asarray(w, dtype=float))
    return np.ones(np.shape(w), bool) if n == 0 else ~(a <= np.sort(a.ravel())[n - 1])
'''


def _run(pytester, target, *args):
    pytester.makepyfile(their_pruners=PRUNERS, test_their_own="def test_theirs():\n    assert True\n")
    return pytester.runpytest_subprocess("--mbp-pruner", target, "--mbp-profile", "mbp-quick", "-p", "no:cacheprovider",
                                         "-k", "exact_count or magnitude_order or theirs", *args)


def test_plugin_runs_the_pruner_suite_in_another_project(pytester):
    result = _run(pytester, "their_pruners:good", str(pytester.path))
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes["passed"] >= 5  # their own test and the selected pruner properties


def test_plugin_reports_a_buggy_pruner_and_saves_the_counterexample(pytester):
    result = _run(pytester, "their_pruners:over_prunes_ties", "-n", "2")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*test_exact_count*"])
    saved = sorted(p.name for p in (pytester.path / "mbp-counterexamples").glob("*.npz"))
    assert any(name.startswith("pruner.exact_count--test_exact_count") for name in saved), saved
