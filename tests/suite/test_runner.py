"""The suite runner's verdict: exit 0 only for a complete, normally ended run that passed, and
`-k` expressions checked before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbp_verify.errors import InputError
from mbp_verify.suite.runner import SuiteRun, count_tests, property_ids, validate_selection


def _report(verdict: int, properties: int = 3, **counts: int) -> dict:
    status_counts = {"pass": properties, "fail": 0, "inconclusive": 0, "error": 0, "skip": 0, **counts}
    return {"summary": {"properties": properties, "exit_code": verdict, "status_counts": status_counts}}


@pytest.mark.parametrize(
    "report, pytest_code, expected",
    [
        (_report(0), 0, 0),  # the only way to 0
        (None, 0, 1),  # no report at all
        (_report(0, properties=0), 5, 1),  # nothing ran
        (_report(0, properties=0), 0, 1),
        (_report(0), 2, 1),  # interrupted
        (_report(0), 3, 1),  # pytest internal error
        (_report(0), 4, 1),  # usage error
        (_report(0), 1, 1),  # pytest saw a failure the report does not explain
        (_report(0, fail=1), 1, 0),  # a failed advisory property: pytest 1, verdict 0
        (_report(1, fail=1), 1, 1),
        (_report(1, error=1), 0, 1),
    ],
)
def test_exit_0_only_for_a_complete_passing_run(report, pytest_code, expected):
    run = SuiteRun(Path("."), report, pytest_code)
    assert run.exit_code == expected
    assert (run.problem is None) == (
        report is not None and report["summary"]["properties"] > 0 and run.exit_code == report["summary"]["exit_code"]
    )


@pytest.mark.parametrize("expression", ["and or (", "test_shape and", "(", "not", " "])
def test_malformed_selection_is_one_line_with_examples(expression):
    with pytest.raises(InputError) as info:
        validate_selection(expression, ["pruner"])
    message = str(info.value)
    assert "\n" not in message and "test_" in message and "pruner." in message


@pytest.mark.parametrize("expression", [None, "test_shape", "shape or binary", "not slow and exact_count"])
def test_wellformed_selection_passes(expression):
    validate_selection(expression, ["pruner"])


def test_property_ids_and_test_count_read_the_suite():
    pruner_ids = property_ids(["pruner"])
    assert {"pruner.shape", "pruner.exact_count", "pruner.no_mutation"} <= set(pruner_ids)
    assert set(pruner_ids) < set(property_ids(["."]))
    assert 0 < count_tests(["pruner"]) < count_tests(["."])
