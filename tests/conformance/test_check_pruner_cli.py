"""`mbp-verify check-pruner` end to end: exit codes, the table, counterexample files, replay,
baselines, and no false alarm on correct pruners (the reference engine, an independent full
sort, an argpartition selection, torch's L1Unstructured with integer amounts, global ones)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .buggy_pruners import BUGS

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "mbp_verify", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def _check(target: str, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "out.json"
    result = _cli(
        "check-pruner", target, "--workers", "2", "--reports-dir", str(tmp_path / "reports"), "--json", str(out), *extra
    )
    payload = json.loads(out.read_text()) if out.is_file() else {}
    return result, payload


def _statuses(payload: dict) -> dict[str, str]:
    return {p["id"]: p["status"] for p in payload["report"]["properties"]}


@pytest.mark.parametrize(
    "target, extra",
    [
        ("mbp_verify.engine:magnitude_mask", ("--rules", "tie=index,nan=raise")),
        ("tests.conformance.correct_pruners:full_sort", ()),
        ("tests.conformance.correct_pruners:argpartition", ()),
        ("tests.conformance.correct_pruners:lexsort_global", ("--global",)),
    ],
)
def test_correct_pruners_pass_with_no_false_alarm(tmp_path, target, extra):
    result, payload = _check(target, tmp_path, "--quick", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = _statuses(payload)
    assert {s for s in statuses.values()} <= {"pass", "skip"}, statuses
    for required in ("pruner.exact_count", "pruner.magnitude_order", "pruner.nesting", "pruner.nan_policy"):
        assert statuses[required] == "pass"
    if "--global" in extra:
        assert statuses["pruner.global_threshold"] == "pass" and statuses["pruner.global_count"] == "pass"
    assert "findings for" in result.stdout and "summary:" in result.stdout


@pytest.mark.torch
def test_torch_l1_unstructured_integer_amounts_pass(tmp_path):
    pytest.importorskip("torch")
    result, payload = _check("mbp_verify.adapters.torch_prune:L1Unstructured", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = _statuses(payload)
    required = {p["id"]: p["status"] for p in payload["report"]["properties"] if p["tier"] == "required"}
    assert set(required.values()) <= {"pass", "skip"}, required
    assert statuses["pruner.count_rule"] == "pass" and statuses["pruner.count_base"] == "pass"
    # torch's real behaviour, reported rather than hidden: pruned NaN stays NaN, ties are not nested
    assert statuses["pruner.effective_zero_nonfinite"] == "fail"
    assert statuses["pruner.nesting_under_ties"] == "fail"
    rows = {r["aspect"]: r for r in payload["findings"]["rows"]}
    assert rows["count rule (fraction -> count)"]["observed"].startswith("float:half_even")
    assert rows["NaN rule"]["observed"] == "ranks NaN largest"
    assert rows["tie rule"]["observed"].startswith("not lower-index-first")


def test_buggy_pruner_fails_with_counterexample_file_and_replay(tmp_path):
    spec, _, property_id = BUGS["off_by_one"]
    result, payload = _check(spec, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _statuses(payload)[property_id] == "fail"
    assert f"counterexample for {property_id}" in result.stdout
    files = [Path(f) for f in payload["counterexample_files"]]
    assert files and all(f.is_file() and f.parent.name == "counterexamples" for f in files)
    exact = next(f for f in files if f.name.startswith("pruner.exact_count--"))
    replayed = _cli("check-pruner", spec, "--replay", str(exact))
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "problem: pruned" in replayed.stdout
    report_dir = Path(payload["report_dir"])
    assert (report_dir / "findings.md").is_file() and (report_dir / "report.json").is_file()


@pytest.mark.parametrize(
    "target, message",
    [
        ("no_such_module_xyz:fn", "cannot import module 'no_such_module_xyz'"),
        ("mbp_verify.engine:no_such_attr", "has no attribute 'no_such_attr'"),
        ("not-a-spec", "MODULE:ATTR"),
        ("mbp_verify:__version__", "not a pruner"),
    ],
)
def test_unloadable_target_exits_2_with_one_line(tmp_path, target, message):
    result = _cli("check-pruner", target, "--reports-dir", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_rules_exit_2(tmp_path):
    result = _cli("check-pruner", "mbp_verify.engine:magnitude_mask", "--rules", "tie=sometimes")
    assert result.returncode == 2 and "tie='sometimes'" in result.stderr


def test_pruner_in_the_current_directory_is_found(tmp_path):
    (tmp_path / "my_local_pruner.py").write_text(
        "import numpy as np\n"
        "def prune(w, n):\n"
        "    keep = np.ones(np.size(w), bool)\n"
        "    keep[np.argsort(np.abs(np.asarray(w, dtype=float)).ravel(), kind='stable')[:n]] = False\n"
        "    return keep.reshape(np.shape(w))\n"
    )
    out = tmp_path / "b.json"
    result = _cli(
        "check-pruner", "my_local_pruner:prune", "--record-baseline", str(out), "--baseline-only", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["cases"]


def test_baseline_records_and_flags_a_behaviour_change(tmp_path):
    baseline = tmp_path / "baseline.json"
    recorded = _cli(
        "check-pruner",
        "tests.conformance.correct_pruners:full_sort",
        "--record-baseline",
        str(baseline),
        "--baseline-only",
    )
    assert recorded.returncode == 0, recorded.stderr
    same = _cli(
        "check-pruner", "tests.conformance.correct_pruners:full_sort", "--baseline", str(baseline), "--baseline-only"
    )
    assert same.returncode == 0 and "unchanged" in same.stdout
    changed = _cli(
        "check-pruner", "tests.conformance.correct_pruners:argpartition", "--baseline", str(baseline), "--baseline-only"
    )
    assert changed.returncode == 1
    assert "changed behaviour" in changed.stdout and "entries flipped at flat indices" in changed.stdout


@pytest.mark.slow
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_every_bundled_bug_is_caught_by_check_pruner(tmp_path, bug):
    spec, extra, property_id = BUGS[bug]
    result, payload = _check(spec, tmp_path, *extra)
    assert result.returncode == 1, result.stdout + result.stderr
    statuses = _statuses(payload)
    assert statuses[property_id] == "fail"
    assert property_id in payload["report"]["summary"]["required_not_passed"]


def test_pruner_in_the_users_tests_package_is_found_by_the_suite_workers(tmp_path):
    """The suite's pytest runs in the suite's folder, whose own `tests` package shadowed the user's:
    every property was `error` ("cannot import module 'tests.pruners'") although the pruner loaded."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "pruners.py").write_text(
        "import numpy as np\n"
        "def prune(w, n):\n"
        "    keep = np.ones(np.size(w), bool)\n"
        "    keep[np.argsort(np.abs(np.asarray(w, dtype=float)).ravel(), kind='stable')[:n]] = False\n"
        "    return keep.reshape(np.shape(w))\n"
    )
    out = tmp_path / "out.json"
    args = ["tests.pruners:prune", "--quick", "--workers", "1", "-k", "test_shape or test_exact_count"]
    result = _cli("check-pruner", *args, "--reports-dir", "reports", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(_statuses(json.loads(out.read_text())).values()) == {"pass"}
