"""`mbp-verify run`: report files, exit codes, identical results for 1 and 2 workers."""

import json
import subprocess
import sys

import pytest

from mbp_verify.cli import main

SELECT = "theorem_count or count_rules or network_counts"


def _run(tmp_path, workers):
    root = tmp_path / f"w{workers}"
    root.mkdir()  # --json never creates folders
    code = main(
        [
            "run",
            "--quick",
            "--workers",
            str(workers),
            "-k",
            SELECT,
            "--reports-dir",
            str(root),
            "--json",
            str(root / "out.json"),
        ]
    )
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert len(folders) == 1
    return code, folders[0], json.loads((root / "out.json").read_text())


def test_run_writes_reports_and_matches_across_worker_counts(tmp_path, capsys):
    code1, folder1, report1 = _run(tmp_path, 1)
    code2, folder2, report2 = _run(tmp_path, 2)
    assert code1 == code2 == 0
    for folder in (folder1, folder2):
        assert {p.name for p in folder.iterdir()} == {"report.json", "report.md", "junit.xml"}
    assert report1["schema"] == "mbp-verify/report" and report1["schema_version"] == 1
    ids = [p["id"] for p in report1["properties"]]
    assert "count.theorem_exact" in ids and "prune.network_counts_exact" in ids
    keyed = lambda r: {p["id"]: (p["status"], p["evidence"]) for p in r["properties"]}
    assert keyed(report1) == keyed(report2)
    assert (report1["run"]["workers"], report2["run"]["workers"]) == (1, 2)
    out = capsys.readouterr().out
    assert "count.theorem_exact" in out and "report:" in out


@pytest.mark.parametrize("argv", [["run", "--workers", "0"], ["run", "--seed", "-1"]])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


def test_module_entry_point_and_usage_errors():
    done = subprocess.run([sys.executable, "-m", "mbp_verify", "no-such-command"], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "mbp_verify"], capture_output=True, text=True)
    assert done.returncode == 2
