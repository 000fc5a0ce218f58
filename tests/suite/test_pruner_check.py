"""`run_pruner_properties` files a check-pruner run all or nothing: the report folder appears
under its final name only with the suite's report, the findings and the counterexamples in it
(the findings used to be written into the already visible folder after the suite's rename)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mbp_verify.conformance import PrunerUnderTest, reference_pruner
from mbp_verify.conformance.probe import Findings
from mbp_verify.suite.pruner_check import run_pruner_properties
from mbp_verify.suite.report import build_report, write_run_report
from mbp_verify.suite.results import ItemResult, aggregate
from mbp_verify.suite.runner import SuiteRun


def _fake_suite(paths, *, report_dir, extra_args, **_):
    """The suite's side: a report folder written by the plugin, one staged counterexample."""
    items = [ItemResult("pruner.shape", "s", "src", "required", "t::x", "fail")]
    write_run_report(report_dir, build_report({"command": "check-pruner", "duration_s": 0.1}, aggregate(items)))
    staging = Path(extra_args[extra_args.index("--mbp-counterexample-dir") + 1])
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "pruner.shape.npz").write_bytes(b"npz")
    return SuiteRun(Path(report_dir), json.loads((Path(report_dir) / "report.json").read_text()), 1)


def _run(root: Path):
    pruner = PrunerUnderTest(reference_pruner(), spec="reference")
    options = dict(seed=1, profile="mbp-quick", workers=1, timeout_s=5.0, reports_dir=root)
    return run_pruner_properties(pruner, Findings("reference", ()), **options)


def test_the_folder_appears_complete(tmp_path, monkeypatch):
    monkeypatch.setattr("mbp_verify.suite.pruner_check.run_property_suite", _fake_suite)
    run = _run(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LATEST-check", run.folder.name]
    assert {p.name for p in run.folder.iterdir()} >= {"report.json", "findings.md", "findings.json", "counterexamples"}
    assert run.counterexamples == (run.folder / "counterexamples" / "pruner.shape.npz",)
    assert run.counterexamples[0].is_file() and run.outcome.report_dir == run.folder


def test_a_failure_while_filing_leaves_no_folder_and_no_staging(tmp_path, monkeypatch):
    monkeypatch.setattr("mbp_verify.suite.pruner_check.run_property_suite", _fake_suite)

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("mbp_verify.suite.pruner_check.atomic_write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    assert list(tmp_path.iterdir()) == []
