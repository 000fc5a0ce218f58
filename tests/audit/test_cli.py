"""`mbp-verify audit`: the table, JSON schema, report folder, --require gate and exit code 2 for bad input."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mbp_verify.cli import main
from mbp_verify.seeding import rng_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path):
    rng = rng_for(9, "tests.audit.cli")
    np.savez(
        tmp_path / "uniform.npz",
        **{
            "fc1.weight": rng.uniform(-0.1, 0.1, (48, 32)),
            "fc1.bias": np.zeros(48),
            "fc2.weight": rng.uniform(-0.2, 0.2, (10, 48)),
        },
    )
    np.savez(tmp_path / "gauss.npz", W1=rng.standard_normal((48, 32)), W2=rng.standard_normal((10, 48)))
    np.savez(tmp_path / "init.npz", W1=rng.uniform(-1, 1, (48, 32)), W2=rng.uniform(-1, 1, (10, 48)))
    return tmp_path


def _audit(files, *argv):
    return main(["audit", *argv, "--reports-dir", str(files / "reports")])


def test_audit_writes_table_json_and_report_folder(files, capsys):
    out = files / "out.json"
    assert _audit(files, str(files / "uniform.npz"), "--json", str(out), "--effort", "fast") == 0
    document = json.loads(out.read_text())
    assert document["schema"] == "mbp-verify/audit" and document["schema_version"] == 1
    layer = document["layers"][0]
    assert layer["name"] == "fc1.weight" and layer["shape"] == [48, 32]
    assert set(layer["assumptions"]) == {"i", "ii", "iii"}
    assert layer["assumptions"]["iii"]["status"] in ("consistent", "rejected")
    assert set(layer["assumptions"]["iii"]["pvalues"]) >= {"uniform_magnitudes", "rows", "top_singular"}
    assert document["chain"]["widths"] == [32, 48, 10] and document["consequences"]["real"]["upper"] > 0
    folder = Path(document["report_dir"])
    assert {p.name for p in folder.iterdir()} == {"report.json", "report.md", "figures"}
    assert sorted(p.name for p in (folder / "figures").iterdir()) == [
        "layer01-fc1.weight.png",
        "layer02-fc2.weight.png",
    ]
    assert json.loads((folder / "report.json").read_text())["layers"] == document["layers"]
    assert (files / "reports" / "LATEST-audit").read_text().strip() == folder.name
    text = capsys.readouterr().out
    assert "fc1.weight" in text and "common K" in text and "report:" in text


def test_require_gate_exit_codes(files, capsys):
    assert _audit(files, str(files / "gauss.npz"), "--no-consequences", "--no-report") == 0
    assert _audit(files, str(files / "gauss.npz"), "--no-consequences", "--no-report", "--require", "iii") == 1
    assert "required hypotheses rejected: iii" in capsys.readouterr().out
    assert _audit(files, str(files / "uniform.npz"), "--no-consequences", "--no-report", "--require", "i,ii,iii") == 0


def test_compare_reports_movement(files):
    out = files / "cmp.json"
    assert (
        _audit(
            files,
            str(files / "gauss.npz"),
            "--compare",
            str(files / "init.npz"),
            "--no-consequences",
            "--no-report",
            "--json",
            str(out),
        )
        == 0
    )
    movement = json.loads(out.read_text())["movement"]
    assert [m["name"] for m in movement] == ["W1", "W2"] and all(m["relative_frobenius"] > 0 for m in movement)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["missing.npz"], "does not exist"),
        (["uniform.npz", "--layers", "bias"], "cannot be audited"),
        (["uniform.npz", "--layers", "("], "regular expression"),
        (["uniform.npz", "--alpha", "1.5"], "alpha"),
        (["uniform.npz", "--alpha", "0", "--no-consequences"], "alpha"),  # pinned: was ignored, exit 0
        (["uniform.npz", "--require", "iv"], "--require"),
        (["uniform.npz", "--draws", "20"], "too coarse"),
        (["uniform.npz", "--level", "1.5"], "--level"),
        (["uniform.npz", "--activation", "relu,tanh,relu"], "activations given"),
        (["uniform.npz", "--compare", "gauss.npz"], "lack"),
        (["garbage.bin"], "not a recognised weight file"),
        (["model.pt"], "needs torch"),
    ],
)
def test_bad_input_exits_2_with_one_line(files, capsys, monkeypatch, argv, message):
    (files / "garbage.bin").write_bytes(b"definitely not a weight file")
    (files / "model.pt").write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.chdir(files)
    assert _audit(files, *argv, "--no-report") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("audit:")]
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_runs_as_a_module_subprocess(files):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mbp_verify",
            "audit",
            str(files / "uniform.npz"),
            "--no-report",
            "--no-consequences",
            "--json",
            str(files / "sub.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((files / "sub.json").read_text())["layers"][1]["name"] == "fc2.weight"
    assert "audit: (iii) on fc1.weight" in done.stderr  # progress goes to stderr, the table to stdout
    (files / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    done = subprocess.run(
        [sys.executable, "-m", "mbp_verify", "audit", str(files / "broken.npz")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
