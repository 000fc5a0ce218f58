"""`compare` runs pruners on the same corpus: differing cases, minimal inputs, report files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mbp_verify.cli import main
from mbp_verify.conformance import PrunerUnderTest, load_pruner, reference_pruner
from mbp_verify.conformance.compare import compare_pruners, minimal_difference
from mbp_verify.reports.atomic import json_text

BUGGY = "tests.conformance.buggy_pruners"


def test_compare_finds_the_float16_cases_and_shrinks_them():
    reference = PrunerUnderTest(reference_pruner(), spec="reference")
    squares = PrunerUnderTest(load_pruner(f"{BUGGY}:l2_norm_in_input_dtype"), spec="squares")
    comparison = compare_pruners([reference, squares], seed=1)
    names = comparison.differing_cases["reference vs squares"]
    assert "float16_squares_overflow" in names and "float16_squares_underflow" in names
    assert "gaussian_2d" not in names  # float64 squares keep the order
    for difference in comparison.differences:
        assert difference.weights.size <= 3  # two tied squares and at most one more entry
        assert not np.array_equal(difference.first_mask, difference.second_mask)


def test_a_shape_dependent_difference_keeps_its_shape():
    reference = PrunerUnderTest(reference_pruner(), spec="reference")
    transposed = PrunerUnderTest(load_pruner(f"{BUGGY}:transposed_on_square"), spec="transposed")
    square = np.arange(1, 10, dtype=np.float32).reshape(3, 3)
    weights, n = minimal_difference(reference, transposed, square, 3)
    assert weights.shape == (3, 3) and n <= 3
    assert minimal_difference(reference, reference, square, 3)[0].shape == (3, 3)


def test_compare_cli_writes_json_markdown_and_png(tmp_path, capsys):
    code = main(
        [
            "compare",
            "mbp_verify.conformance.reference:ReferencePruner",
            f"{BUGGY}:l2_norm_in_input_dtype",
            "--reports-dir",
            str(tmp_path),
            "--seed",
            "1",
        ]
    )
    assert code == 0
    folder = next(tmp_path.glob("compare-*"))
    payload = json.loads((folder / "compare.json").read_text())
    assert payload["differing_cases"] and (folder / "matrix.png").stat().st_size > 1000
    assert "float16_squares_overflow" in (folder / "compare.md").read_text()
    assert "masks differ" in capsys.readouterr().out


def test_compare_needs_two_distinct_targets(capsys):
    assert main(["compare", "mbp_verify.conformance.reference:ReferencePruner"]) == 2
    assert "at least two" in capsys.readouterr().err


# ---------------------------------------------------------------- a pruner without a mask was not compared (since 0.6)

HOSTILE = "tests.cli.hostile.calls"
NO_MASK_CASES = {  # pruner: (status, cases without a comparable mask, words of the first problem)
    "raise_odd": ("error", 22, "raised OddError on n_prune=2; its rules allow a raise on NaN input only"),
    "exit_zero": ("error", 24, "did not return on n_prune=2: prune(weights, n_prune): the pruner exited with status 0"),
    "segfault_when_one": (
        "error",
        2,
        "did not return on n_prune=1: prune(weights, n_prune): the pruner's process was killed by SIGSEGV",
    ),
    "raise_on_nan_declared_largest": (
        "error",
        2,
        "raised ValueError on n_prune=2; its rules allow a raise on no input (nan=largest)",
    ),
    "wrong_shape": ("fail", 24, "returned no valid mask on n_prune=2: mask shape (9,) != weights shape (10,)"),
    "wrong_dtype": ("fail", 21, "mask is not binary"),  # 0.5 where kept: binary only when all are pruned
    "structured_mask": (
        "fail",
        24,
        "mask dtype [('kept', '<i8'), ('why', '<i8')] is not boolean or numeric",
    ),  # was exit 3
    "return_object": ("fail", 24, "mask shape () != weights shape (10,)"),
    "object_array_of_arrays": ("fail", 24, "mask shape (2,) != weights shape (10,)"),  # was exit 3
    "timedelta_mask": ("fail", 24, "mask dtype timedelta64[s] is not boolean or numeric"),  # was compared, exit 0
}


def test_a_pruner_that_gives_no_mask_is_a_problem_and_exit_1():
    reference = PrunerUnderTest(reference_pruner(), spec="reference")
    for name, (status, count, words) in NO_MASK_CASES.items():
        pruner = PrunerUnderTest(load_pruner(f"{HOSTILE}:{name}"), spec=name)
        comparison = compare_pruners([reference, pruner], seed=1)
        problems = [p for p in comparison.problems if p.target == name]
        assert comparison.status(name) == status and comparison.status("reference") == "pass", name
        assert comparison.exit_code == 1 and comparison.to_dict()["exit_code"] == 1, name
        assert len(problems) == count and {p.status for p in problems} == {status}, (name, problems)
        assert words in problems[0].message, (name, problems[0].message)
        for names in comparison.differing_cases.values():  # a case without a mask is not listed as a difference
            assert not {p.case for p in problems} & set(names), name


def test_a_declared_nan_refusal_is_an_outcome_compared_like_a_mask():
    reference = PrunerUnderTest(load_pruner(f"{HOSTILE}:correct"), spec="correct")
    refuses = PrunerUnderTest(load_pruner(f"{HOSTILE}:raise_on_nan"), spec="refuses")
    comparison = compare_pruners([reference, refuses], seed=1)
    assert comparison.problems == () and comparison.exit_code == 0
    assert comparison.status("refuses") == "pass"
    assert comparison.differing_cases["correct vs refuses"] == ["nan_n2", "nan_all"]  # a finding, not a failure


def test_compare_cli_exits_1_when_a_pruner_crashes_on_every_input(tmp_path, capsys):
    code = main(
        [
            "compare",
            "mbp_verify.conformance.reference:ReferencePruner",
            f"{HOSTILE}:exit_zero",
            "--reports-dir",
            str(tmp_path / "reports"),
            "--json",
            str(tmp_path / "out.json"),
            "--seed",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert f"{HOSTILE}:exit_zero: error (no comparable mask on 24 of 24 cases" in out
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["schema"] == "mbp-verify/compare" and document["exit_code"] == 1
    assert document["status"] == {
        "mbp_verify.conformance.reference:ReferencePruner": "pass",
        f"{HOSTILE}:exit_zero": "error",
    }
    folder = next((tmp_path / "reports").glob("compare-*"))
    in_folder = json.loads((folder / "compare.json").read_text())
    assert in_folder["schema"] == "mbp-verify/compare" and in_folder["problems"] == document["problems"]
    assert "## Status" in (folder / "compare.md").read_text()
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["LATEST-compare", folder.name]


def test_a_pruner_that_zeroes_its_input_changes_neither_the_other_pruner_nor_the_minimal_input():
    """The first pruner zeroed the shared array: the second then ran on zeros and the report
    showed `[0., 0.]` as the minimal input of a tie difference."""
    mutating = PrunerUnderTest(load_pruner(f"{HOSTILE}:zero_in_place_reversed_ties"), spec="mutating")
    correct = PrunerUnderTest(load_pruner(f"{HOSTILE}:correct"), spec="correct")
    comparison = compare_pruners([mutating, correct], seed=1)
    assert comparison.differing_cases["mutating vs correct"][:2] == ["ties_n2", "tie_group_64_n1"]
    for difference in comparison.differences:
        assert np.all(difference.weights != 0) and difference.weights.size == 2, difference.to_text()
        assert difference.first_mask.tolist() == [True, False] and difference.second_mask.tolist() == [False, True]


def test_the_same_pruner_spelt_twice_is_refused(capsys):
    assert main(["compare", f"{HOSTILE}:correct", f" {HOSTILE}:correct "]) == 2
    assert capsys.readouterr().err.strip() == "mbp-verify compare: error: compare got the same pruner twice"


def test_a_report_that_cannot_be_written_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mbp_verify.cli.compare.atomic_write_text", disk_full)
    reports = tmp_path / "reports"
    code = main(
        [
            "compare",
            "mbp_verify.conformance.reference:ReferencePruner",
            f"{HOSTILE}:correct",
            "--reports-dir",
            str(reports),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Traceback" not in "\n".join(err)
    assert (
        err[-1].startswith("mbp-verify compare: error: cannot write the report folder") and "No space left" in err[-1]
    )
    assert list(reports.iterdir()) == []


# Every hostile pruner of tests/cli/hostile/calls.py against the reference: exit 0 only for those
# that return a 0/1 mask of the weights' shape on every case (or refuse NaN as declared).
COMPARABLE = {
    "correct",
    "print_megabytes",
    "return_list",
    "zero_in_place",
    "zero_in_place_reversed_ties",
    "raise_on_nan",
    "Adapter",
    "torch_bfloat16_mask",
    "torch_sparse_mask",
}
NOT_COMPARABLE = {
    "exit_zero": "error",
    "exit_three": "error",
    "os_exit_zero": "error",
    "kill_self": "error",
    "segfault": "error",
    "segfault_when_one": "error",
    "base_exception": "error",
    "block_alarm_and_sleep": "error",
    "raise_odd": "error",
    "raise_value": "error",
    "raise_on_nan_declared_largest": "error",
    "torch_mask": "error",  # takes three arguments: every call raises TypeError
    "wrong_dtype": "fail",
    "wrong_shape": "fail",
    "layout": "fail",
    "return_object": "fail",
    "structured_mask": "fail",
    "object_array_of_arrays": "fail",
    "timedelta_mask": "fail",
    "torch_meta_mask": "fail",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMPARABLE | set(NOT_COMPARABLE)))
def test_every_hostile_pruner_is_compared_or_named_never_a_crash(name):
    if name.startswith("torch"):
        pytest.importorskip("torch")
    reference = PrunerUnderTest(reference_pruner(), spec="reference")
    timeout = 0.5 if name == "block_alarm_and_sleep" else 20.0  # torch's import alone can take seconds
    pruner = PrunerUnderTest(load_pruner(f"{HOSTILE}:{name}"), spec=name, timeout_s=timeout)
    comparison = compare_pruners([reference, pruner], seed=3)
    expected = "pass" if name in COMPARABLE else NOT_COMPARABLE[name]
    assert comparison.status(name) == expected, [p.message for p in comparison.problems][:3]
    assert comparison.exit_code == (0 if expected == "pass" else 1)
    json_text(comparison.to_dict())  # the report holds nothing the JSON writer refuses
