"""Checkpoint and resume: trials.jsonl, torn last lines, refused configurations, a SIGKILLed run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import mbp_verify
from mbp_verify.cli import main
from mbp_verify.errors import InputError
from mbp_verify.theorem import run_sweep
from mbp_verify.theorem.checkpoint import CHECKPOINT_NAME, Checkpoint, config_hash, differing_keys, read_checkpoint
from mbp_verify.theorem.parallel import TrialError

from .test_sweep import _config, synthetic_trial


class Counting:
    """synthetic_trial that records which (width, index) it ran."""

    def __init__(self):
        self.ran = []

    def __call__(self, spec, seed, index):
        self.ran.append((spec.width, index))
        return synthetic_trial(spec, seed, index)


def _cells(result):
    return [c.to_dict() for c in result.cells]


def _checkpointed(folder, config, resume=False, trial_fn=synthetic_trial):
    with Checkpoint(folder, config.to_dict(), resume=resume) as checkpoint:
        return run_sweep(config, trial_fn=trial_fn, checkpoint=checkpoint)


def test_every_trial_is_one_line_and_a_full_checkpoint_runs_nothing_again(tmp_path):
    config = _config()
    result = _checkpointed(tmp_path / "run", config)
    lines = (tmp_path / "run" / CHECKPOINT_NAME).read_text().splitlines()
    header = json.loads(lines[0])
    assert header["config"] == config.to_dict() and header["config_hash"] == config_hash(config.to_dict())
    assert len(lines) - 1 == sum(len(c.outcomes) for c in result.cells) == 30 + 30 + 90
    assert {json.loads(line)["config_hash"] for line in lines[1:]} == {header["config_hash"]}
    counting = Counting()
    again = _checkpointed(tmp_path / "run", config, resume=True, trial_fn=counting)
    assert counting.ran == [] and _cells(again) == _cells(result)
    assert again.verdict.to_dict() == result.verdict.to_dict()
    assert [c.seconds for c in again.cells] == [c.seconds for c in result.cells]  # restored, not re-timed


def test_resume_after_losing_trials_runs_only_the_missing_ones(tmp_path):
    config = _config()
    reference = run_sweep(config, trial_fn=synthetic_trial)
    _checkpointed(tmp_path / "run", config)
    path = tmp_path / "run" / CHECKPOINT_NAME
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + lines[1:41] + lines[61:100]  # lose trials of look 1 (20 of them) and everything after line 100
    path.write_text("".join(kept))
    lost = {(json.loads(line)["width"], json.loads(line)["trial"]["index"]) for line in lines[41:61] + lines[100:]}
    counting = Counting()
    resumed = _checkpointed(tmp_path / "run", config, resume=True, trial_fn=counting)
    assert set(counting.ran) == lost and len(counting.ran) == len(lost)
    assert _cells(resumed) == _cells(reference) and resumed.verdict.to_dict() == reference.verdict.to_dict()
    assert len(path.read_text().splitlines()) == len(lines)


def test_a_torn_last_line_is_ignored_and_cut_before_appending(tmp_path):
    config = _config(widths=(16,), trials=30, looks=1)
    reference = _checkpointed(tmp_path / "run", config)
    path = tmp_path / "run" / CHECKPOINT_NAME
    data = path.read_bytes()
    path.write_bytes(data[:-25])  # the last record half-written, no newline
    _, done = read_checkpoint(tmp_path / "run")
    assert len(done) == 29 and (0.3, 16, 29) not in done
    counting = Counting()
    resumed = _checkpointed(tmp_path / "run", config, resume=True, trial_fn=counting)
    assert counting.ran == [(16, 29)] and _cells(resumed) == _cells(reference)
    new = path.read_bytes()  # the torn bytes are gone, the record written whole (only its timing differs)
    assert new.startswith(data[: data.rindex(b"\n", 0, -1) + 1]) and new.endswith(b"\n")
    strip = [
        {k: v for k, v in json.loads(line).items() if k != "seconds"}
        for line in (data.splitlines()[-1], new.splitlines()[-1])
    ]
    assert strip[0] == strip[1] and new.count(b"\n") == data.count(b"\n")


def test_a_corrupt_line_before_the_end_is_an_input_error(tmp_path):
    config = _config(widths=(16,), trials=30, looks=1)
    _checkpointed(tmp_path / "run", config)
    path = tmp_path / "run" / CHECKPOINT_NAME
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:5] + ["{not json\n"] + lines[6:]))
    with pytest.raises(InputError, match="line 6"):
        read_checkpoint(tmp_path / "run")
    with pytest.raises(InputError, match="no trials.jsonl"):
        read_checkpoint(tmp_path)


def test_a_different_configuration_is_refused_naming_the_keys(tmp_path):
    config = _config()
    _checkpointed(tmp_path / "run", config)
    other = _config(eps=0.4, trials=60)
    assert differing_keys(config.to_dict(), other.to_dict()) == ["eps", "trials"]
    with pytest.raises(InputError, match="differs in eps, trials"):
        Checkpoint(tmp_path / "run", other.to_dict(), resume=True)


def test_error_trials_survive_the_checkpoint(tmp_path):
    config = _config(widths=(16,), trials=30, looks=1)

    def failing(spec, seed, index):
        return TrialError(index, "worker died") if index == 3 else synthetic_trial(spec, seed, index)

    first = _checkpointed(tmp_path / "run", config, trial_fn=failing)
    again = _checkpointed(tmp_path / "run", config, resume=True, trial_fn=Counting())
    assert (
        first.errors
        == again.errors
        == [{"pruning": "magnitude", "alpha": 0.3, "width": 16, "index": 3, "error": "worker died"}]
    )
    assert first.cells[0].outcomes[3].outcome == "unknown" and first.cells[0].ends("lower").size == 29


SMALL = [
    "theorem",
    "--alpha",
    "0.3",
    "--widths",
    "32,48",
    "--trials",
    "24",
    "--looks",
    "2",
    "--delta",
    "0.25",
    "--confidence",
    "0.95",
    "--random-trials",
    "0",
    "--eps",
    "0.3",
    "--workers",
    "1",
]


def test_cli_resume_refuses_a_different_option_with_exit_2(tmp_path, capsys):
    config = _config(alphas=(0.3,), widths=(32,), trials=4, looks=1)
    with Checkpoint(tmp_path / "run", config.to_dict()):
        pass
    assert main(["theorem", "--resume", str(tmp_path / "run"), "--eps", "0.4", "--trials", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differ from its configuration in eps (stored" in err[0]
    assert main(["theorem", "--resume", str(tmp_path / "nothing")]) == 2


def test_resume_by_another_version_is_refused(tmp_path, capsys):
    """Trials of an older bracket must not be mixed with new ones: the version is part of the checkpoint."""
    config = _config(alphas=(0.3,), widths=(32,), trials=4, looks=1)
    with Checkpoint(tmp_path / "run", config.to_dict()):
        pass
    path = tmp_path / "run" / CHECKPOINT_NAME
    first = json.loads(path.read_text().splitlines()[0])
    assert first["version"] == mbp_verify.__version__
    first["version"] = "0.3.0"
    path.write_text(json.dumps(first) + "\n")
    assert main(["theorem", "--resume", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("mbp-verify theorem: error:")
    assert "run by mbp-verify 0.3.0" in err and mbp_verify.__version__ in err
    del first["version"]  # a run folder written before versions were recorded
    path.write_text(json.dumps(first) + "\n")
    assert main(["theorem", "--resume", str(tmp_path / "run")]) == 2
    assert "before 0.4" in capsys.readouterr().err


def _without_timing(folder):
    doc = json.loads((folder / "theorem.json").read_text())
    doc.pop("timing")
    return doc


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_killed_halfway_then_resume_equals_an_uninterrupted_run(tmp_path, sig):
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    whole = subprocess.run(
        [sys.executable, "-m", "mbp_verify", *SMALL, "--reports-dir", str(tmp_path / "a")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert whole.returncode in (0, 1), whole.stderr
    (reference,) = [p for p in (tmp_path / "a").iterdir() if p.is_dir()]
    total = len((reference / CHECKPOINT_NAME).read_text().splitlines()) - 1

    run = subprocess.Popen(
        [sys.executable, "-m", "mbp_verify", *SMALL, "--reports-dir", str(tmp_path / "b")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    folder = None
    while time.monotonic() < deadline:
        found = [p for p in (tmp_path / "b").glob("theorem-*") if (p / CHECKPOINT_NAME).is_file()]
        if found and len((found[0] / CHECKPOINT_NAME).read_bytes().splitlines()) - 1 >= total // 2:
            folder = found[0]
            break
        time.sleep(0.01)
    run.send_signal(sig)
    _, err = run.communicate()
    if sig == signal.SIGINT:
        assert run.returncode == 130 and f"mbp-verify theorem --resume {folder}" in err
    assert folder is not None and not (folder / "theorem.json").exists()
    _, before = read_checkpoint(folder)
    assert total // 2 <= len(before) < total

    resumed = subprocess.run(
        [sys.executable, "-m", "mbp_verify", "theorem", "--resume", str(folder)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert resumed.returncode == whole.returncode, resumed.stderr
    assert f"{len(before)} trials restored" in resumed.stderr
    assert _without_timing(folder) == _without_timing(reference)
    _, after = read_checkpoint(folder)
    assert len(after) == total and all(after[key][0] == before[key][0] for key in before)
