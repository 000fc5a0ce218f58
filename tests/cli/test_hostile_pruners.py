"""Hostile code under test and hostile limits: the checker never exits 0, never hangs, never
shows a traceback, and leaves no folder, temp file or process behind.

Each case runs the real CLI (`python -m mbp_verify`) in a subprocess, as a user or CI would,
with `--quick` and `-k` to keep it short. Cases marked `e2e` (each waits on a time limit or
starts a full run) run with `-m e2e`; a representative subset runs by default.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from mbp_verify.cli import main

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "tests.cli.hostile"
SHAPE = ["--quick", "--workers", "1", "-k", "test_shape"]
e2e = [pytest.mark.e2e, pytest.mark.slow]  # excluded from the default run like every slow test


def _cli(args: list[str], cwd: Path, timeout: float = 240, env: "dict | None" = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mbp_verify", *args],
        cwd=cwd,
        env=environment,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def _leftovers(root: Path) -> list[str]:
    """Everything under `root` except the JSON output and complete report folders."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] in ("out.json",) or (
            rel.parts[0] == "reports" and len(rel.parts) >= 2 and not rel.parts[1].startswith(".")
        ):
            continue
        if path != root / "reports":
            found.append(str(rel))
    return found


# ---------------------------------------------------------------- pruners that misbehave in a call

# (pruner, extra args, property statuses expected in the JSON report, words the message must contain)
CALL_CASES = {
    "sys_exit_0": ("calls:exit_zero", ["--rules", "tie=any,nan=raise"], "error", "exited with status 0"),
    "sys_exit_3": ("calls:exit_three", [], "error", "exited with status 3"),
    "os_exit_0": ("calls:os_exit_zero", [], "error", "process exited with status 0"),
    "sigkill_self": ("calls:kill_self", [], "error", "killed by SIGKILL"),
    "segfault": ("calls:segfault", [], "error", "killed by SIGSEGV"),
    "base_exception": ("calls:base_exception", [], "error", "raised BaseException"),
    "blocks_sigalrm_and_sleeps": ("calls:block_alarm_and_sleep", ["--timeout", "1"], "error", "timed out after 1 s"),
    "prints_megabytes": ("calls:print_megabytes", [], "pass", ""),
    "returns_list": ("calls:return_list", [], "pass", ""),
    "wrong_dtype": ("calls:wrong_dtype", ["-k", "test_binary"], "fail", "binary"),
    "wrong_shape": ("calls:wrong_shape", [], "fail", "shape"),
    "structured_array": (
        "calls:structured_mask",
        ["-k", "test_binary"],
        "fail",
        "is not boolean or numeric",
    ),  # was exit 3 (probe); in the default run at the library level: tests/conformance/test_probe.py
    # answers forged into the checker's pipe: a pickle calling os._exit(0) there exited check-pruner 0
    "forged_exit_pickle": ("calls:forged_exit_pickle", [], "error", "sent something that is not an answer"),
    "forged_system_exit": ("calls:forged_system_exit", [], "error", "sent something that is not an answer"),
}
DEFAULT_CALL_CASES = {
    "sys_exit_0",
    "segfault",
    "forged_exit_pickle",
}  # every case at the library level: test_isolation.py


@pytest.mark.parametrize("case", [pytest.param(c, marks=[] if c in DEFAULT_CALL_CASES else e2e) for c in CALL_CASES])
def test_hostile_pruner_call_is_an_error_of_that_property_and_never_exit_0(case, tmp_path):
    target, extra, status, words = CALL_CASES[case]
    args = ["check-pruner", f"{HOSTILE}.{target}", *SHAPE, "--reports-dir", "reports", "--json", "out.json", *extra]
    result = _cli(args, tmp_path)
    _no_traceback(result)
    assert result.returncode == (0 if status == "pass" else 1), result.stderr[-2000:]
    document = json.loads((tmp_path / "out.json").read_text())
    properties = document["report"]["properties"]
    assert properties and all(p["status"] == status for p in properties), properties
    assert all(words in p["message"] for p in properties), [p["message"] for p in properties]
    assert _leftovers(tmp_path) == []
    header = next(line for line in result.stderr.splitlines() if "effective rules: " in line)
    if "--rules" in extra:  # the header shows the rules after the override, as the properties use them
        assert "tie=any" in header and "nan=raise" in header and document["rules"]["nan"] == "raise"


def test_a_selection_whose_every_property_skips_checked_nothing_and_is_not_exit_0(tmp_path):
    """A pruner that raises on every input, checked only by properties that skip for it (no
    effective_weights hook): every property is `skip`, and that was exit 0."""
    args = ["check-pruner", f"{HOSTILE}.calls:raise_odd", "--quick", "--workers", "1", "-k", "test_effective_zero"]
    result = _cli([*args, "--reports-dir", "reports", "--json", "out.json"], tmp_path)
    _no_traceback(result)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "every selected property was skipped: nothing was checked" in result.stderr
    report = json.loads((tmp_path / "out.json").read_text())["report"]
    assert {p["status"] for p in report["properties"]} == {"skip"} and report["summary"]["exit_code"] == 1


# ---------------------------------------------------------------- refused before any work: exit 2, one line

USAGE_CASES = {
    "hang_at_import": (
        ["check-pruner", f"{HOSTILE}.hang_at_import:prune", "--timeout", "1"],
        "timed out after 1 s at import",
    ),
    "exit_at_import": (["check-pruner", f"{HOSTILE}.exit_at_import:prune"], "exited with status 0 at import"),
    "run_malformed_k": (["run", "-k", "and or ("], "is not a valid selection"),
    "check_malformed_k": (["check-pruner", f"{HOSTILE}.calls:correct", "-k", "and or ("], "is not a valid selection"),
    "check_empty_k_text": (["check-pruner", f"{HOSTILE}.calls:correct", "-k", " "], "-k needs an expression"),
    "timeout_inf": (["check-pruner", f"{HOSTILE}.calls:correct", "--timeout", "inf"], "--timeout must be a finite"),
    "timeout_nan": (["check-pruner", f"{HOSTILE}.calls:correct", "--timeout", "nan"], "--timeout must be a finite"),
    "timeout_zero": (["check-pruner", f"{HOSTILE}.calls:correct", "--timeout", "0"], "--timeout must be a finite"),
    "timeout_negative": (["check-pruner", f"{HOSTILE}.calls:correct", "--timeout", "-3"], "--timeout must be a finite"),
    # above ~24.8 days the waits on the pruner's process overflowed: a traceback, exit 3
    "timeout_huge": (["check-pruner", f"{HOSTILE}.calls:correct", "--timeout", "1e9"], "and <= 1e+06, got 1e+09"),
    "compare_timeout_huge": (
        ["compare", f"{HOSTILE}.calls:correct", f"{HOSTILE}.calls:raise_on_nan", "--timeout", "1e12"],
        "and <= 1e+06, got 1e+12",
    ),
    "run_selects_nothing": (["run", "--quick", "-k", "zzzzzz"], "selects no property"),
    "check_selects_nothing": (
        ["check-pruner", f"{HOSTILE}.calls:correct", "--quick", "-k", "zzzzzz"],
        "selects no property",
    ),
}
E2E_USAGE_CASES = {"run_selects_nothing", "check_selects_nothing"}


def _check_refusal(case: str, code: int, stderr: str, root: Path) -> None:
    args, words = USAGE_CASES[case]
    assert "Traceback" not in stderr
    assert code == 2, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert words in last and last.startswith(f"mbp-verify {args[0]}: error: "), last
    if "-k" in args:  # the message shows what -k can select
        assert "test_" in last and "pruner." in last
    if not case.endswith("selects_nothing"):  # refused before the suite started: nothing else on stderr
        assert len(stderr.strip().splitlines()) == 1, stderr
    assert _leftovers(root) == [] and not any((root / "reports").glob("*"))


@pytest.mark.parametrize("case", [c for c in USAGE_CASES if c not in E2E_USAGE_CASES])
def test_refused_up_front_with_exit_2_and_one_line(case, tmp_path, monkeypatch, capsys):
    """In this process: the pruner's module is only ever imported by the isolated worker."""
    monkeypatch.chdir(tmp_path)
    args, _ = USAGE_CASES[case]
    code = main([*args, "--reports-dir", "reports"])
    _check_refusal(case, code, capsys.readouterr().err, tmp_path)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(E2E_USAGE_CASES))
def test_empty_selection_is_refused_after_collection(case, tmp_path):
    result = _cli([*USAGE_CASES[case][0], "--reports-dir", "reports"], tmp_path)
    _check_refusal(case, result.returncode, result.stderr, tmp_path)


@pytest.mark.e2e
@pytest.mark.slow
def test_workers_1000_is_capped_at_the_cpus_and_finishes(tmp_path):
    result = _cli(
        [
            "check-pruner",
            f"{HOSTILE}.calls:correct",
            *SHAPE,
            "--workers",
            "1000",
            "--reports-dir",
            "reports",
            "--json",
            "out.json",
        ],
        tmp_path,
    )
    cpus = len(os.sched_getaffinity(0))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"note: --workers 1000 capped at {cpus}" in result.stderr
    assert json.loads((tmp_path / "out.json").read_text())["report"]["run"]["workers"] <= cpus


# ---------------------------------------------------------------- no orphans after kill -9


def _tagged(tag: str) -> list[int]:
    """Live (non-zombie) processes whose environment carries `tag`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"MBP_TEST_TAG={tag}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


KILL_CASES = {
    "run": (["run", "--quick", "--workers", "2"], 3),
    "check-pruner": (["check-pruner", f"{HOSTILE}.slow:prune", "--quick", "--workers", "2"], 5),
    "check-pruner-hung-pruner": (["check-pruner", f"{HOSTILE}.calls:block_alarm_and_sleep", "--timeout", "600"], 4),
    "theorem": (["theorem", "--widths", "64,128", "--alpha", "0.3", "--trials", "400", "--workers", "2"], 3),
}


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux only")
@pytest.mark.parametrize("command", sorted(KILL_CASES))
def test_kill_9_leaves_no_worker_alive_5_s_later(command, tmp_path):
    args, workers_expected = KILL_CASES[command]
    tag = uuid.uuid4().hex
    environment = {
        **os.environ,
        "MBP_TEST_TAG": tag,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mbp_verify", *args, "--reports-dir", "reports"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while len(_tagged(tag)) < workers_expected and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, "the command ended before its workers were seen"
    started = len(_tagged(tag))
    assert started >= workers_expected
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(5)
    left = _tagged(tag)
    for pid in left:  # do not leak them into the rest of the test session either
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"{len(left)} of {started} processes still alive 5 s after kill -9 of {command}"


# ---------------------------------------------------------------- --replay says whether the failure reproduces

REPLAY_CASES = {  # (property recorded, pruner replayed, exit code, verdict words)
    "count_bug_reproduces": ("pruner.exact_count", "tests.conformance.buggy_pruners:off_by_one", 1, "reproduces"),
    "count_fixed": ("pruner.exact_count", "tests.conformance.correct_pruners:full_sort", 0, "does not reproduce"),
    "mutation_reproduces": ("pruner.no_mutation", "tests.conformance.buggy_pruners:mutates_input", 1, "reproduces"),
    "mutation_fixed": ("pruner.no_mutation", "tests.conformance.correct_pruners:full_sort", 0, "does not reproduce"),
    "nondeterminism_reproduces": (
        "pruner.determinism",
        "tests.conformance.buggy_pruners:random_tie_breaking",
        1,
        "reproduces",
    ),
    "crash_reproduces": ("pruner.exact_count", f"{HOSTILE}.calls:segfault", 1, "reproduces"),
    "structured_answer_reproduces": ("pruner.exact_count", f"{HOSTILE}.calls:structured_mask", 1, "reproduces"),
    "string_answer_reproduces": ("pruner.exact_count", f"{HOSTILE}.calls:return_object", 1, "reproduces"),
    "several_calls_not_ruled_out": (
        "pruner.permutation_equivariance",
        "tests.conformance.correct_pruners:full_sort",
        1,
        "not ruled out",
    ),
}


@pytest.mark.parametrize("case", sorted(REPLAY_CASES))
def test_replay_exits_1_when_the_recorded_failure_reproduces(case, tmp_path, capsys):
    from mbp_verify.conformance.counterexamples import save_counterexample

    property_id, target, code, words = REPLAY_CASES[case]
    weights = np.ones(64) if "determinism" in property_id else np.array([0.5, -2.0, 1.0, 3.0, -0.25, 4.0, 1.5])
    path = save_counterexample(
        tmp_path / "case.npz",
        property_id=property_id,
        kind="layer",
        weights=weights,
        target=target,
        message="AssertionError: recorded",
        n_prune=3,
    )
    assert main(["check-pruner", target, "--replay", str(path)]) == code
    verdict = [line for line in capsys.readouterr().out.splitlines() if line.startswith("verdict: ")]
    assert len(verdict) == 1 and words in verdict[0] and property_id in verdict[0], verdict


def test_worker_count_is_capped_at_cpus_and_items_with_a_note(capsys):
    from mbp_verify.cli._common import worker_count

    cpus = len(os.sched_getaffinity(0))
    assert worker_count(1000) == cpus
    assert capsys.readouterr().err.strip() == f"note: --workers 1000 capped at {cpus} ({cpus} CPUs)"
    assert worker_count(cpus, items=1) == 1 and "(1 test items)" in capsys.readouterr().err
    assert worker_count(None) == cpus and capsys.readouterr().err == ""  # the default is not a request to cap
    assert worker_count(1, items=50) == 1 and capsys.readouterr().err == ""


@pytest.mark.e2e
@pytest.mark.slow
def test_timeout_bounds_the_import_in_the_suite_workers_too(tmp_path):
    """`--timeout 60` let check-pruner's own process import a module that takes 21 s, but the suite's
    workers imported it under the default 20 s: every property was `error`, exit 1."""
    args = ["check-pruner", f"{HOSTILE}.slow_import:prune", "--timeout", "60", *SHAPE]
    result = _cli([*args, "--reports-dir", "reports", "--json", "out.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {p["status"] for p in json.loads((tmp_path / "out.json").read_text())["report"]["properties"]} == {"pass"}


def test_a_ci_jobs_pytest_options_do_not_narrow_the_suite(tmp_path):
    """PYTEST_ADDOPTS in the environment (a CI job's `-k`, `--ignore`) reached the suite's pytest:
    with magnitude_order ignored, a pruner pruning the largest magnitudes passed, exit 0."""
    magnitude = Path(__file__).resolve().parents[2] / "properties" / "pruner" / "test_magnitude.py"
    args = ["check-pruner", "tests.conformance.buggy_pruners:wrong_order", "--quick", "--workers", "1"]
    args += ["-k", "test_shape or test_magnitude_order", "--reports-dir", "reports", "--json", "out.json"]
    result = _cli(args, tmp_path, env={"PYTEST_ADDOPTS": f"--ignore={magnitude}"})
    assert result.returncode == 1, result.stderr[-2000:]
    statuses = {p["id"]: p["status"] for p in json.loads((tmp_path / "out.json").read_text())["report"]["properties"]}
    assert statuses == {"pruner.shape": "pass", "pruner.magnitude_order": "fail"}
