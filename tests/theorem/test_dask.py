"""The Dask executor: bit-identical results on local, a LocalCluster and a scheduler address;
workers that die. Only loopback addresses; skipped where dask.distributed is not installed."""

import json
import os
import subprocess
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

from mbp_verify.cli import main  # noqa: E402
from mbp_verify.theorem import run_sweep  # noqa: E402
from mbp_verify.theorem.executors import DaskPool  # noqa: E402
from mbp_verify.theorem.parallel import TaskFailure  # noqa: E402

from .killers import KillWorker, square_or_raise  # noqa: E402
from .test_sweep import _config  # noqa: E402

pytestmark = pytest.mark.dask

SMALL = [
    "theorem",
    "--alpha",
    "0.3",
    "--widths",
    "16,24",
    "--trials",
    "12",
    "--looks",
    "2",
    "--delta",
    "0.3",
    "--confidence",
    "0.9",
    "--random-trials",
    "4",
    "--eps",
    "0.3",
    "--workers",
    "2",
]


def _theorem(tmp_path, name, *extra):
    code = main([*SMALL, "--reports-dir", str(tmp_path / name), *extra])
    (folder,) = [p for p in (tmp_path / name).iterdir() if p.is_dir()]
    doc = json.loads((folder / "theorem.json").read_text())
    doc.pop("timing")
    trials = json.loads((folder / "trials.json").read_text())
    return code, doc, trials


@pytest.fixture
def scheduler_address(tmp_path):
    """A `dask scheduler` and a `dask worker` (2 processes) as subprocesses on 127.0.0.1."""
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--dashboard-address",
            "127.0.0.1:0",
            "--scheduler-file",
            str(file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--host",
                "127.0.0.1",
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--dashboard-address",
                "127.0.0.1:0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def test_local_localcluster_and_scheduler_address_give_identical_reports(tmp_path, scheduler_address, capsys):
    local = _theorem(tmp_path, "local")
    cluster = _theorem(tmp_path, "cluster", "--executor", "dask")
    assert "Dask dashboard http://127.0.0.1:" in capsys.readouterr().err
    remote = _theorem(tmp_path, "remote", "--executor", "dask", "--scheduler", scheduler_address)
    assert local == cluster == remote
    assert local[1]["errors"] == [] and sum(row["n"] for row in local[1]["widths"]) >= 12


def test_the_scheduler_environment_variable_is_used(tmp_path, scheduler_address, monkeypatch, capsys):
    def transitions(dask_scheduler):
        return dask_scheduler.transition_counter

    with distributed.Client(scheduler_address) as client:
        before = client.run_on_scheduler(transitions)
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", scheduler_address)
        assert _theorem(tmp_path, "env", "--executor", "dask", "--trials", "6", "--looks", "1")[0] in (0, 1)
        assert client.run_on_scheduler(transitions) > before  # the trials ran on that scheduler
    assert "Dask dashboard" in capsys.readouterr().err


def test_a_worker_killed_mid_sweep_changes_nothing(tmp_path):
    config = _config(widths=(16, 24), trials=6, looks=2, eps=0.3)
    reference = run_sweep(config, workers=0)
    with DaskPool(workers=2) as pool:
        result = run_sweep(config, pool=pool, trial_fn=KillWorker(tmp_path / "killed", 2))
    assert (tmp_path / "killed").exists()  # a worker did die
    assert [c.to_dict() for c in result.cells] == [c.to_dict() for c in reference.cells] and result.errors == []


def test_a_trial_that_kills_every_worker_becomes_an_error_trial(tmp_path):
    """One task in flight: with several, a task running beside the killer on the same worker dies
    with it and the scheduler charges it too (allowed-failures 0 here), which made this flaky."""
    config = _config(widths=(16, 24), trials=6, looks=2, eps=0.3)
    reference = run_sweep(config, workers=0)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        DaskPool(workers=2, retries=1, in_flight=1) as pool,
    ):
        result = run_sweep(config, pool=pool, trial_fn=KillWorker(tmp_path / "killed", 1, always=True))
    (error,) = result.errors
    assert error["width"] == 16 and error["index"] == 1 and "KilledWorker" in error["error"]
    got, want = result.cells[0].to_dict()["trials"], reference.cells[0].to_dict()["trials"]
    assert got[1]["outcome"] == "unknown" and got[1]["lower"] is None
    assert got[:1] + got[2:] == want[:1] + want[2 : len(got)] and len(result.cells[0].outcomes) in (3, 6)
    assert [c.to_dict() for c in result.cells[1:]] == [c.to_dict() for c in reference.cells[1:]]


def test_a_task_that_raises_is_a_failure_marked_raised():
    """A task's own exception (a bug) is told apart from a dead worker: `raised` is set."""
    with DaskPool(workers=1, retries=1) as pool:
        results = pool.map(square_or_raise, [(v, 2) for v in range(4)])
    values = [value for value, _ in results]
    assert values[:2] + values[3:] == [0, 1, 9]
    assert isinstance(values[2], TaskFailure) and values[2].raised and "task 2 raised" in values[2].reason
