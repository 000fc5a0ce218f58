"""`mbp-verify bound`: tables, JSON, exit codes, and one-line errors for bad input."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from mbp_verify.cli import main
from mbp_verify.engine import sample_network, save_network
from mbp_verify.suite import single_thread_env


@pytest.fixture()
def network_file(tmp_path):
    path = tmp_path / "net.npz"
    save_network(path, sample_network([6, 16, 16, 3], 4))
    return path


def test_json_fields(network_file, tmp_path, capsys):
    out = tmp_path / "bound.json"
    assert main(["bound", str(network_file), "--alpha", "0.3", "--effort", "fast", "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["schema"] == "mbp-verify/bound"
    for key in (
        "lower",
        "upper",
        "ratio",
        "witness",
        "activation",
        "alpha",
        "upper_bounds",
        "upper_method",
        "widths",
        "counts",
    ):
        assert key in document
    assert document["activation"] == "relu" and document["alpha"] == "0.3"
    assert document["widths"] == [6, 16, 16, 3] and len(document["witness"]) == 6
    assert 0 < document["lower"] <= document["upper"]
    assert "ratio upper/lower" in capsys.readouterr().out


def test_eps_exit_codes(network_file, tmp_path):
    out = tmp_path / "b.json"
    assert main(["bound", str(network_file), "--alpha", "0.3", "--effort", "fast", "--json", str(out)]) == 0
    bracket = json.loads(out.read_text())
    args = ["bound", str(network_file), "--alpha", "0.3", "--effort", "fast"]
    assert main(args + ["--eps", repr(bracket["upper"] * 1.01)]) == 0
    assert main(args + ["--eps", repr(bracket["lower"] * 0.5)]) == 1


def test_mask_file_and_sample(network_file, tmp_path):
    masks = tmp_path / "m.npz"
    np.savez(
        masks,
        M1=np.ones((16, 6)),
        M2=(np.arange(256).reshape(16, 16) % 5 != 0).astype(np.int8),
        M3=np.ones((3, 16), bool),
    )
    assert main(["bound", str(network_file), "--mask-file", str(masks), "--effort", "fast"]) == 0
    assert main(["bound", "--sample", "8,12,4", "--alpha", "0.2", "--seed", "3", "--effort", "fast"]) == 0


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d, n: ["bound", str(d / "missing.npz"), "--alpha", "0.3"], "does not exist"),
        (lambda d, n: ["bound", str(n)], "--alpha"),
        (lambda d, n: ["bound", str(n), "--alpha", "1.5"], "alpha"),
        (lambda d, n: ["bound", str(n), "--alpha", "0.3", "--activation", "swishy"], "unknown activation"),
        (lambda d, n: ["bound", "--sample", "3xq", "--alpha", "0.3"], "--sample"),
        (lambda d, n: ["bound", str(n), "--alpha", "0.3", "--eps", "nan"], "--eps"),
    ],
)
def test_bad_input_exit_2(network_file, tmp_path, capsys, make_args, message):
    assert main(make_args(tmp_path, network_file)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_files_exit_2(tmp_path, capsys):
    unchained = tmp_path / "unchained.npz"
    np.savez(unchained, W1=np.ones((4, 3)), W2=np.ones((2, 5)))
    nan = tmp_path / "nan.npz"
    np.savez(nan, W1=np.full((4, 3), np.nan), W2=np.ones((2, 4)))
    good = tmp_path / "good.npz"
    np.savez(good, W1=np.ones((4, 3)), W2=np.ones((2, 4)))
    wrong_shape = tmp_path / "wrong.npz"
    np.savez(wrong_shape, M1=np.ones((3, 4)), M2=np.ones((2, 4)))
    not_binary = tmp_path / "nb.npz"
    np.savez(not_binary, M1=np.full((4, 3), 0.5), M2=np.ones((2, 4)))
    one_mask = tmp_path / "one.npz"
    np.savez(one_mask, M1=np.ones((4, 3)))
    text = tmp_path / "masks.txt"
    text.write_text("1 0 1")
    cases = [
        ([str(unchained), "--alpha", "0.3"], "do not chain"),
        ([str(nan), "--alpha", "0.3"], "NaN"),
        ([str(good), "--mask-file", str(wrong_shape)], "shape"),
        ([str(good), "--mask-file", str(not_binary)], "binary"),
        ([str(good), "--mask-file", str(one_mask)], "1 masks given, the network has 2 layers"),
        ([str(good), "--mask-file", str(tmp_path / "none.npz")], "mask file"),
        ([str(good), "--mask-file", str(text)], "not a .npz mask"),
    ]
    for args, message in cases:
        assert main(["bound", *args]) == 2
        assert message in capsys.readouterr().err


def test_subprocess(network_file, tmp_path):
    out = tmp_path / "sub.json"
    env = single_thread_env()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mbp_verify",
            "bound",
            str(network_file),
            "--alpha",
            "0.3",
            "--effort",
            "fast",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["upper"] > 0
    bad = subprocess.run(
        [sys.executable, "-m", "mbp_verify", "bound", str(network_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_target_ratio_branches_on_small_inputs(tmp_path):
    path, out = tmp_path / "small.npz", tmp_path / "bb.json"
    save_network(path, sample_network([2, 12, 12, 2], 5))
    assert (
        main(
            [
                "bound",
                str(path),
                "--alpha",
                "0.3",
                "--effort",
                "fast",
                "--target-ratio",
                "1.05",
                "--time-limit",
                "20",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    document = json.loads(out.read_text())
    assert document["upper_method"] == "branch_and_bound" and document["upper"] <= 1.05 * document["lower"]
    assert "branch_and_bound" in document["timings"]


@pytest.mark.parametrize(
    "flag, value",
    [("--target-ratio", "0.9"), ("--time-limit", "0"), ("--target-ratio", "nan"), ("--time-limit", "inf")],
)
def test_bad_branch_options(network_file, flag, value, capsys):
    # checked before the network is read: one line, no memory-estimate progress line before it
    assert main(["bound", str(network_file), "--alpha", "0.3", "--effort", "fast", flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "must be" in err[0]


def test_a_bias_vector_is_named_in_the_error(tmp_path, capsys):
    # W1, b1, W2, b2 in natural key order: the error used to read "W3 must be a 2-D matrix ... (3,)",
    # naming an array the file does not hold
    path = tmp_path / "bias.npz"
    np.savez(path, W1=np.ones((3, 2)), b1=np.zeros(3), W2=np.ones((1, 3)), b2=np.zeros(1))
    assert main(["bound", str(path), "--alpha", "0.3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'b1'" in err[0] and "biases are not supported" in err[0]


def test_certify_all_certifies_the_skipped_averaged_bound(tmp_path):
    """A wide ReLU sample where the averaged bound cannot win: skipped by default (with its
    reason), certified with --certify-all, and the upper end is the same."""
    documents = []
    for extra in ([], ["--certify-all"]):
        out = tmp_path / f"b{len(extra)}.json"
        args = ["bound", "--sample", "4x48", "--alpha", "0.2", "--seed", "3", "--effort", "fast", "--json", str(out)]
        assert main(args + extra) == 0
        documents.append(json.loads(out.read_text()))
    default, every = documents
    assert "averaged" not in default["upper_bounds"]
    assert default["unavailable"]["averaged"].startswith("not certified: an estimate from below")
    assert every["upper_bounds"]["averaged"] > every["upper_bounds"]["ellipsoid"] == every["upper"]
    assert default["upper"] == every["upper"]


def test_extreme_weights_give_no_numpy_warnings_on_stderr(tmp_path, capsys):
    # tanh with 1e200 weights: no finite sound bound (upper = +inf, exit 1 with --eps); the overflow on
    # the way used to print five RuntimeWarnings from ascent, enclosures and numpy.linalg on stderr
    path = tmp_path / "huge.npz"
    np.savez(path, W1=np.full((2, 2), 1e200), W2=np.full((2, 2), 1e200), W3=np.full((1, 2), 1e200))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["bound", str(path), "--alpha", "0.3", "--activation", "tanh", "--eps", "1"]) == 1
    assert [str(w.message) for w in caught] == []
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1  # the memory estimate
    assert "eps = 1: unknown" in captured.out
