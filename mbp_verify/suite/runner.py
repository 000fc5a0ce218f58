"""Run the property suite (a pytest session) in a subprocess and read back its report.

A subprocess lets us pin BLAS to one thread per worker before numpy loads, and isolates
the suite from the caller's pytest configuration. The subprocess and its pytest-xdist
workers die with their parent (`mbp_verify.lifeline`). Exit 0 needs a report in which
every required property ran and passed and a pytest session that ended normally; a `-k`
expression that does not parse, or selects nothing, is the caller's error (`InputError`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .._environment import pin_blas_threads_for_children, single_thread_env
from ..conformance.loader import PRUNER_ROOT_ENV
from ..errors import InputError
from ..lifeline import die_with_parent

__all__ = [
    "properties_dir",
    "SuiteRun",
    "run_property_suite",
    "single_thread_env",
    "pin_blas_threads_for_children",
    "validate_selection",
    "property_ids",
    "count_tests",
]

_PYTEST_OK, _PYTEST_TESTS_FAILED, _PYTEST_NO_TESTS = 0, 1, 5
_FOREIGN_PYTEST_SETTINGS = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")  # the environment's, meant for other test runs
_TEST_RE = re.compile(r"^def (test_\w+)", re.M)
_ID_RE = re.compile(r"""id\s*=\s*["']([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)["']""")


def properties_dir() -> Path:
    """The formal property suite: `properties/` of a source checkout, or the installed copy."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "properties", package / "_properties"):
        if (candidate / "conftest.py").is_file():
            return candidate
    raise InputError("cannot find the property suite (properties/); reinstall mbp-verify")


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
        """0 only if the report exists, lists properties, its verdict is 0 and pytest ended normally."""
        if self.report is None or not self.report["summary"].get("properties"):
            return 1
        verdict = int(self.report["summary"]["exit_code"])
        if self.pytest_exit_code == _PYTEST_OK:
            return verdict
        counts = self.report["summary"].get("status_counts", {})
        explained = self.pytest_exit_code == _PYTEST_TESTS_FAILED and any(
            counts.get(s) for s in ("fail", "error", "inconclusive")
        )  # failed advisory properties
        return verdict if explained else max(verdict, 1)

    @property
    def problem(self) -> "str | None":
        """Why the run cannot be trusted as a whole (no report, no property, pytest crashed), or None."""
        if self.report is None:
            return f"the property suite produced no report (pytest exit code {self.pytest_exit_code})"
        if not self.report["summary"].get("properties"):
            return "the property suite ran no property"
        if self.report["summary"].get("status_counts", {}).get("skip") == self.report["summary"]["properties"]:
            return "every selected property was skipped: nothing was checked, so the run is not a pass"
        if self.exit_code > int(self.report["summary"]["exit_code"]):
            return f"pytest ended abnormally (exit code {self.pytest_exit_code}): the run is not a pass"
        return None


def validate_selection(expression: "str | None", paths: Sequence[str]) -> None:
    """An `InputError` (one line, a few valid property ids) if the `-k` expression does not parse."""
    if expression is None:
        return
    if not expression.strip():
        raise InputError(f"-k needs an expression, got an empty one; {_examples(paths)}")
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # a pytest without this parser: an unparsable -k then selects nothing (exit 2 below)
        return
    try:
        Expression.compile(expression)
    except Exception as exc:  # SyntaxError in pytest >= 8.4, ParseError before
        reason = getattr(exc, "msg", None) or getattr(exc, "message", None) or str(exc)
        raise InputError(f"-k {expression!r} is not a valid selection ({reason}); {_examples(paths)}") from None


def property_ids(paths: Sequence[str]) -> list[str]:
    """The property ids declared under `paths` of the property suite (sorted, unique)."""
    suite = properties_dir()
    found: set[str] = set()
    for path in paths:
        for file in sorted((suite / path).rglob("test_*.py")):
            found.update(_ID_RE.findall(file.read_text(encoding="utf-8")))
    return sorted(found)


def count_tests(paths: Sequence[str]) -> int:
    """How many test functions the property suite has under `paths` (the items a run can spread
    over workers, counting each parametrised test once)."""
    return len(_test_names(paths))


def _test_names(paths: Sequence[str]) -> list[str]:
    suite = properties_dir()
    return sorted(
        {
            name
            for path in paths
            for file in sorted((suite / path).rglob("test_*.py"))
            for name in _TEST_RE.findall(file.read_text(encoding="utf-8"))
        }
    )


def _spread(values: list[str], count: int) -> list[str]:
    return values[:: max(1, len(values) // count)][:count]


def _examples(paths: Sequence[str], count: int = 4) -> str:
    names, ids = _test_names(paths), property_ids(paths)
    return (
        f"-k matches test names such as {', '.join(_spread(names, count))} "
        f"(properties such as {', '.join(_spread(ids, count))}; {len(ids)} in all)"
    )


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
    """Run pytest over `paths` (relative to the property suite) and return its report.

    A `-k` in `extra_args` that selects nothing raises `InputError` and removes `report_dir`.
    """
    suite = properties_dir()
    args = [sys.executable, "-m", "pytest", *[str(suite / p) for p in paths]]
    if not _plugin_registered_by_entry_point():
        args += ["-p", "mbp_verify.suite.plugin"]
    args += ["-p", "mbp_verify.suite.lifeline_plugin"]
    args += [
        "-p",
        "no:cacheprovider",
        "-p",
        "no:benchmark",
        "-o",
        "addopts=",
        "-o",
        "console_output_style=classic",
        "--rootdir",
        str(suite.parent),
        "--mbp-report-dir",
        str(report_dir.resolve()),
        "--mbp-seed",
        str(seed),
        "--mbp-profile",
        profile,
        "--mbp-command",
        command,
        "--mbp-target",
        target,
        "-n",
        str(workers if workers > 1 else 0),
        "-m",
        "" if include_slow else "not slow",
        "-q" if quiet else "-v",
        "--no-header",
        "-rN",
        "--tb=no",
        *extra_args,
    ]
    env = single_thread_env()
    for name in _FOREIGN_PYTEST_SETTINGS:  # a CI's own `-k`, `--ignore`, `-x` or plugins would narrow the suite
        env.pop(name, None)
    env["MBP_ROOT_SEED"] = str(seed)
    env["MBP_HYPOTHESIS_PROFILE"] = profile
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH", "")]))
    env[PRUNER_ROOT_ENV] = os.getcwd()  # pytest runs in the suite's folder: the pruner is imported from here
    returncode = _stream_to_stderr(args, env=env, cwd=suite.parent)
    report_file = report_dir / "report.json"
    report = json.loads(report_file.read_text()) if report_file.is_file() else None
    if "-k" in extra_args and (
        returncode == _PYTEST_NO_TESTS or (report is not None and not report["summary"].get("properties"))
    ):
        shutil.rmtree(report_dir, ignore_errors=True)
        expression = extra_args[list(extra_args).index("-k") + 1]
        raise InputError(f"-k {expression!r} selects no property; {_examples(paths)}")
    return SuiteRun(report_dir, report, returncode)


def _stream_to_stderr(args: list[str], *, env: dict[str, str], cwd: Path) -> int:
    """Run `args`, forwarding its output to our stderr as it comes (progress, not results)."""
    parent = os.getpid()
    with subprocess.Popen(
        args,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        preexec_fn=lambda: die_with_parent(parent),
    ) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                sys.stderr.write(line)
                sys.stderr.flush()
        except BaseException:  # Ctrl-C, SIGTERM: the suite ends before the caller removes its staging folder
            process.kill()
            process.wait()
            raise
        return process.wait()
