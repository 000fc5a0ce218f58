"""Run reports are complete or absent: atomic writes and staged folders."""

import json
import os

import pytest

from mbp_verify.reports.atomic import atomic_write_json, atomic_write_text
from mbp_verify.reports.folders import mark_latest, new_run_folder
from mbp_verify.suite.report import build_report, render_junit, render_markdown, write_run_report
from mbp_verify.suite.results import ItemResult, aggregate, combine_statuses, run_exit_code


def _items():
    base = dict(statement="s", source="src", counterexample=None, evidence={})
    return [
        ItemResult("a.one", tier="required", nodeid="t::a[1]", status="pass", **base),
        ItemResult("a.one", tier="required", nodeid="t::a[2]", status="inconclusive", **base),
        ItemResult("b.two", tier="advisory", nodeid="t::b", status="fail", **base),
    ]


def test_aggregation_precedence():
    results = aggregate(_items())
    assert [(r.id, r.status) for r in results] == [("a.one", "inconclusive"), ("b.two", "fail")]
    assert run_exit_code(results) == 1  # a required property is not established
    assert combine_statuses(["skip", "pass"]) == "pass"
    assert combine_statuses(["pass", "error", "fail"]) == "fail"
    with pytest.raises(ValueError):
        combine_statuses(["passed"])


def test_advisory_failures_do_not_fail_the_run():
    base = dict(statement="s", source="src", counterexample=None, evidence={})
    results = aggregate([ItemResult("x.y", tier="advisory", nodeid="n", status="fail", **base)])
    assert run_exit_code(results) == 0


def test_a_run_in_which_every_property_skipped_is_not_a_pass():
    base = dict(statement="s", source="src", counterexample=None, evidence={})
    skipped = [
        ItemResult(i, tier=t, nodeid=i, status="skip", **base) for i, t in [("a.b", "required"), ("c.d", "advisory")]
    ]
    assert run_exit_code(aggregate(skipped)) == 1  # nothing was checked
    one_pass = skipped + [ItemResult("e.f", tier="advisory", nodeid="e", status="pass", **base)]
    assert run_exit_code(aggregate(one_pass)) == 0


def test_write_run_report_is_all_or_nothing(tmp_path, monkeypatch):
    report = build_report({"command": "run", "duration_s": 1.0}, aggregate(_items()))
    folder = write_run_report(tmp_path / "run-1", report)
    assert json.loads((folder / "report.json").read_text())["summary"]["exit_code"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run-1"]

    def boom(_report):
        raise RuntimeError("interrupted")

    monkeypatch.setattr("mbp_verify.suite.report.render_junit", boom)
    with pytest.raises(RuntimeError):
        write_run_report(tmp_path / "run-2", report)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-1"]  # no half report left behind


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["x.json"]


def test_markdown_and_junit_render_every_property():
    report = build_report({"command": "run", "duration_s": 0.5}, aggregate(_items()))
    md = render_markdown(report)
    assert "`a.one`" in md and "`b.two`" in md and "## Failures" in md
    junit = render_junit(report)
    assert junit.count("<testcase") == 2 and 'type="inconclusive"' in junit


def test_new_run_folders_are_unique_and_latest_is_recorded(tmp_path):
    first = new_run_folder("run", 7, tmp_path)
    first.mkdir()
    second = new_run_folder("run", 7, tmp_path)
    assert second != first
    mark_latest(first)
    assert (tmp_path / "LATEST-run").read_text().strip() == first.name


def test_staged_folder_leaves_nothing_under_the_final_name_on_failure(tmp_path):
    from mbp_verify.reports.folders import staged_folder

    target = tmp_path / "run-x"
    with pytest.raises(RuntimeError):
        with staged_folder(target) as staging:
            (staging / "report.json").write_text("{}")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with staged_folder(target) as staging:
        (staging / "report.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["run-x"] and (target / "report.json").is_file()


def test_json_ready_keeps_text_and_maps_non_finite_numbers_to_strings():
    import math

    import numpy as np

    from mbp_verify.reports.atomic import json_ready

    value = {"policy": "NaN policy: raise", "x": np.float64("inf"), "y": [math.nan, np.int64(3)], 2: (np.array([1.5]),)}
    assert json_ready(value) == {"policy": "NaN policy: raise", "x": "inf", "y": ["nan", 3], "2": [[1.5]]}
    assert json_ready({"o": object()}, unknown_as_text=True)["o"].startswith("<object")
    with pytest.raises(TypeError):
        json_ready({"o": object()})
