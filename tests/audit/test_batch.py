"""The audit of many files: path expansion, per-file statuses, and results that equal the single
file's audit whatever the executor or worker count."""

from __future__ import annotations

import numpy as np
import pytest

from mbp_verify.audit import AuditSettings, audit_files, audit_weights, expand_weight_paths
from mbp_verify.audit.batch import EXIT_CODES, audit_file, file_document, format_summary, summary_document
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.theorem.parallel import TaskFailure, TrialPool

SETTINGS = AuditSettings(alpha=None, seed=5, report=False)


@pytest.fixture
def folder(tmp_path):
    rng = rng_for(3, "tests.audit.batch")
    (tmp_path / "sub").mkdir()
    np.savez(tmp_path / "b.npz", W1=rng.uniform(-0.1, 0.1, (40, 24)), W2=rng.uniform(-0.2, 0.2, (8, 40)))
    np.savez(tmp_path / "a10.npz", W1=rng.standard_normal((40, 24)), W2=rng.standard_normal((8, 40)))
    np.save(tmp_path / "sub" / "c.npy", rng.uniform(-1, 1, (16, 16)))
    (tmp_path / "bad.npz").write_bytes(b"not a weight file at all")
    return tmp_path


def test_globs_expand_sorted_once_and_literals_pass_through(folder):
    found = expand_weight_paths([f"{folder}/*.npz", str(folder / "b.npz"), f"{folder}/**/*.npy", "missing.npz"])
    assert found == [str(folder / n) for n in ("a10.npz", "b.npz", "bad.npz")] + [
        str(folder / "sub/c.npy"),
        "missing.npz",
    ]
    with pytest.raises(InputError, match=r"no weight file matches '.*\*\.safetensors'"):
        expand_weight_paths([f"{folder}/*.safetensors"])
    (folder / "odd[1].npz").write_bytes((folder / "b.npz").read_bytes())  # an existing name is never a glob
    assert expand_weight_paths([str(folder / "odd[1].npz")]) == [str(folder / "odd[1].npz")]


def test_a_file_audits_exactly_as_alone_and_statuses_follow_the_exit_contract(folder):
    alone = audit_weights(folder / "a10.npz", alpha=None, seed=5)
    got = audit_file(str(folder / "a10.npz"), SETTINGS)
    assert got.status == "audited" and got.exit_code == 0 and got.files == {}
    assert got.document == file_document(alone, ())
    gated = audit_file(str(folder / "a10.npz"), AuditSettings(alpha=None, seed=5, report=False, required=("iii",)))
    assert (
        gated.status == "required_rejected" and gated.exit_code == 1 and gated.document["required_rejected"] == ["iii"]
    )
    bad = audit_file(str(folder / "bad.npz"), SETTINGS)
    assert bad.status == "input_error" and bad.exit_code == 2 and "not a recognised weight file" in bad.message
    assert EXIT_CODES == {"audited": 0, "required_rejected": 1, "input_error": 2, "error": 3}


def test_a_crash_on_one_file_is_that_files_error(folder, monkeypatch):
    def crash(self, path, progress=None):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(AuditSettings, "audit", crash)
    got = audit_file(str(folder / "b.npz"), SETTINGS)
    assert got.status == "error" and got.exit_code == 3 and "ZeroDivisionError: boom" in got.message


class _DeadPool:
    """An executor whose every task failed on every attempt."""

    def map(self, fn, tasks, on_result=None):
        results = [(TaskFailure("its worker process died on each of 3 attempts", 3), 0.0) for _ in tasks]
        for i, result in enumerate(results):
            on_result(i, result)
        return results


def test_a_task_lost_on_every_attempt_is_reported_not_dropped(folder):
    (got,) = audit_files([str(folder / "b.npz")], SETTINGS, _DeadPool())
    assert got.status == "error" and "worker process died" in got.message and got.exit_code == 3


def test_results_do_not_depend_on_the_worker_count(folder):
    paths = expand_weight_paths([f"{folder}/*.npz", f"{folder}/sub/*.npy"])
    with TrialPool(0) as pool:
        inline = audit_files(paths, SETTINGS, pool)
    with TrialPool(2) as pool:
        seen = []
        spread = audit_files(paths, SETTINGS, pool, lambda i, o: seen.append(i))
    assert [(o.path, o.status, o.message, o.document) for o in inline] == [
        (o.path, o.status, o.message, o.document) for o in spread
    ]
    assert sorted(seen) == [0, 1, 2, 3]
    summary = summary_document(spread, SETTINGS)
    assert [row["status"] for row in summary["files"]] == ["audited", "audited", "input_error", "audited"]
    assert summary["exit_code"] == 2 and summary["counts"] == {
        "audited": 3,
        "required_rejected": 0,
        "input_error": 1,
        "error": 0,
    }
    text = format_summary(summary)
    assert "4 files: 3 audited, 1 input error; exit code 2" in text and "bad.npz: input error:" in text
