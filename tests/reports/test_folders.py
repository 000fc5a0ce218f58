"""Run folders: a run publishes under a name no other run holds, and leaves no staging folder."""

from __future__ import annotations

import pytest

from mbp_verify.reports.folders import new_run_folder, staged_run_folder


def _fill(staging, text: str) -> None:
    staging.mkdir(parents=True)
    (staging / "report.json").write_text(text)


def test_two_runs_given_the_same_name_publish_side_by_side_and_replace_nothing(tmp_path):
    """Two runs started in the same second with one seed got the same name; the second one
    replaced the first one's report (`run`, `compare`) or crashed with exit 3 (`check-pruner`)."""
    name = new_run_folder("run", 7, tmp_path)
    assert new_run_folder("run", 7, tmp_path) == name  # nothing reserves a name before publishing
    with staged_run_folder(name) as first, staged_run_folder(name.with_name(name.name)) as second:
        second.staging = second.staging.with_name(second.staging.name + "-other")  # another process
        _fill(first.staging, "first")
        _fill(second.staging, "second")
        assert first.publish() == name
        assert second.publish() == name.with_name(name.name + "-2")
    assert (name / "report.json").read_text() == "first"
    assert (second.folder / "report.json").read_text() == "second"
    with staged_run_folder(second.folder) as third:  # a name with a suffix counts on from it
        _fill(third.staging, "third")
        assert third.publish().name == name.name + "-3"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name.name, name.name + "-2", name.name + "-3"]


def test_the_staging_folder_is_removed_on_error_and_when_not_published(tmp_path):
    name = new_run_folder("check-pruner", 1, tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with staged_run_folder(name) as staged:
            _fill(staged.staging, "half")
            raise KeyboardInterrupt
    with staged_run_folder(name) as staged:
        _fill(staged.staging, "no report: not published")
    assert list(tmp_path.iterdir()) == []
