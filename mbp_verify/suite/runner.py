"""Run the property suite (a pytest session) in a subprocess and read back its report.

A subprocess lets us pin BLAS to one thread per worker before numpy loads, and isolates
the suite from the caller's pytest configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError

__all__ = ["properties_dir", "SuiteRun", "run_property_suite", "single_thread_env", "pin_blas_threads_for_children"]

_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def properties_dir() -> Path:
    """The formal property suite: `properties/` of a source checkout, or the installed copy."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "properties", package / "_properties"):
        if (candidate / "conftest.py").is_file():
            return candidate
    raise InputError("cannot find the property suite (properties/); reinstall mbp-verify")


def single_thread_env(base: "dict[str, str] | None" = None) -> dict[str, str]:
    """The environment with BLAS/OpenMP pinned to one thread per process."""
    env = dict(os.environ if base is None else base)
    for var in _BLAS_VARS:
        env[var] = "1"
    return env


def pin_blas_threads_for_children() -> None:
    """Default BLAS/OpenMP to one thread in processes started from now on (e.g. xdist workers).

    A value the user exported is kept. Called by the suite's conftest files, which pytest loads
    before pytest-xdist starts its workers, so `python -m pytest -n 2` does not oversubscribe
    the cores with 2 x (number of cores) BLAS threads.
    """
    for var in _BLAS_VARS:
        os.environ.setdefault(var, "1")


def _plugin_registered_by_entry_point() -> bool:
    return any(ep.value.startswith("mbp_verify") for ep in metadata.entry_points(group="pytest11"))


@dataclass(frozen=True)
class SuiteRun:
    """Outcome of one suite run: the report folder, its parsed report.json and pytest's code."""

    report_dir: Path
    report: "dict[str, Any] | None"
    pytest_exit_code: int

    @property
    def exit_code(self) -> int:
        if self.report is None:
            return 3
        return int(self.report["summary"]["exit_code"])


def run_property_suite(
    paths: Sequence[str],
    *,
    report_dir: Path,
    seed: int,
    profile: str,
    workers: int,
    command: str,
    target: str,
    include_slow: bool = False,
    extra_args: Sequence[str] = (),
    quiet: bool = True,
) -> SuiteRun:
    """Run pytest over `paths` (relative to the property suite) and return its report."""
    suite = properties_dir()
    args = [sys.executable, "-m", "pytest", *[str(suite / p) for p in paths]]
    if not _plugin_registered_by_entry_point():
        args += ["-p", "mbp_verify.suite.plugin"]
    args += [
        "-p", "no:cacheprovider", "-p", "no:benchmark", "-o", "addopts=", "-o", "console_output_style=classic",
        "--rootdir", str(suite.parent), "--mbp-report-dir", str(report_dir.resolve()),
        "--mbp-seed", str(seed), "--mbp-profile", profile, "--mbp-command", command,
        "--mbp-target", target, "-n", str(workers if workers > 1 else 0),
        "-m", "" if include_slow else "not slow",
        "-q" if quiet else "-v", "--no-header", "-rN", "--tb=no",
        *extra_args,
    ]
    env = single_thread_env()
    env["MBP_ROOT_SEED"] = str(seed)
    env["MBP_HYPOTHESIS_PROFILE"] = profile
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH", "")]))
    returncode = _stream_to_stderr(args, env=env, cwd=suite.parent)
    report_file = report_dir / "report.json"
    report = json.loads(report_file.read_text()) if report_file.is_file() else None
    return SuiteRun(report_dir, report, returncode)


def _stream_to_stderr(args: list[str], *, env: dict[str, str], cwd: Path) -> int:
    """Run `args`, forwarding its output to our stderr as it comes (progress, not results)."""
    with subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stderr.write(line)
            sys.stderr.flush()
        return process.wait()
