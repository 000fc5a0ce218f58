"""`mbp-verify audit` over many files: the summary, the exit code of the worst file, one report
folder per file equal to the file's own audit, and the same results on every executor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mbp_verify.cli import main
from mbp_verify.seeding import rng_for

FAST = ["--no-consequences", "--seed", "11"]


@pytest.fixture
def weights(tmp_path):
    rng = rng_for(4, "tests.cli.audit_batch")
    folder = tmp_path / "weights"
    folder.mkdir()
    np.savez(folder / "uniform.npz", W1=rng.uniform(-0.1, 0.1, (40, 24)), W2=rng.uniform(-0.2, 0.2, (8, 40)))
    np.savez(folder / "gauss.npz", W1=rng.standard_normal((40, 24)), W2=rng.standard_normal((8, 40)))
    return folder


def _folders(root: Path, kind: str) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(f"{kind}-"))


def _without_header(document: dict) -> dict:
    return {k: v for k, v in document.items() if k not in ("mbp_verify_version",)}


def test_many_files_give_one_report_each_equal_to_the_files_own_audit(weights, tmp_path, capsys):
    reports = tmp_path / "reports"
    code = main(["audit", str(weights / "*.npz"), "--workers", "2", "--reports-dir", str(reports), *FAST])
    assert code == 0
    out = capsys.readouterr()
    assert "2 files: 2 audited; exit code 0" in out.out and "audit: [2/2]" in out.err
    (run,) = _folders(reports, "audits")
    assert (reports / "LATEST-audits").read_text().strip() == run.name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["schema"] == "mbp-verify/audit-summary" and summary["exit_code"] == 0
    assert [(r["path"], r["report_dir"]) for r in summary["files"]] == [
        (str(weights / "gauss.npz"), "1-gauss.npz"),
        (str(weights / "uniform.npz"), "2-uniform.npz"),
    ]
    assert summary["files"][0]["rejected"]["iii"] and not summary["files"][1]["rejected"]["iii"]
    assert "[1-gauss.npz](1-gauss.npz/report.md)" in (run / "summary.md").read_text()
    alone = tmp_path / "alone"
    assert main(["audit", str(weights / "gauss.npz"), "--reports-dir", str(alone), *FAST]) == 0
    (single,) = _folders(alone, "audit")
    batch = run / "1-gauss.npz"
    assert {p.relative_to(batch) for p in batch.rglob("*")} == {p.relative_to(single) for p in single.rglob("*")}
    assert json.loads((batch / "report.json").read_text()) == json.loads((single / "report.json").read_text())
    assert (batch / "report.md").read_text() == (single / "report.md").read_text()


def test_the_worst_file_decides_the_exit_code(weights, tmp_path, capsys):
    (weights / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    out = tmp_path / "summary.json"
    argv = ["audit", str(weights / "*.npz"), "--no-report", "--workers", "1", "--json", str(out), *FAST]
    assert main(argv) == 2
    summary = json.loads(out.read_text())
    assert [r["status"] for r in summary["files"]] == ["input_error", "audited", "audited"]
    assert summary["files"][0]["report_dir"] is None and "cannot be read" in summary["files"][0]["message"]
    assert "broken.npz: input error:" in capsys.readouterr().out
    (weights / "broken.npz").unlink()
    assert main([*argv, "--require", "iii"]) == 1
    assert [r["status"] for r in json.loads(out.read_text())["files"]] == ["required_rejected", "audited"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nothing/*.safetensors"], "no weight file matches 'nothing/*.safetensors'"),
        (["a.npz", "b.npz", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
        (["a.npz", "b.npz", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["audit", *argv, "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_glob_matching_one_file_keeps_the_single_file_output(weights, tmp_path, capsys):
    reports = tmp_path / "reports"
    assert main(["audit", str(weights / "u*.npz"), "--reports-dir", str(reports), *FAST]) == 0
    assert _folders(reports, "audits") == [] and len(_folders(reports, "audit")) == 1
    assert "common K" in capsys.readouterr().out


@pytest.mark.dask
def test_dask_gives_the_local_pools_results(weights, tmp_path):
    pytest.importorskip("distributed")
    documents = []
    for name, extra in (("local", []), ("dask", ["--executor", "dask"])):
        out = tmp_path / f"{name}.json"
        argv = ["audit", str(weights / "*.npz"), "--workers", "2", "--json", str(out), *extra, *FAST]
        assert main([*argv, "--reports-dir", str(tmp_path / name)]) == 0
        (run,) = _folders(tmp_path / name, "audits")
        reports = [
            json.loads((run / r["report_dir"] / "report.json").read_text())
            for r in json.loads(out.read_text())["files"]
        ]
        documents.append((json.loads(out.read_text()), reports))
    assert documents[0] == documents[1]
