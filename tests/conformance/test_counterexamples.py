"""A counterexample file that is not one (edited by hand, written by another tool) is an input
error naming what is wrong, before the pruner runs: it used to crash the replay (exit 3: no
property id, a values list, a text n_prune, a reprune without `second`) or replay as something
else (a missing n_prune as 0, an unknown kind as a layer, n_prune = 10**30) and exit 0."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mbp_verify.cli import main
from mbp_verify.conformance.counterexamples import load_counterexample, save_counterexample

W = np.array([0.5, -2.0, 1.0, 3.0])
GOOD = {"property_id": "pruner.exact_count", "kind": "layer", "values": {"n_prune": 2}}

# (meta, arrays, words of the error)
BAD_FILES = {
    "meta_is_a_list": ([1, 2], {"weights": W}, "its meta record is a JSON list, not an object"),
    "no_property_id": ({"kind": "layer", "values": {"n_prune": 2}}, {"weights": W}, "it names no property"),
    "property_id_not_text": ({**GOOD, "property_id": 5}, {"weights": W}, "it names no property"),
    "unknown_kind": ({**GOOD, "kind": "banana"}, {"weights": W}, "kind 'banana' is none of layer, fraction"),
    "values_not_an_object": ({**GOOD, "values": [1]}, {"weights": W}, "its values are not a JSON object"),
    "message_not_text": ({**GOOD, "message": 5}, {"weights": W}, "message is not a string"),
    "n_prune_missing": ({**GOOD, "values": {}}, {"weights": W}, "n_prune None is not an integer in [0, 4]"),
    "n_prune_text": ({**GOOD, "values": {"n_prune": "2"}}, {"weights": W}, "n_prune '2' is not an integer"),
    "n_prune_float": ({**GOOD, "values": {"n_prune": 2.5}}, {"weights": W}, "n_prune 2.5 is not an integer"),
    "n_prune_negative": ({**GOOD, "values": {"n_prune": -3}}, {"weights": W}, "n_prune -3 is not an integer"),
    "n_prune_above_D": ({**GOOD, "values": {"n_prune": 10**30}}, {"weights": W}, "is not an integer in [0, 4]"),
    "n_prune_bool": ({**GOOD, "values": {"n_prune": True}}, {"weights": W}, "n_prune True is not an integer"),
    "fraction_nan": (
        {**GOOD, "kind": "fraction", "values": {"fraction": float("nan")}},
        {"weights": W},
        "fraction nan is not a number in [0, 1]",
    ),
    "reprune_without_second": (
        {**GOOD, "kind": "reprune", "values": {"first": 1}},
        {"weights": W},
        "second None is not an integer",
    ),
    "global_without_layers": ({**GOOD, "kind": "global", "values": {"total": 2}}, {"weights": W}, "holds no layers"),
    "global_without_total": ({**GOOD, "kind": "global", "values": {}}, {"layer_0": W}, "total None is not an integer"),
    "no_weights": (GOOD, {}, "it holds no weights"),
    "integer_weights": (GOOD, {"weights": np.array([1, -2, 3, 4])}, "weights of dtype int64: the pruner protocol"),
    "text_weights": (GOOD, {"weights": np.array(["a", "b", "c", "d"])}, "weights of dtype <U1"),
}


def _write(path, meta, arrays):
    np.savez(path, meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **arrays)
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_malformed_file_is_refused_before_the_pruner_runs(case, tmp_path, capsys):
    meta, arrays, words = BAD_FILES[case]
    path = _write(tmp_path / "case.npz", meta, arrays)
    code = main(["check-pruner", "tests.cli.hostile.calls:exit_zero", "--replay", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("mbp-verify check-pruner: error: ") and words in err[0], err[0]


def test_every_kind_the_suite_saves_loads_back(tmp_path):
    layers = [W, W[:2].astype(np.float16)]
    saved = [
        save_counterexample(tmp_path / "l.npz", property_id="p.l", kind="layer", weights=W, n_prune=4),
        save_counterexample(tmp_path / "f.npz", property_id="p.f", kind="fraction", weights=W, fraction=1.0),
        save_counterexample(tmp_path / "r.npz", property_id="p.r", kind="reprune", weights=W, first=0, second=4),
        save_counterexample(tmp_path / "g.npz", property_id="p.g", kind="global", layers=layers, total=6),
    ]
    loaded = [load_counterexample(path) for path in saved]
    assert [(c.property_id, c.kind) for c in loaded] == [
        ("p.l", "layer"),
        ("p.f", "fraction"),
        ("p.r", "reprune"),
        ("p.g", "global"),
    ]
    assert loaded[3].layers[1].dtype == np.float16 and loaded[3].values == {"total": 6}
