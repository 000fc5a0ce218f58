"""pytest plugin (entry point `mbp_verify`): property metadata, statuses and run reports.

Inert unless its options are used. With `--mbp-report-dir DIR` the controlling process
collects every property's outcome (also from pytest-xdist workers) and writes the run
report there at the end of the session, unless the session was interrupted (Ctrl-C) or
ended in an internal error: then no report is written. Hypothesis profiles `mbp-quick`, `mbp-default` and
`mbp-thorough` are derandomised with no example database, so a run is a deterministic
function of the code and the seed; `--mbp-pruner` uses `mbp-default` unless told otherwise,
so nothing (no `.hypothesis/`) is written into the user's tree.

One verdict everywhere: a failing advisory property is reported but does not fail the
session (the exit code is the one `mbp-verify check-pruner` gives), unless `--mbp-strict`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky

from .._environment import package_versions
from ..reports.atomic import json_ready
from .property import CodeUnderTestError, Inconclusive
from .results import ItemResult, aggregate

__all__ = ["HYPOTHESIS_PROFILES", "pytest_addoption", "pytest_configure"]

# No `explain` phase: on array inputs it re-runs a failing property for tens of seconds to
# annotate the example, which would dominate check-pruner's run time on a buggy pruner.
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
_COMMON = dict(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    phases=_PHASES,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
HYPOTHESIS_PROFILES = {"mbp-quick": 15, "mbp-default": 60, "mbp-thorough": 500}
for _name, _examples in HYPOTHESIS_PROFILES.items():
    settings.register_profile(_name, max_examples=_examples, **_COMMON)

_RESULT_KEY = "mbp_result"
_evidence_key = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mbp_verify", "mbp-verify property suite")
    group.addoption("--mbp-report-dir", default=None, help="write the mbp-verify run report into this folder")
    group.addoption("--mbp-seed", type=int, default=None, help="root seed for property randomness")
    group.addoption(
        "--mbp-profile",
        default=None,
        choices=sorted(HYPOTHESIS_PROFILES),
        help="Hypothesis profile for the property suite",
    )
    group.addoption("--mbp-command", default="run", help=argparse_suppress())
    group.addoption("--mbp-target", default="reference engine", help=argparse_suppress())
    group.addoption(
        "--mbp-pruner",
        default=None,
        metavar="MODULE:ATTR",
        help="run the pruner conformance properties (properties/pruner) against this pruner",
    )
    group.addoption(
        "--mbp-rules",
        default=None,
        metavar="KEY=VALUE,...",
        help="override the pruner's declared rules, e.g. 'tie=any,nan=largest,min_kept=1'",
    )
    group.addoption(
        "--mbp-global",
        action="store_true",
        default=False,
        help="the pruner is global: fn(list_of_arrays, total) -> list_of_masks",
    )
    group.addoption(
        "--mbp-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per-call time limit for the pruner under test (status 'error' when exceeded)",
    )
    group.addoption(
        "--mbp-counterexample-dir",
        default=None,
        metavar="DIR",
        help="save each failing property's minimal input here as a replayable .npz",
    )
    group.addoption("--mbp-counterexample-label", default=None, help=argparse_suppress())
    group.addoption(
        "--mbp-baseline",
        default=None,
        metavar="FILE",
        help="compare the pruner's masks with this recorded baseline (property pruner.baseline_unchanged)",
    )
    group.addoption(
        "--mbp-strict",
        action="store_true",
        default=False,
        help="failing advisory properties fail the session too (default: reported only, as check-pruner does)",
    )


def _add_pruner_suite(config: pytest.Config) -> None:
    """`pytest --mbp-pruner pkg.mod:fn` in another project also collects properties/pruner."""
    from .runner import properties_dir

    suite = properties_dir().resolve()
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0])
        path = (Path(config.invocation_params.dir) / path).resolve() if not path.is_absolute() else path.resolve()
        if path == suite or suite in path.parents:
            return  # the caller already selected (part of) the property suite
    config.args.append(str(suite / "pruner"))


def _hypothesis_home_outside_the_tree(config: pytest.Config) -> None:
    """Hypothesis caches source constants under ./.hypothesis: in another project, use a
    temporary folder instead (removed at the end), unless the user chose a location."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    import shutil
    import tempfile

    from hypothesis import configuration

    home = tempfile.mkdtemp(prefix="mbp-verify-hypothesis-")
    configuration.set_hypothesis_home_dir(home)
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mbp_property(id, statement, source, tier): a formal property of mbp-verify")
    config.addinivalue_line("markers", "slow: long statistical sweep, excluded from the default runs")
    profile = config.getoption("mbp_profile") or os.environ.get("MBP_HYPOTHESIS_PROFILE")
    if not profile and config.getoption("mbp_pruner"):
        profile = "mbp-default"  # derandomised, no example database: nothing written to the user's tree
    if profile:
        settings.load_profile(profile)
    if config.getoption("mbp_pruner"):
        _add_pruner_suite(config)
        _hypothesis_home_outside_the_tree(config)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Verdict(bool(config.getoption("mbp_strict"))), "mbp_verify_verdict")
    if config.getoption("mbp_report_dir") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_ReportCollector(config), "mbp_verify_report_collector")


@pytest.fixture
def mbp_evidence(request: pytest.FixtureRequest) -> dict:
    """A dict the property fills with deterministic evidence (numbers, counts) for the report."""
    return request.node.stash.setdefault(_evidence_key, {})


@pytest.fixture
def mbp_root_seed(request: pytest.FixtureRequest) -> int:
    """Root seed of the run (`--mbp-seed`, env MBP_ROOT_SEED, or the default)."""
    from ..seeding import DEFAULT_ROOT_SEED

    value = request.config.getoption("mbp_seed")
    if value is None:
        value = int(os.environ.get("MBP_ROOT_SEED", DEFAULT_ROOT_SEED))
    return int(value)


@pytest.fixture
def mbp_profile() -> str:
    """The active Hypothesis profile (`mbp-quick`, `mbp-default` or `mbp-thorough`).

    Properties whose cost is not set by Hypothesis (fixed-trial statistical checks) scale
    their budget with it; their error rates are stated for every profile.
    """
    name = settings.get_current_profile_name()
    return name if name in HYPOTHESIS_PROFILES else "mbp-default"


def _classify(excinfo: "pytest.ExceptionInfo[BaseException]") -> str:
    exc = excinfo.value
    leaves = list(_leaf_exceptions(exc))
    if any(isinstance(e, CodeUnderTestError) for e in leaves):
        return "error"
    if all(isinstance(e, Inconclusive) for e in leaves):
        return "inconclusive"
    if any(isinstance(e, AssertionError) for e in leaves):
        return "fail"
    if any(isinstance(e, Flaky) for e in [exc, *leaves]):
        # FlakyFailure, FlakyStrategyDefinition, ...: the same input behaved differently on a rerun;
        # the suite's strategies are derandomised, so the code under test is not deterministic
        return "fail"
    return "error"


def _leaf_exceptions(exc: BaseException):
    # An exception group (builtin from Python 3.11, the `exceptiongroup` backport on 3.10) holds
    # its members in `.exceptions`; duck typing serves both.
    members = getattr(exc, "exceptions", None)
    if isinstance(members, tuple) and members and all(isinstance(m, BaseException) for m in members):
        for sub in members:
            yield from _leaf_exceptions(sub)
    else:
        yield exc


# Lines of Hypothesis' falsifying example that carry no information about the input: the
# fixtures, and `data=data(...)` (the drawn values follow as "Draw n" notes and as the
# recorder's "input of the failing check" note).
_NOISE = ("pruner_under_test=", "counterexample=Recorder(", "mbp_evidence=", "data=data(...)")


def _counterexample(excinfo: "pytest.ExceptionInfo[BaseException]") -> "str | None":
    notes: list[str] = []
    for exc in [excinfo.value, *_leaf_exceptions(excinfo.value)]:
        for note in getattr(exc, "__notes__", []) or []:
            if note not in notes and (
                "Falsifying" in note
                or "example" in note.lower()
                or "(" in note
                or note.startswith("input of the failing check")
            ):
                notes.append(note)
    text = "\n".join(line for line in "\n".join(notes).splitlines() if not line.strip().startswith(_NOISE))
    return text or None


def _message(excinfo: "pytest.ExceptionInfo[BaseException]") -> str:
    exc = excinfo.value
    leaves = list(_leaf_exceptions(exc))
    first = leaves[0] if leaves else exc
    return f"{type(first).__name__}: {first}"[:2000]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Hypothesis writes a patch file under .hypothesis/patches for failing examples: not for
    mbp properties, which must write nothing into the user's tree (their inputs are printed)."""
    yield
    if item.get_closest_marker("mbp_property") is not None and hasattr(item, "_hypothesis_failing_examples"):
        item._hypothesis_failing_examples = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("mbp_property")
    if marker is None:
        return
    status = None
    message, counterexample = "", None
    if report.when == "call":
        if report.passed:
            status = "pass"
        elif report.skipped:
            status = "skip"
            message = _skip_reason(report)
        elif call.excinfo is not None:
            status = _classify(call.excinfo)
            message, counterexample = _message(call.excinfo), _counterexample(call.excinfo)
    elif report.when == "setup" and not report.passed:
        status = "skip" if report.skipped else "error"
        message = _skip_reason(report) if report.skipped else _message(call.excinfo) if call.excinfo else "setup failed"
    if status is None:
        return
    evidence = item.stash.get(_evidence_key, {})
    result = ItemResult(
        property_id=marker.kwargs["id"],
        statement=marker.kwargs["statement"],
        source=marker.kwargs["source"],
        tier=marker.kwargs.get("tier", "required"),
        nodeid=item.nodeid,
        status=status,
        message=message,
        counterexample=counterexample,
        evidence=json_ready(evidence, unknown_as_text=True),
        duration_s=report.duration,
    )
    report.user_properties.append((_RESULT_KEY, json.dumps(result.to_dict(), default=str)))


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
    text = text.removeprefix("Skipped: ")
    for marker in ("Falsifying", "Failing explicit example", "Failing test case"):  # no example notes on a skip
        text = text.split(marker, 1)[0]
    return text.strip()


class _Verdict:
    """Controller side: the session fails only when something other than an advisory property failed,
    or when properties ran and every one was skipped (nothing was checked, as in `check-pruner`)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.advisory: list[str] = []
        self.other_failures = 0
        self.statuses: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.statuses.update(json.loads(v).get("status") for k, v in report.user_properties if k == _RESULT_KEY)
        if not report.failed:
            return
        tiers = [json.loads(v).get("tier") for k, v in report.user_properties if k == _RESULT_KEY]
        if tiers and all(t == "advisory" for t in tiers) and not self.strict:
            self.advisory.append(report.nodeid)
        else:
            self.other_failures += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.TESTS_FAILED and self.advisory and not self.other_failures:
            session.exitstatus = pytest.ExitCode.OK
        if self.nothing_checked and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @property
    def nothing_checked(self) -> bool:
        return self.statuses == {"skip"}

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.nothing_checked:
            terminalreporter.write_line(
                "mbp-verify: every selected property was skipped: nothing was checked, so the run is not a pass"
            )
        if self.advisory:
            terminalreporter.write_line(
                f"mbp-verify: {len(self.advisory)} advisory propert{'y' if len(self.advisory) == 1 else 'ies'} failed "
                "(reported, not failing the run; --mbp-strict makes them fail)"
            )


class _ReportCollector:
    """Controller-side collector: gathers item results and writes the report at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.items: list[ItemResult] = []
        self.started = time.time()
        self.started_iso = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == _RESULT_KEY:
                self.items.append(ItemResult.from_dict(json.loads(value)))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from .report import build_report, write_run_report

        if exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
            return  # the properties not yet run are missing: a report would look complete and could pass
        results = aggregate(self.items)
        report = build_report(self._metadata(exitstatus), results)
        write_run_report(Path(self.config.getoption("mbp_report_dir")), report)

    def _metadata(self, exitstatus: int) -> dict[str, Any]:
        from ..seeding import DEFAULT_ROOT_SEED

        seed = self.config.getoption("mbp_seed")
        workers = (
            self.config.getoption("numprocesses", default=None)
            if self.config.pluginmanager.hasplugin("xdist")
            else None
        )
        return {
            "command": self.config.getoption("mbp_command"),
            "target": self.config.getoption("mbp_pruner") or self.config.getoption("mbp_target"),
            "seed": int(seed if seed is not None else os.environ.get("MBP_ROOT_SEED", DEFAULT_ROOT_SEED)),
            "hypothesis_profile": settings._current_profile,
            "workers": workers if isinstance(workers, int) and workers > 0 else 1,
            "started": self.started_iso,
            "duration_s": round(time.time() - self.started, 3),
            "pytest_exit_status": int(exitstatus),
            "versions": package_versions(),
            "platform": platform.platform(),
        }
