"""Hostile input on every command: exit 2, one line on stderr, no traceback, nothing left behind.

Each case runs in-process (`mbp_verify.cli.main`) with the current folder and `--reports-dir` in a
fresh tmp_path holding the fixture files; afterwards the folder must hold exactly those files
(no report folder, no `.partial` staging folder, no `.tmp` file). A few run as
`python -m mbp_verify` subprocesses, the way a user meets them.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mbp_verify.cli import main

PRUNER = "mbp_verify.engine:magnitude_mask"
HUGE = "10000000000000"


def _fixtures(root: Path) -> None:
    rng = np.random.default_rng(0)
    layers = {"W1": rng.uniform(-1, 1, (16, 8)), "W2": rng.uniform(-1, 1, (16, 16)), "W3": rng.uniform(-1, 1, (4, 16))}
    np.savez(root / "net.npz", **layers)
    np.savez(root / "nonchain.npz", W1=layers["W1"], W2=rng.uniform(-1, 1, (4, 5)))
    np.savez(root / "nan.npz", W1=np.full((4, 3), np.nan), W2=rng.uniform(-1, 1, (2, 4)))
    np.savez(root / "inf.npz", W1=np.full((4, 3), np.inf), W2=rng.uniform(-1, 1, (2, 4)))
    np.savez(root / "noarrays.npz")
    np.savez(root / "vector.npz", W1=rng.uniform(-1, 1, 5))
    np.savez(root / "badmask.npz", M1=np.ones((3, 3)), M2=np.ones((3, 3)))
    np.savez(root / "strings.npz", W1=np.array([["a", "b"], ["c", "d"]]))
    (root / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    (root / "empty.npz").write_bytes(b"")
    (root / "weights.txt").write_text("1 2 3\n")
    (root / "weights.csv").write_text("1,2\n3,4\n")
    (root / "afile").write_text("a file where a folder is expected\n")
    (root / "adir").mkdir()
    np.savez(root / "zero_layer.npz", W1=layers["W1"], W2=np.zeros((16, 16)), W3=layers["W3"])  # e.g. zero-initialised
    np.savez(root / "constant.npz", W1=np.ones((16, 8)), W2=layers["W2"])
    np.savez(root / "overflowing_scale.npz", W1=layers["W1"] * 1e308, W2=layers["W2"])  # K = a sqrt(16) > max float
    os.mkfifo(root / "pipe.npz")  # opening it for reading would block forever
    _declaring_npy(root / "huge.npy", (10**6, 10**6))  # 8 TB declared in a 200-byte file
    with zipfile.ZipFile(root / "huge.npz", "w") as archive:
        archive.write(root / "huge.npy", "W1.npy")
    with zipfile.ZipFile(root / "repeated.npz", "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the repeated name
        for name, layer in [("W1.npy", layers["W1"]), ("W2.npy", layers["W2"]), ("W1.npy", np.ones((3, 3)))]:
            buffer = io.BytesIO()
            np.save(buffer, layer)
            archive.writestr(name, buffer.getvalue())
    with zipfile.ZipFile(root / "model.pt", "w") as archive:  # the layout of torch.save's zip files
        archive.writestr("model/data.pkl", b"\x80\x02}q\x00.")


def _declaring_npy(path: Path, shape: tuple[int, ...]) -> None:
    """A .npy file whose header declares `shape` of float64 but which holds 64 bytes of data."""
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": shape})
        handle.write(bytes(64))


# (id, argv, stderr pattern); every case must exit 2. "{huge}" is 1e13.
CASES = [
    # --- run ---------------------------------------------------------------------------------
    ("run-json-dir", ["run", "--json", "adir"], r"--json 'adir' is a directory"),
    ("run-json-missing-folder", ["run", "--json", "nowhere/out.json"], r"folder 'nowhere' does not exist"),
    ("run-json-empty", ["run", "--json", ""], r"give a file name"),
    ("run-json-under-file", ["run", "--json", "afile/out.json"], r"'afile' is not a folder"),
    ("run-reports-dir-file", ["run", "--reports-dir", "afile"], r"--reports-dir 'afile' exists and is not a folder"),
    ("run-reports-dir-under-file", ["run", "--reports-dir", "afile/deeper"], r"'afile' is a file"),
    ("run-seed-negative", ["run", "--seed", "-1"], r"--seed must be non-negative"),
    ("run-seed-float", ["run", "--seed", "1.5"], r"invalid int value"),
    ("run-seed-hex", ["run", "--seed", "0x10"], r"invalid int value"),
    ("run-workers-text", ["run", "--workers", "many"], r"invalid int value"),
    ("run-quick-and-thorough", ["run", "--quick", "--thorough"], r"not allowed with argument"),
    ("run-unknown-option", ["run", "--bogus"], r"unrecognized arguments"),
    ("unknown-command", ["frobnicate"], r"invalid choice"),
    # --- check-pruner ------------------------------------------------------------------------
    ("cp-no-module", ["check-pruner", "no_such_module_xyz:fn"], r"cannot import module"),
    ("cp-no-attribute", ["check-pruner", "mbp_verify.engine:no_such_attr"], r"has no attribute"),
    ("cp-not-a-spec", ["check-pruner", "justaname"], r"MODULE:ATTR"),
    ("cp-json-dir", ["check-pruner", PRUNER, "--json", "adir"], r"is a directory"),
    ("cp-reports-dir-file", ["check-pruner", PRUNER, "--reports-dir", "afile"], r"exists and is not a folder"),
    # an output file named like the reports folder the run creates: the run did its work, wrote its report
    # into that folder, and then exited 2 because --json had become a folder
    (
        "cp-json-is-the-reports-dir",
        ["check-pruner", PRUNER, "--json", "newdir", "--reports-dir", "newdir"],
        r"--json 'newdir' is also the reports folder",
    ),
    (
        "cp-baseline-is-the-reports-dir",
        ["check-pruner", PRUNER, "--record-baseline", "newdir", "--reports-dir", "newdir"],
        r"--record-baseline 'newdir' is also the reports folder",
    ),
    (
        "run-json-is-the-default-reports-dir",
        ["run", "--json", "reports"],
        r"--json 'reports' is also the reports folder",
    ),
    ("cp-bad-rules", ["check-pruner", PRUNER, "--rules", "zzz"], r"key=value"),
    ("cp-baseline-only-alone", ["check-pruner", PRUNER, "--baseline-only"], r"--baseline-only needs"),
    ("cp-replay-huge-header", ["check-pruner", PRUNER, "--replay", "huge.npz"], r"the header declares shape"),
    ("cp-replay-missing", ["check-pruner", PRUNER, "--replay", "missing.npz"], r"does not exist"),
    (
        "cp-baseline-missing",
        ["check-pruner", PRUNER, "--baseline", "missing.json", "--baseline-only"],
        r"does not exist",
    ),
    (
        "cp-record-baseline-dir",
        ["check-pruner", PRUNER, "--record-baseline", "adir", "--baseline-only"],
        r"--record-baseline 'adir' is a directory",
    ),
    (
        "cp-record-baseline-missing-folder",
        ["check-pruner", PRUNER, "--record-baseline", "no/where.json", "--baseline-only"],
        r"does not exist",
    ),
    ("cp-timeout-text", ["check-pruner", PRUNER, "--timeout", "soon"], r"invalid float value"),
    ("cp-missing-target", ["check-pruner"], r"required"),
    # an output over another output or an input (since 0.6): recording first, then comparing with the
    # recording itself, passed any change; --json replaced the baseline or the weights
    (
        "cp-record-baseline-is-baseline",
        ["check-pruner", PRUNER, "--baseline", "b.json", "--record-baseline", "./b.json", "--baseline-only"],
        r"--record-baseline 'b.json' is also --baseline: give each file its own name",
    ),
    (
        "cp-json-is-record-baseline",
        ["check-pruner", PRUNER, "--record-baseline", "x.json", "--json", "x.json", "--baseline-only"],
        r"--record-baseline 'x.json' is also --json",
    ),
    ("audit-json-is-weights", ["audit", "net.npz", "--json", "net.npz"], r"--json 'net.npz' is also a WEIGHTS file"),
    ("bound-json-is-network", ["bound", "net.npz", "--json", "adir/../net.npz"], r"is also NETWORK"),
    # --- theorem -----------------------------------------------------------------------------
    ("th-trials-huge", ["theorem", "--trials", HUGE], r"needs an estimated .* of memory, more than this machine's"),
    ("th-widths-huge", ["theorem", "--widths", "100000000"], r"needs an estimated .*EiB of memory"),
    ("th-depth-huge", ["theorem", "--depth", "100000"], r"needs an estimated .*TiB of memory"),
    ("th-looks-huge", ["theorem", "--trials", HUGE, "--looks", HUGE], r"needs an estimated"),
    ("th-alpha-empty-entry", ["theorem", "--alpha", "0.2,,0.3"], r"--alpha has an empty entry in '0.2,,0.3'"),
    ("th-alpha-trailing-comma", ["theorem", "--alpha", "0.2,"], r"--alpha has an empty entry"),
    ("th-alpha-empty", ["theorem", "--alpha", ""], r"--alpha needs at least one value"),
    ("th-alpha-text", ["theorem", "--alpha", "abc"], r"--alpha must be a number"),
    ("th-alpha-nan", ["theorem", "--alpha", "nan"], r"alpha must be finite, got nan"),
    ("th-alpha-one", ["theorem", "--alpha", "1"], r"alpha must lie in the open interval \(0, 1\), got 1\.0"),
    ("th-alpha-negative", ["theorem", "--alpha", "-0.2"], r"alpha must lie in the open interval"),
    ("th-widths-empty-entry", ["theorem", "--widths", "64,,128"], r"--widths has an empty entry"),
    ("th-widths-zero", ["theorem", "--widths", "0"], r"--widths must list positive integers"),
    (
        "th-widths-fraction",
        ["theorem", "--widths", "64.5"],
        r"--widths must be a comma-separated list of positive integers",
    ),
    ("th-widths-hex", ["theorem", "--widths", "0x40"], r"--widths must be a comma-separated list"),
    ("th-widths-exponent", ["theorem", "--widths", "1e3"], r"--widths must be a comma-separated list"),
    ("th-widths-repeat", ["theorem", "--widths", "8,8", "--trials", "2"], r"must not repeat"),
    ("th-widths-too-small", ["theorem", "--widths", "2"], r"width must be an integer >= 4"),
    ("th-depth-one", ["theorem", "--depth", "1"], r"--depth must be an integer >= 2"),
    ("th-trials-zero", ["theorem", "--trials", "0"], r"--trials must be an integer >= 1"),
    ("th-trials-fraction", ["theorem", "--trials", "1.5"], r"invalid int value"),
    (
        "th-looks-over-trials",
        ["theorem", "--trials", "3", "--looks", "5", "--widths", "8"],
        r"looks must be an integer in \[1, trials\]",
    ),
    ("th-eps-nan", ["theorem", "--eps", "nan"], r"eps must be a positive finite number"),
    ("th-eps-inf", ["theorem", "--eps", "1e400"], r"eps must be a positive finite number"),
    ("th-eps-negative", ["theorem", "--eps", "-0.1"], r"eps must be a positive finite number"),
    ("th-delta-zero", ["theorem", "--delta", "0"], r"delta must lie strictly between 0 and 1, got 0\.0"),
    ("th-confidence-one", ["theorem", "--confidence", "1"], r"confidence must lie strictly between 0 and 1, got 1\.0"),
    ("th-scale-inf", ["theorem", "--scale", "inf"], r"weight scale K must be a positive finite number"),
    (
        "th-random-trials-negative",
        ["theorem", "--random-trials", "-1"],
        r"random_trials must be an integer >= 0, got -1",
    ),
    (
        "th-activation-unknown",
        ["theorem", "--activation", "frobnicate"],
        r"unknown activation 'frobnicate'; known: identity, relu",
    ),
    ("th-pruning-unknown", ["theorem", "--pruning", "psychic"], r"invalid choice"),
    ("th-json-missing-folder", ["theorem", "--json", "nowhere/t.json"], r"folder 'nowhere' does not exist"),
    ("th-reports-dir-file", ["theorem", "--reports-dir", "afile"], r"exists and is not a folder"),
    # --- audit -------------------------------------------------------------------------------
    (
        "au-draws-huge",
        ["audit", "net.npz", "--draws", HUGE],
        r"1e\+13 Monte Carlo draws per test needs an estimated .*TiB of memory",
    ),
    (
        "au-level-tiny",
        ["audit", "net.npz", "--level", "1e-300"],
        r"8e\+300 Monte Carlo draws per test \(the fewest that --level 1e-300 allows\) needs an estimated",
    ),
    ("au-level-zero", ["audit", "net.npz", "--level", "0"], r"--level must lie strictly between 0 and 1, got 0\.0"),
    ("au-level-nan", ["audit", "net.npz", "--level", "nan"], r"--level must lie strictly between 0 and 1, got nan"),
    ("au-level-one", ["audit", "net.npz", "--level", "1"], r"--level must lie strictly between 0 and 1, got 1\.0"),
    ("au-draws-zero", ["audit", "net.npz", "--draws", "0"], r"--draws must be an integer >= 1"),
    ("au-draws-too-few", ["audit", "net.npz", "--draws", "5"], r"too coarse for Holm .* use at least 159"),
    ("au-draws-fraction", ["audit", "net.npz", "--draws", "1.5"], r"invalid int value"),
    ("au-missing-file", ["audit", "missing.npz"], r"weight file 'missing\.npz' does not exist"),
    ("au-corrupt-npz", ["audit", "corrupt.npz"], r"'corrupt\.npz' looks like a zip archive but cannot be read"),
    ("au-empty-file", ["audit", "empty.npz"], r"weight file 'empty\.npz' is empty"),
    ("au-no-arrays", ["audit", "noarrays.npz"], r"'noarrays\.npz' holds no tensors"),
    ("au-wrong-extension-txt", ["audit", "weights.txt"], r"'weights\.txt' is not a recognised weight file"),
    ("au-wrong-extension-csv", ["audit", "weights.csv"], r"'weights\.csv' is not a recognised weight file"),
    ("au-a-directory", ["audit", "adir"], r"weight file 'adir' is a directory"),
    ("au-nan-weights", ["audit", "nan.npz"], r"tensor 'W1' contains NaN or infinite entries"),
    ("au-inf-weights", ["audit", "inf.npz"], r"tensor 'W1' contains NaN or infinite entries"),
    (
        "au-string-weights",
        ["audit", "strings.npz"],
        r"holds no weight matrices .*W1: str32 tensor, not floating-point weights",
    ),
    ("au-huge-npy-header", ["audit", "huge.npy"], r"'huge\.npy': the header declares shape \(1000000, 1000000\)"),
    ("au-huge-npz-header", ["audit", "huge.npz"], r"member 'W1\.npy': the header declares shape .* at most 64 bytes"),
    ("au-repeated-member", ["audit", "repeated.npz"], r"'repeated\.npz' repeats the member 'W1\.npy'"),
    ("au-zero-layer", ["audit", "zero_layer.npz"], r"tensor 'W2' is constant \(every entry is 0\.0\).*--layers"),
    ("au-constant-layer", ["audit", "constant.npz"], r"tensor 'W1' is constant \(every entry is 1\.0\)"),
    (
        "au-scale-overflow",
        ["audit", "overflowing_scale.npz"],
        r"tensor 'W1': entries up to 9\.95e\+307 imply a weight scale K",
    ),
    ("au-fifo", ["audit", "pipe.npz"], r"weight file 'pipe\.npz' is not a regular file \(a FIFO"),
    ("au-vector-only", ["audit", "vector.npz"], r"holds no weight matrices .*1-D \(a bias or normalisation vector\)"),
    ("au-require-unknown", ["audit", "net.npz", "--require", "xyz"], r"--require takes"),
    ("au-require-empty-entry", ["audit", "net.npz", "--require", "iii,,ii"], r"--require has an empty entry"),
    ("au-layers-bad-regex", ["audit", "net.npz", "--layers", "("], r"--layers '\(' is not a valid regular expression"),
    (
        "au-layers-no-match",
        ["audit", "net.npz", "--layers", "zzz"],
        r"--layers 'zzz' matches no tensor; net\.npz holds: W1, W2, W3",
    ),
    ("au-activation-unknown", ["audit", "net.npz", "--activation", "frobnicate"], r"unknown activation 'frobnicate'"),
    ("au-alpha-bad", ["audit", "net.npz", "--alpha", "2"], r"alpha must lie in the open interval \(0, 1\), got 2\.0"),
    ("au-alpha-empty", ["audit", "net.npz", "--alpha", ""], r"alpha must be a number, got ''"),
    ("au-layout-unknown", ["audit", "net.npz", "--layout", "sideways"], r"invalid choice"),
    (
        "au-compare-missing",
        ["audit", "net.npz", "--compare", "missing.npz"],
        r"weight file 'missing\.npz' does not exist",
    ),
    ("au-json-dir", ["audit", "net.npz", "--json", "adir"], r"is a directory"),
    ("au-reports-dir-file", ["audit", "net.npz", "--reports-dir", "afile"], r"exists and is not a folder"),
    # --- bound -------------------------------------------------------------------------------
    (
        "bo-sample-huge-width",
        ["bound", "--sample", "2x100000000", "--alpha", "0.3"],
        r"--sample 2x100000000 needs an estimated .*PiB",
    ),
    ("bo-sample-huge-depth", ["bound", "--sample", "100000000x1", "--alpha", "0.3"], r"needs an estimated .*GiB"),
    ("bo-sample-astronomic", ["bound", "--sample", "99999999999999999999x2", "--alpha", "0.3"], r"needs an estimated"),
    ("bo-sample-huge-list", ["bound", "--sample", "100000000,100000000", "--alpha", "0.3"], r"needs an estimated"),
    ("bo-sample-empty-entry", ["bound", "--sample", "4,,3", "--alpha", "0.3"], r"--sample has an empty entry"),
    ("bo-sample-zero", ["bound", "--sample", "0x4", "--alpha", "0.3"], r"depth and width must be positive"),
    ("bo-sample-one-width", ["bound", "--sample", "4", "--alpha", "0.3"], r"at least two widths"),
    ("bo-sample-text", ["bound", "--sample", "axb", "--alpha", "0.3"], r"--sample"),
    (
        "bo-sample-fraction",
        ["bound", "--sample", "4.5,3", "--alpha", "0.3"],
        r"--sample must be a comma-separated list",
    ),
    (
        "bo-json-missing-folder",
        ["bound", "--sample", "2x4", "--alpha", "0.3", "--json", "nonexistent/dir/out.json"],
        r"does not exist",
    ),
    ("bo-json-dir", ["bound", "--sample", "2x4", "--alpha", "0.3", "--json", "adir"], r"is a directory"),
    ("bo-neither-network-nor-sample", ["bound", "--alpha", "0.3"], r"give a NETWORK\.npz or --sample"),
    ("bo-both-network-and-sample", ["bound", "net.npz", "--sample", "2x4", "--alpha", "0.3"], r"not both"),
    ("bo-no-alpha-no-mask", ["bound", "net.npz"], r"give --alpha A or --mask-file M"),
    (
        "bo-alpha-and-mask",
        ["bound", "net.npz", "--alpha", "0.3", "--mask-file", "badmask.npz"],
        r"not allowed with argument",
    ),
    (
        "bo-eps-nan",
        ["bound", "net.npz", "--alpha", "0.3", "--eps", "nan"],
        r"--eps must be a finite non-negative number",
    ),
    (
        "bo-eps-overflow",
        ["bound", "net.npz", "--alpha", "0.3", "--eps", "1e400"],
        r"--eps must be a finite non-negative number",
    ),
    (
        "bo-eps-negative",
        ["bound", "net.npz", "--alpha", "0.3", "--eps", "-1"],
        r"--eps must be a finite non-negative number",
    ),
    ("bo-eps-empty", ["bound", "net.npz", "--alpha", "0.3", "--eps", ""], r"invalid float value"),
    ("bo-eps-hex", ["bound", "net.npz", "--alpha", "0.3", "--eps", "0x10"], r"invalid float value"),
    ("bo-alpha-nan", ["bound", "net.npz", "--alpha", "nan"], r"alpha must be finite, got 'nan'"),
    ("bo-alpha-zero", ["bound", "net.npz", "--alpha", "0"], r"alpha must lie in the open interval \(0, 1\), got 0\.0"),
    ("bo-alpha-empty", ["bound", "net.npz", "--alpha", ""], r"alpha must be a number, got ''"),
    ("bo-alpha-fraction-text", ["bound", "net.npz", "--alpha", "1/3"], r"alpha must be a number, got '1/3'"),
    ("bo-missing-network", ["bound", "missing.npz", "--alpha", "0.3"], r"network file 'missing\.npz' does not exist"),
    ("bo-corrupt-network", ["bound", "corrupt.npz", "--alpha", "0.3"], r"'corrupt\.npz' is not a \.npz network"),
    ("bo-empty-network", ["bound", "empty.npz", "--alpha", "0.3"], r"'empty\.npz' is not a \.npz network"),
    (
        "bo-nonchaining",
        ["bound", "nonchain.npz", "--alpha", "0.3"],
        r"layer shapes do not chain: W1 is \(16, 8\) but W2 is \(4, 5\)",
    ),
    ("bo-nan-weights", ["bound", "nan.npz", "--alpha", "0.3"], r"W1 contains NaN or infinite entries"),
    ("bo-inf-weights", ["bound", "inf.npz", "--alpha", "0.3"], r"W1 contains NaN or infinite entries"),
    ("bo-wrong-extension", ["bound", "weights.txt", "--alpha", "0.3"], r"'weights\.txt' is not a \.npz network"),
    ("bo-huge-npz-header", ["bound", "huge.npz", "--alpha", "0.3"], r"the header declares shape \(1000000, 1000000\)"),
    ("bo-huge-mask-header", ["bound", "net.npz", "--mask-file", "huge.npz"], r"member 'W1\.npy': the header declares"),
    ("bo-repeated-member", ["bound", "repeated.npz", "--alpha", "0.3"], r"repeats the member 'W1\.npy'"),
    ("bo-torch-file", ["bound", "model.pt", "--alpha", "0.3"], r"member 'model/data\.pkl' is not a \.npy array"),
    ("bo-fifo", ["bound", "pipe.npz", "--alpha", "0.3"], r"network file 'pipe\.npz' is not a regular file"),
    ("bo-mask-fifo", ["bound", "net.npz", "--mask-file", "pipe.npz"], r"mask file 'pipe\.npz' is not a regular file"),
    ("bo-network-is-a-directory", ["bound", "adir", "--alpha", "0.3"], r"network file 'adir' is a directory"),
    ("bo-mask-shape", ["bound", "net.npz", "--mask-file", "badmask.npz"], r"2 masks given, the network has 3 layers"),
    ("bo-mask-missing", ["bound", "net.npz", "--mask-file", "missing.npz"], r"mask file 'missing\.npz' does not exist"),
    (
        "bo-activation-unknown",
        ["bound", "net.npz", "--alpha", "0.3", "--activation", "frobnicate"],
        r"unknown activation 'frobnicate'",
    ),
    ("bo-effort-unknown", ["bound", "net.npz", "--alpha", "0.3", "--effort", "heroic"], r"invalid choice"),
    # --- lipschitz ---------------------------------------------------------------------------
    ("li-nothing", ["lipschitz"], r"give an activation NAME or --expr"),
    ("li-unknown-activation", ["lipschitz", "frobnicate"], r"frobnicate"),
    ("li-param-without-equals", ["lipschitz", "leaky_relu", "--param", "a"], r"KEY=VALUE"),
    (
        "li-param-with-expr",
        ["lipschitz", "--expr", "tanh(x)", "--param", "a=1"],
        r"--param applies to registered activations",
    ),
    ("li-expr-syntax", ["lipschitz", "--expr", "x+"], r"expr|parse|syntax|x\+"),
    ("li-json-dir", ["lipschitz", "relu", "--json", "adir"], r"is a directory"),
    ("li-json-missing-folder", ["lipschitz", "relu", "--json", "nowhere/x.json"], r"does not exist"),
    ("li-seed-negative", ["lipschitz", "relu", "--seed", "-3"], r"--seed must be non-negative"),
]

_REPORTS = {"run", "check-pruner", "theorem", "audit"}


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    _fixtures(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MBP_VERIFY_REPORTS", raising=False)
    return tmp_path


@pytest.mark.parametrize("argv, pattern", [pytest.param(a, p, id=i) for i, a, p in CASES])
def test_hostile_input_exits_2_with_one_line_and_leaves_nothing(argv, pattern, sandbox, capsys):
    before = _tree(sandbox)
    if argv[0] in _REPORTS and "--reports-dir" not in argv:
        argv = [*argv, "--reports-dir", str(sandbox / "reports")]
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    assert re.match(r"mbp-verify( [a-z-]+)?: error: ", lines[0]), lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    assert _tree(sandbox) == before  # no report folder, staging folder or temp file left behind


def test_there_are_enough_cases_across_all_six_commands():
    commands = {argv[0] for _, argv, _ in CASES}
    assert len(CASES) >= 70 and {"run", "check-pruner", "theorem", "audit", "bound", "lipschitz"} <= commands
    assert len({i for i, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["bound", "--sample", "2x100000000", "--alpha", "0.3"], r"needs an estimated"),
        (["audit", "net.npz", "--draws", HUGE], r"needs an estimated"),
        (["run", "--json", "adir"], r"is a directory"),
    ],
)
def test_as_a_subprocess(argv, pattern, sandbox):
    before = _tree(sandbox)
    done = subprocess.run(
        [sys.executable, "-m", "mbp_verify", *argv], cwd=sandbox, capture_output=True, text=True, timeout=120
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert re.search(pattern, lines[0]) and done.stdout == ""
    assert _tree(sandbox) == before
