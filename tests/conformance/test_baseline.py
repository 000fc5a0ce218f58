"""Recording a baseline survives any answer: a structured array, a global pruner returning None,
a crash. Each is recorded (an answer that is not a mask with `invalid`, a call that never
returned with `returned: false`), never an internal error of the checker (these were exit 3)."""

from __future__ import annotations

import json

from mbp_verify.cli import main
from mbp_verify.conformance import PrunerUnderTest, load_pruner
from mbp_verify.conformance.baseline import compare_baseline, record_baseline, run_corpus

HOSTILE = "tests.cli.hostile.calls"


def test_an_answer_numpy_cannot_cast_is_recorded_as_invalid_and_its_change_noticed(tmp_path):
    pruner = PrunerUnderTest(load_pruner(f"{HOSTILE}:structured_mask"), spec="structured")
    document = record_baseline(pruner, tmp_path / "b.json", seed=1)
    entries = document["cases"]
    assert {e["outcome"] for e in entries} == {"mask"}
    assert all("is not boolean or numeric" in e["invalid"] for e in entries)
    assert not compare_baseline(pruner, json.loads((tmp_path / "b.json").read_text())).changed
    correct = PrunerUnderTest(load_pruner(f"{HOSTILE}:correct"), spec="correct")
    assert compare_baseline(correct, document).changed  # the same file against real masks: every case changed


def test_a_crash_is_recorded_as_a_call_that_never_returned():
    pruner = PrunerUnderTest(load_pruner(f"{HOSTILE}:segfault_when_one"), spec="segfault")
    entries = {e["name"]: e for e in run_corpus(pruner, 1, include_global=False)}
    assert entries["single_n1"]["returned"] is False and "SIGSEGV" in entries["single_n1"]["error"]
    assert "returned" not in entries["single_n0"] and entries["single_n0"]["outcome"] == "mask"


def test_a_global_pruner_returning_none_is_its_error_not_an_internal_error(tmp_path, capsys):
    path = tmp_path / "b.json"
    code = main(["check-pruner", f"{HOSTILE}:global_none", "--record-baseline", str(path), "--baseline-only"])
    assert code == 0 and "Traceback" not in capsys.readouterr().err
    (entry,) = [e for e in json.loads(path.read_text())["cases"] if e["name"] == "global_three_layers"]
    assert entry == {**entry, "outcome": "raised", "error": "TypeError"}
