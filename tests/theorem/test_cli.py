"""`mbp-verify theorem`: exit codes, JSON fields, report folder, usage errors, module entry point."""

import json
import subprocess
import sys

import pytest

from mbp_verify.cli import main

SMALL = [
    "theorem",
    "--alpha",
    "0.3",
    "--widths",
    "32,64",
    "--trials",
    "16",
    "--looks",
    "1",
    "--delta",
    "0.25",
    "--confidence",
    "0.95",
    "--random-trials",
    "0",
]


def _run(tmp_path, *extra):
    out = tmp_path / "out.json"
    code = main([*SMALL, "--reports-dir", str(tmp_path / "reports"), "--json", str(out), *extra])
    return code, json.loads(out.read_text())


@pytest.fixture(scope="module")
def one_worker_run(tmp_path_factory):
    """One in-process run with a single worker, shared by the tests that read it."""
    tmp_path = tmp_path_factory.mktemp("theorem-cli")
    code, doc = _run(tmp_path, "--eps", "0.3", "--workers", "1")
    return tmp_path, code, doc


def test_guarantee_established_exits_0_with_the_documented_json(one_worker_run):
    tmp_path, code, doc = one_worker_run
    assert code == 0 and doc["status"] == "pass" and doc["exit_code"] == 0
    assert doc["schema"] == "mbp-verify/theorem" and doc["schema_version"] == 1
    for row in doc["widths"]:
        assert row["status"] == "pass" and row["n"] == 16 and row["k_violated"] == 0 and row["k_unknown"] == 0
        assert row["ci"][0] == 0.0 and row["ci"][1] < 0.25
    assert "magnitude_upper" in doc["scaling"]["alphas"][0]["slopes"]
    folders = [p for p in (tmp_path / "reports").iterdir() if p.is_dir()]
    assert len(folders) == 1 and (folders[0] / "report.md").is_file()
    assert (tmp_path / "reports" / "LATEST-theorem").read_text().strip() == folders[0].name


def test_out_of_regime_eps_is_refuted_and_exits_1(tmp_path, capsys):
    code, doc = _run(tmp_path, "--eps", "0.001", "--workers", "1", "--trials", "8")
    assert code == 1 and doc["status"] == "fail"
    out = capsys.readouterr()
    assert "guarantee: FAIL" in out.out and "theorem: 16 trials run in" in out.err and "theorem: look" not in out.err
    assert all(row["status"] == "fail" and row["k_violated"] == row["n"] for row in doc["widths"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--widths", "a,b"],
        ["--alpha", "1.5"],
        ["--alpha", "x"],
        ["--workers", "0"],
        ["--trials", "0"],
        ["--eps", "-1"],
        ["--delta", "1"],
        ["--seed", "-3"],
        ["--activation", "nope"],
        ["--widths", "2"],
        ["--trials", "10", "--looks", "40"],
        ["--random-trials", "-1"],
    ],
)
def test_bad_input_exits_2_with_one_line(argv, capsys):
    assert main(["theorem", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mbp-verify theorem: error:")


def test_module_entry_point_with_two_workers_matches_one_worker(one_worker_run, tmp_path):
    _, code, one = one_worker_run
    out = tmp_path / "two.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mbp_verify",
            *SMALL,
            "--eps",
            "0.3",
            "--workers",
            "2",
            "--reports-dir",
            str(tmp_path / "r2"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == code == 0, done.stderr
    two = json.loads(out.read_text())
    assert two["widths"] == one["widths"] and two["scaling"] == one["scaling"]
    bad = subprocess.run(
        [sys.executable, "-m", "mbp_verify", "theorem", "--weights", "laplace"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_executor_dask_without_dask_installed_exits_2(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("distributed") is not None:
        pytest.skip("dask.distributed is installed here")
    assert main([*SMALL, "--executor", "dask", "--reports-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "install mbp-verify[dask]" in err[0] and not (tmp_path / "r").exists()
    assert main([*SMALL, "--scheduler", "tcp://127.0.0.1:1", "--reports-dir", str(tmp_path / "r")]) == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err


@pytest.mark.parametrize("address", ["127.0.0.1:8786", "", 8786])
def test_a_scheduler_address_without_a_protocol_is_an_input_error(address):
    from mbp_verify.errors import InputError
    from mbp_verify.theorem.executors import DaskPool, make_executor

    with pytest.raises(InputError, match="tcp://HOST:PORT"):
        DaskPool(address)
    with pytest.raises(InputError, match="unknown executor"):
        make_executor("ray", 1)


# theorem.json of a dense run before --arch existed: every key stays (fields are only added)
FCN_KEYS = {
    "": {"config", "design", "error_rates", "errors", "exit_code", "scaling", "schema", "schema_version", "status"}
    | {"timing", "widths"},
    "config": {"activation", "alphas", "confidence", "delta", "depth", "effort", "eps", "looks", "pruning"}
    | {"random_trials", "scale", "seed", "shape", "trials", "weights", "widths"},
    "widths": {"alpha", "ci", "ci_confidence", "confidence", "delta", "error_geomean", "error_max", "k_not_certified"}
    | {"k_unknown", "k_violated", "label", "method", "n", "pvalues", "status", "width", "widths"},
    "alphas": {"C2", "C3", "alpha", "slopes", "theorem_rate", "tolerance", "widths"},
}


def test_the_dense_json_keeps_its_schema_and_names_theorem_1(one_worker_run):
    _, _, doc = one_worker_run
    assert FCN_KEYS[""] <= set(doc) and FCN_KEYS["config"] <= set(doc["config"])
    assert all(FCN_KEYS["widths"] <= set(row) for row in doc["widths"])
    assert FCN_KEYS["alphas"] <= set(doc["scaling"]["alphas"][0]) and doc["scaling"]["pruning"] == "magnitude"
    assert doc["config"]["arch"] == "fcn" and not {"kernel", "image", "in_channels", "padding"} & set(doc["config"])
    assert doc["widths"][0]["label"] == "alpha=0.3 d=32" and doc["config"]["pruning"] == "magnitude"
    assert [(f["theorem"], f["required"], f["status"]) for f in doc["families"]] == [("Theorem 1", True, "pass")]
