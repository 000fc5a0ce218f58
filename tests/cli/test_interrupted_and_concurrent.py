"""Interrupted runs and runs that share a report folder name.

A run stopped by Ctrl-C (SIGINT to its process group) or by SIGTERM exits 130 / 143 and leaves
no report, complete-looking or hidden, and no worker. Two runs that picked the same report folder
name (started in the same second with one seed) both publish, side by side; neither replaces the
other's report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import mbp_verify.audit.batch as audit_batch
import mbp_verify.audit.report as audit_report
import mbp_verify.cli.compare as compare_cli
import mbp_verify.cli.run as run_cli
import mbp_verify.cli.theorem as theorem_cli
import mbp_verify.suite.pruner_check as pruner_check
from mbp_verify.cli import main

from .test_hostile_pruners import _tagged

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "tests.cli.hostile"


def _taken(root: Path, name: str) -> Path:
    """A report folder another run published under `name` a moment ago."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "report.json").write_text('{"the": "other run"}')
    return folder


# (command line, module whose new_run_folder picks the name, report file); the pre-0.6.1 outcome:
# check-pruner crashed with exit 3 (os.replace onto a full folder), run and compare replaced it.
SAME_NAME = {
    "check-pruner": (
        ["check-pruner", f"{HOSTILE}.calls:correct", "--quick", "--workers", "1", "-k", "test_shape"],
        pruner_check,
        "report.json",
    ),
    "compare": (["compare", f"{HOSTILE}.calls:correct", f"{HOSTILE}.calls:raise_on_nan"], compare_cli, "compare.json"),
    "run": (["run", "--quick", "--workers", "1", "-k", "theorem_count"], run_cli, "report.json"),
}


@pytest.mark.parametrize(
    "command", [pytest.param(c, marks=[pytest.mark.slow] if c == "run" else []) for c in sorted(SAME_NAME)]
)
def test_a_run_never_replaces_a_report_published_under_its_name_meanwhile(command, tmp_path, monkeypatch, capsys):
    argv, module, report = SAME_NAME[command]
    name = f"{command}-20260101T000000Z-seed1"
    other = _taken(tmp_path / "reports", name)
    monkeypatch.setattr(module, "new_run_folder", lambda *args: tmp_path / "reports" / name)
    out = tmp_path / "out.json"
    code = main([*argv, "--seed", "1", "--reports-dir", str(tmp_path / "reports"), "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err, captured.err[-2000:]
    assert json.loads((other / "report.json").read_text()) == {"the": "other run"}
    ours = tmp_path / "reports" / f"{name}-2"
    assert (ours / report).is_file() and f"{name}-2" in captured.out
    assert (tmp_path / "reports" / f"LATEST-{command.split('-')[0]}").read_text().strip() == ours.name
    assert sorted(p.name for p in (tmp_path / "reports").iterdir() if p.is_dir()) == [name, ours.name]
    if command != "run":
        assert json.loads(out.read_text())["report_dir"] == str(ours)


def _start(args: list[str], cwd: Path, tag: str) -> tuple[subprocess.Popen, list[str]]:
    environment = {
        **os.environ,
        "MBP_TEST_TAG": tag,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mbp_verify", *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()
    return process, lines


# (command line, signal, sent to the group (Ctrl-C) or the command alone (kill), exit code)
SIGNALS = {
    "check-pruner_sigterm": (["check-pruner", f"{HOSTILE}.slow:prune", "--quick", "--workers", "1"], "TERM", 143),
    "check-pruner_ctrl_c": (["check-pruner", f"{HOSTILE}.slow:prune", "--quick", "--workers", "2"], "INT", 130),
    "run_ctrl_c": (["run", "--quick", "--workers", "2"], "INT", 130),
    "run_sigterm": (["run", "--quick", "--workers", "2"], "TERM", 143),
}


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux only")
@pytest.mark.parametrize("case", sorted(SIGNALS))
def test_an_interrupted_run_exits_130_or_143_and_leaves_no_report(case, tmp_path):
    """Before: Ctrl-C during `run` left a report of the properties that had finished, exit code 0
    inside, under the run's final name; SIGTERM left hidden staging folders behind (exit -15)."""
    args, name, code = SIGNALS[case]
    tag = uuid.uuid4().hex
    process, lines = _start([*args, "--reports-dir", "reports"], tmp_path, tag)
    deadline = time.monotonic() + 120
    while not any(" workers, profile " in line for line in lines) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(8)  # the suite is running (the whole run takes over 40 s)
    assert process.poll() is None, "".join(lines)[-2000:]
    if name == "INT":
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGTERM)
    assert process.wait(60) == code, "".join(lines)[-2000:]
    time.sleep(5)
    left = _tagged(tag)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"{len(left)} processes outlived the interrupted command"
    text = "".join(lines)
    assert "Traceback" not in text and ("terminated" if name == "TERM" else "interrupted") in text
    assert not (tmp_path / "reports").exists() or list((tmp_path / "reports").iterdir()) == []


def _weights(folder: Path, name: str) -> Path:
    rng = np.random.default_rng(3)
    path = folder / name
    np.savez(path, W1=rng.uniform(-0.1, 0.1, (24, 16)), W2=rng.uniform(-0.2, 0.2, (8, 24)))
    return path


# (kind of folder, module whose new_run_folder picks the name, command line after the weight files,
# number of weight files, report file); before 0.6.1 audit replaced the other run's folder and theorem
# crashed on its checkpoint (exit 3).
OTHER_COMMANDS = {
    "audit": (audit_report, ["--no-consequences", "--draws", "159"], 1, "report.json"),
    "audits": (audit_batch, ["--no-consequences", "--draws", "159"], 2, "summary.json"),
    "theorem": (
        theorem_cli,
        ["--alpha", "0.3", "--widths", "16", "--trials", "4", "--looks", "1", "--delta", "0.25"],
        0,
        "theorem.json",
    ),
}


@pytest.mark.parametrize("kind", sorted(OTHER_COMMANDS))
def test_audit_and_theorem_never_replace_a_folder_of_their_name(kind, tmp_path, monkeypatch, capsys):
    module, options, count, report = OTHER_COMMANDS[kind]
    name = f"{kind}-20260101T000000Z-seed1"
    other = _taken(tmp_path / "reports", name)
    monkeypatch.setattr(module, "new_run_folder", lambda *args: tmp_path / "reports" / name)
    files = [str(_weights(tmp_path, f"w{i}.npz")) for i in range(count)]
    command = "theorem" if kind == "theorem" else "audit"
    out = tmp_path / "out.json"
    argv = [command, *files, *options, "--seed", "1", "--reports-dir", str(tmp_path / "reports"), "--json", str(out)]
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 1) and "Traceback" not in captured.err, captured.err[-2000:]
    assert json.loads((other / "report.json").read_text()) == {"the": "other run"}
    ours = tmp_path / "reports" / f"{name}-2"
    assert (ours / report).is_file()
    assert (tmp_path / "reports" / f"LATEST-{kind}").read_text().strip() == ours.name
    assert sorted(p.name for p in (tmp_path / "reports").iterdir() if p.is_dir()) == [name, ours.name]
