"""`mbp-verify bound` on conv networks: the file's input shape, --input-shape checks, --sample
with --input-shape, the same JSON shape as dense brackets, exit codes and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mbp_verify.bounds import bracket_conv_sup_error
from mbp_verify.cli import main
from mbp_verify.engine import (
    load_conv_network,
    prune_network,
    sample_conv_network,
    sample_network,
    save_conv_network,
    save_network,
)
from mbp_verify.seeding import DEFAULT_ROOT_SEED, seed_sequence


@pytest.fixture()
def conv_file(tmp_path):
    path = tmp_path / "cnn.npz"
    save_conv_network(path, sample_conv_network((2, 6, 6), [4, 4], 3, dense=[5], stride=[1, 2], padding="circular"))
    return path


def test_conv_file_json_matches_the_library_bracket(conv_file, tmp_path):
    out = tmp_path / "b.json"
    assert main(["bound", str(conv_file), "--alpha", "0.3", "--effort", "fast", "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    pair = prune_network(load_conv_network(conv_file), 0.3)
    expected = bracket_conv_sup_error(
        pair.original, pair.pruned, effort="fast", rng=seed_sequence(DEFAULT_ROOT_SEED, "cli.bound.search")
    ).to_dict()
    # the dense command's fields, plus the architecture
    for key, value in expected.items():
        if key != "timings":
            assert document[key] == value, key
    assert document["input_shape"] == [2, 6, 6]
    assert document["layers"][0] == {"kind": "conv", "stride": 1, "padding": "circular"}
    assert document["layers"][2] == {"kind": "dense"}
    assert len(document["witness"]) == 72 and document["widths"][0] == 72
    assert set(document["upper_bounds"]) == {"layerwise", "coupled"} and 0 < document["lower"] <= document["upper"]


def test_input_shape_must_agree_with_the_file(conv_file, capsys):
    assert main(["bound", str(conv_file), "--alpha", "0.3", "--effort", "fast", "--input-shape", "2,6,6"]) == 0
    capsys.readouterr()
    assert main(["bound", str(conv_file), "--alpha", "0.3", "--input-shape", "2,6,7"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"mbp-verify bound: error: --input-shape 2,6,7 does not match the input shape 2,6,6 stored in "
        f"{str(conv_file)!r}"
    ]


@pytest.mark.parametrize(
    "shape, message", [("2,6", "give C,H,W"), ("2,0,6", "positive integers"), ("a,b,c", "positive integers")]
)
def test_bad_input_shapes_exit_2(conv_file, shape, message, capsys):
    assert main(["bound", str(conv_file), "--alpha", "0.3", "--input-shape", shape]) == 2
    assert message in capsys.readouterr().err


def test_dense_file_with_input_shape_is_an_input_error(tmp_path, capsys):
    path = tmp_path / "dense.npz"
    save_network(path, sample_network([6, 8, 3], 1))
    assert main(["bound", str(path), "--alpha", "0.3", "--input-shape", "1,2,3"]) == 2
    assert "--input-shape is for conv networks" in capsys.readouterr().err


def test_eps_exit_codes(conv_file, tmp_path):
    out = tmp_path / "b.json"
    args = ["bound", str(conv_file), "--alpha", "0.3", "--effort", "fast"]
    assert main(args + ["--json", str(out)]) == 0
    bracket = json.loads(out.read_text())
    assert main(args + ["--eps", repr(bracket["upper"] * 1.01)]) == 0
    assert main(args + ["--eps", repr(bracket["lower"] * 0.5), "--json", str(out)]) == 1
    assert json.loads(out.read_text())["decision"] == "violated"
    assert main(args + ["--eps", repr((bracket["lower"] + bracket["upper"]) / 2), "--json", str(out)]) == 1
    assert json.loads(out.read_text())["decision"] == "unknown"


def test_mask_file_over_kernels(conv_file, tmp_path):
    network = load_conv_network(conv_file)
    masks = tmp_path / "m.npz"
    np.savez(masks, **{f"M{i + 1}": (np.abs(w) > 0.1).astype(np.int8) for i, w in enumerate(network.weights)})
    out = tmp_path / "b.json"
    assert main(["bound", str(conv_file), "--mask-file", str(masks), "--effort", "fast", "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["counts"] == [int(np.count_nonzero(np.abs(w) <= 0.1)) for w in network.weights]
    bad = tmp_path / "bad.npz"
    np.savez(bad, M1=np.ones((4, 2, 3, 3)), M2=np.ones((4, 4, 3)), M3=np.ones((5, 36)))
    assert main(["bound", str(conv_file), "--mask-file", str(bad)]) == 2


def test_sample_with_input_shape_samples_conv_layers(tmp_path):
    out = tmp_path / "b.json"
    args = ["bound", "--sample", "2x4", "--input-shape", "1,5,5", "--alpha", "0.3", "--effort", "fast", "--seed", "7"]
    assert main(args + ["--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["widths"] == [25, 100, 100] and document["input_shape"] == [1, 5, 5]
    assert document["layers"] == [{"kind": "conv", "stride": 1, "padding": "zeros"}] * 2
    assert main(["bound", "--sample", "3,2", "--input-shape", "1,5,5", "--alpha", "0.3", "--effort", "fast"]) == 0


def test_branch_and_bound_is_refused_for_conv(conv_file, capsys):
    assert main(["bound", str(conv_file), "--alpha", "0.3", "--target-ratio", "1.5"]) == 2
    assert "not available for conv networks" in capsys.readouterr().err


def test_stored_activations_are_used_unless_overridden(tmp_path):
    path = tmp_path / "tanh.npz"
    save_conv_network(path, sample_conv_network((1, 4, 4), [3], 2, dense=[2], activation="tanh"))
    out = tmp_path / "b.json"
    assert main(["bound", str(path), "--alpha", "0.3", "--effort", "fast", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["activations"] == ["tanh"]
    assert (
        main(["bound", str(path), "--alpha", "0.3", "--effort", "fast", "--activation", "relu", "--json", str(out)])
        == 0
    )
    assert json.loads(out.read_text())["activations"] == ["relu"]
