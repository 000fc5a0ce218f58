"""`compare` runs pruners on the same corpus: differing cases, minimal inputs, report files."""

from __future__ import annotations

import json

import numpy as np

from mbp_verify.cli import main
from mbp_verify.conformance import PrunerUnderTest, load_pruner, reference_pruner
from mbp_verify.conformance.compare import compare_pruners, minimal_difference

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
