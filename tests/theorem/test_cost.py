"""The cost estimate: calibration arithmetic on a stand-in executor, and the CLI's line and fields."""

import json

import pytest

from mbp_verify.cli import main
from mbp_verify.theorem.cost import CostModel, calibrate, estimate_seconds, traced_peak_bytes

from .test_cli import SMALL
from .test_sweep import _config


class FakePool:
    """Reports `time(width)` seconds for every trial and 1000 * width bytes of peak memory."""

    def __init__(self, time):
        self.time, self.tasks = time, []

    def map(self, fn, tasks, on_result=None):
        self.tasks += tasks
        if fn is traced_peak_bytes:
            return [(1000 * spec.width, 0.0) for spec, _, _ in tasks]
        return [(None, self.time(spec.width)) for spec, _, _ in tasks]


def test_calibration_measures_the_exponent_and_scales_time_and_memory():
    model = calibrate(_config(widths=(16, 24, 64)), FakePool(lambda d: 1e-4 * d**2.5))
    assert model.width == 16 and model.exponent == pytest.approx(2.5)  # from d = 16 and 64 (the first >= 2 x 16)
    assert model.seconds_per_trial(128) == pytest.approx(1e-4 * 128**2.5)
    assert model.peak_bytes == 16_000 and model.peak_bytes_at(64) == 16 * 16_000


@pytest.mark.parametrize("time, exponent", [(lambda d: 0.01, 1.5), (lambda d: 1e-6 * d**4, 3.0)])
def test_the_exponent_is_held_between_1_5_and_3(time, exponent):
    assert calibrate(_config(widths=(16, 32)), FakePool(time)).exponent == exponent
    assert calibrate(_config(widths=(16, 24)), FakePool(time)).exponent == 3.0  # one width only: the dense cost


def test_the_estimate_is_trials_times_time_per_trial_over_workers():
    model = CostModel(width=16, seconds=0.5, exponent=2.0, peak_bytes=1)
    config = _config(alphas=(0.2, 0.3), widths=(16, 32), trials=10, random_trials=4)
    assert estimate_seconds(config, model, 4) == pytest.approx(2 * (0.5 + 2.0) * (10 + 4) / 4)
    assert estimate_seconds(
        config.__class__(**{**config.to_dict(), "alphas": (0.2, 0.3), "widths": (16, 32), "pruning": "random"}),
        model,
        1,
    ) == pytest.approx(2 * 2.5 * 10)
    both = config.__class__(**{**config.to_dict(), "alphas": (0.3,), "widths": (16, 32), "pruning": "random,magnitude"})
    assert estimate_seconds(both, model, 2) == pytest.approx(2 * 2.5 * 10 / 2)  # one family per rule, no pairs


def test_the_cli_prints_the_estimate_and_reports_time_and_memory_per_width(tmp_path, capsys):
    assert (
        main(
            [
                *SMALL,
                "--eps",
                "0.3",
                "--workers",
                "1",
                "--reports-dir",
                str(tmp_path),
                "--json",
                str(tmp_path / "t.json"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "theorem: cost estimate: up to" in err and "calibrated at d = 32" in err
    timing = json.loads((tmp_path / "t.json").read_text())["timing"]
    rows = timing["per_width"]
    assert [r["width"] for r in rows] == [32, 64] and [r["trials"] for r in rows] == [16, 16]
    assert all(
        r["worker_seconds"] > 0 and r["estimated_peak_bytes"] >= timing["calibration"]["peak_bytes"] > 0 for r in rows
    )
