"""The pytest plugin maps outcomes to the five statuses and writes one report per run."""

import json

import pytest
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition

from mbp_verify.errors import CodeUnderTestError, Inconclusive
from mbp_verify.suite.plugin import _classify

SUITE = """
import pytest
from hypothesis import given, strategies as st
from mbp_verify.suite import mbp_property, Inconclusive, CodeUnderTestError

@mbp_property(id="demo.passes", statement="passes", source="test", tier="required")
def test_pass(mbp_evidence):
    mbp_evidence["checked"] = 3

@mbp_property(id="demo.fails", statement="fails with a shrunk example", source="test")
@given(st.integers(0, 1000))
def test_fail(n):
    assert n < 17

@mbp_property(id="demo.inconclusive", statement="undecided", source="test", tier="advisory")
def test_inconclusive():
    raise Inconclusive("bracket straddles eps")

@mbp_property(id="demo.error", statement="code under test crashed", source="test", tier="advisory")
def test_error():
    raise CodeUnderTestError("pruner raised ZeroDivisionError")

@mbp_property(id="demo.skip", statement="not applicable", source="test", tier="required")
def test_skip():
    pytest.skip("layerwise pruner: global scope does not apply")

@mbp_property(id="demo.param", statement="one failing case fails the property", source="test", tier="advisory")
@pytest.mark.parametrize("x", [1, 2, 3])
def test_param(x):
    assert x != 2

def test_unmarked():
    pass
"""


def _run(pytester, *args):
    pytester.makepyfile(test_demo=SUITE)
    report_dir = pytester.path / "out"
    result = pytester.runpytest_subprocess("--mbp-report-dir", str(report_dir), "--mbp-profile", "mbp-quick", *args)
    return result, report_dir


def test_statuses_and_report_files(pytester):
    result, report_dir = _run(pytester)
    assert sorted(p.name for p in report_dir.iterdir()) == ["junit.xml", "report.json", "report.md"]
    report = json.loads((report_dir / "report.json").read_text())
    statuses = {p["id"]: p["status"] for p in report["properties"]}
    assert statuses == {
        "demo.passes": "pass",
        "demo.fails": "fail",
        "demo.inconclusive": "inconclusive",
        "demo.error": "error",
        "demo.skip": "skip",
        "demo.param": "fail",
    }
    by_id = {p["id"]: p for p in report["properties"]}
    assert by_id["demo.passes"]["evidence"] == {"checked": 3}
    assert "n=17" in by_id["demo.fails"]["counterexample"]
    assert by_id["demo.skip"]["message"] == "layerwise pruner: global scope does not apply"
    assert report["summary"]["exit_code"] == 1
    assert report["summary"]["required_not_passed"] == ["demo.fails"]
    assert report["run"]["hypothesis_profile"] == "mbp-quick"
    md = (report_dir / "report.md").read_text()
    assert "| `demo.fails` | required | **fail** |" in md and "n=17" in md
    junit = (report_dir / "junit.xml").read_text()
    assert 'name="demo.error"' in junit and "<error" in junit and "<skipped" in junit


def test_same_report_with_xdist_workers(pytester):
    _, serial_dir = _run(pytester)
    serial = json.loads((serial_dir / "report.json").read_text())
    (pytester.path / "out").rename(pytester.path / "serial")
    _, parallel_dir = _run(pytester, "-n", "2")
    parallel = json.loads((parallel_dir / "report.json").read_text())
    strip = lambda r: [{k: v for k, v in p.items() if k != "items"} for p in r["properties"]]
    assert strip(serial) == strip(parallel)
    assert parallel["run"]["workers"] == 2


def test_plugin_is_inert_without_options(pytester):
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "out").exists()


def test_blas_threads_pinned_for_workers_unless_the_user_chose(monkeypatch):
    from mbp_verify.suite import pin_blas_threads_for_children

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    pin_blas_threads_for_children()
    import os

    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "3"


@pytest.mark.parametrize(
    "exc, status",
    [
        # a nondeterministic pruner makes Hypothesis draw different data on the replay of a failure:
        # that is the pruner failing the determinism it owes, not the pruner crashing
        (FlakyStrategyDefinition("Inconsistent data generation! Data generation behaved differently"), "fail"),
        (FlakyFailure("Hypothesis found a flaky failure", [RuntimeError("boom")]), "fail"),
        (AssertionError("pruned 3 entries, expected 4"), "fail"),
        (RuntimeError("the pruner raised"), "error"),
        (CodeUnderTestError("the pruner's process was killed by SIGKILL"), "error"),
        (Inconclusive("bracket straddles eps"), "inconclusive"),
    ],
)
def test_classify_maps_each_outcome_to_one_status(exc, status):
    with pytest.raises(BaseException) as excinfo:
        raise exc
    assert _classify(excinfo) == status


INTERRUPTED = """
from mbp_verify.suite import mbp_property

@mbp_property(id="demo.first", statement="passes", source="test", tier="required")
def test_first():
    pass

@mbp_property(id="demo.second", statement="interrupted", source="test", tier="required")
def test_second():
    raise KeyboardInterrupt

@mbp_property(id="demo.third", statement="never ran", source="test", tier="required")
def test_third():
    assert False
"""


def test_an_interrupted_session_writes_no_report(pytester):
    """Ctrl-C after one passing property wrote a report of that property alone, exit_code 0."""
    pytester.makepyfile(test_demo=INTERRUPTED)
    report_dir = pytester.path / "out"
    result = pytester.runpytest_subprocess("--mbp-report-dir", str(report_dir), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert not report_dir.exists() and not list(pytester.path.glob(".out*"))
