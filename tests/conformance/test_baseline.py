"""Recording a baseline survives any answer: a structured array, a global pruner returning None,
a crash. Each is recorded (an answer that is not a mask with `invalid`, a call that never
returned with `returned: false`), never an internal error of the checker (these were exit 3)."""

from __future__ import annotations

import json

import pytest

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
    assert code == 1 and "Traceback" not in capsys.readouterr().err  # a recording of errors is no pass
    (entry,) = [e for e in json.loads(path.read_text())["cases"] if e["name"] == "global_three_layers"]
    assert entry == {**entry, "outcome": "raised", "error": "TypeError"}


def _edited(document: dict, edit) -> dict:
    copy = json.loads(json.dumps(document))
    edit(copy)
    return copy


# (what a hand edit did, the edit, words of the one-line error); each was exit 3, or a silent
# pass (corpus_version "2": no case compared, exit 0), or a verdict about nothing (outcome "weird": exit 1)
MALFORMED = {
    "cases_are_numbers": (lambda d: d.update(cases=[1, 2]), "case 0: a JSON int, not an object"),
    "case_without_name": (lambda d: d["cases"][0].pop("name"), "case 0: no name"),
    "case_without_digest": (lambda d: d["cases"][0].pop("weights_sha256"), "case 0: no weights_sha256"),
    "unknown_outcome": (lambda d: d["cases"][0].update(outcome="weird"), "outcome 'weird' is neither"),
    "bits_not_hex": (lambda d: d["cases"][0].update(bits="zz"), "bits is not hexadecimal"),
    "bits_too_short": (lambda d: d["cases"][0].update(bits="00"), "bits do not hold one bit per mask entry"),
    "shapes_not_a_list": (lambda d: d["cases"][0].update(mask_shapes="x"), "mask_shapes is not a list of shapes"),
    "raised_without_type": (lambda d: d["cases"][0].update(outcome="raised"), "raised, but no error type"),
    "corpus_version_text": (lambda d: d.update(corpus_version="2"), "corpus_version '2' is not a version number"),
    "libraries_a_list": (lambda d: d.update(libraries=[1]), "libraries is not a JSON object"),
    "seed_true": (lambda d: d.update(seed=True), "seed True is not a non-negative integer"),
    "seed_negative": (lambda d: d.update(seed=-5), "seed -5 is not a non-negative integer"),
}


def test_a_malformed_baseline_is_one_input_error_line(tmp_path, capsys):
    pruner = PrunerUnderTest(load_pruner(f"{HOSTILE}:correct"), spec="correct")
    recorded = record_baseline(pruner, tmp_path / "b.json", seed=1)
    assert main(["check-pruner", f"{HOSTILE}:correct", "--baseline", str(tmp_path / "b.json"), "--baseline-only"]) == 0
    capsys.readouterr()
    for case, (edit, words) in MALFORMED.items():
        path = tmp_path / f"{case}.json"
        path.write_text(json.dumps(_edited(recorded, edit)))
        code = main(["check-pruner", f"{HOSTILE}:correct", "--baseline", str(path), "--baseline-only"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and words in err[0], (case, err)


def test_another_corpus_version_is_still_a_change_not_a_malformed_file(tmp_path, capsys):
    pruner = PrunerUnderTest(load_pruner(f"{HOSTILE}:correct"), spec="correct")
    old = _edited(record_baseline(pruner, tmp_path / "b.json", seed=1), lambda d: d.update(corpus_version=1))
    old["cases"][0] = {"name": "from another corpus"}  # its cases need not parse: none is compared
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert (
        main(["check-pruner", f"{HOSTILE}:correct", "--baseline", str(tmp_path / "old.json"), "--baseline-only"]) == 1
    )
    assert "recorded with corpus version 1" in capsys.readouterr().out


# A recording (or a comparison) in which the pruner gave no mask is not a pass: until 0.6 a pruner
# that raised, exited or crashed on every case recorded exit 0, and comparing with that recording
# passed as long as it kept crashing. (pruner, recording's exit, problem statuses, problem cases)
RECORDINGS = {
    "raises_everywhere": ("raise_odd", 1, {"error"}, 22),  # the two NaN cases: its default nan=raise_or_largest
    "sys_exit_0": ("exit_zero", 1, {"error"}, 24),
    "structured_answer": ("structured_mask", 1, {"fail"}, 24),
    "object_array_of_arrays": ("object_array_of_arrays", 1, {"fail"}, 24),  # was exit 3 (bits of the answer)
    "refuses_nan_as_declared": ("raise_on_nan", 0, set(), 0),
    "correct": ("correct", 0, set(), 0),
}


@pytest.mark.parametrize("case", sorted(RECORDINGS))
def test_a_baseline_of_errors_is_not_a_pass_when_recorded_nor_when_compared(case, tmp_path, capsys):
    target, code, statuses, count = RECORDINGS[case]
    path, out = tmp_path / "b.json", tmp_path / "out.json"
    args = ["check-pruner", f"{HOSTILE}:{target}", "--baseline-only", "--json", str(out)]
    assert main([*args, "--record-baseline", str(path)]) == code
    recording = json.loads(out.read_text())["baseline_recording"]
    assert {p["status"] for p in recording["problems"]} == statuses and len(recording["problems"]) == count
    assert recording["passed"] is (code == 0) and path.is_file()  # the file is written either way
    assert ("gave no valid mask on" in capsys.readouterr().out) is (code == 1)
    assert main([*args, "--baseline", str(path)]) == code  # unchanged, but still no mask to compare
    compared = json.loads(out.read_text())["baseline"]
    assert compared["changed"] is False and compared["passed"] is (code == 0)
    assert len(compared["problems"]) == count


def test_the_baseline_property_is_an_error_for_an_unchanged_crash(tmp_path):
    path, out = tmp_path / "b.json", tmp_path / "out.json"
    assert main(["check-pruner", f"{HOSTILE}:raise_odd", "--record-baseline", str(path), "--baseline-only"]) == 1
    args = ["check-pruner", f"{HOSTILE}:raise_odd", "--quick", "--workers", "1", "-k", "test_baseline_unchanged"]
    assert main([*args, "--baseline", str(path), "--json", str(out), "--reports-dir", str(tmp_path / "r")]) == 1
    (prop,) = json.loads(out.read_text())["report"]["properties"]
    assert prop["status"] == "error" and "gave no valid mask on 22 of 24" in prop["message"]
    assert prop["evidence"] == {"cases": 24, "changed": 0, "no_mask": 22}
