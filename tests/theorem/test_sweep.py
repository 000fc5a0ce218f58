"""Sweep orchestration: sequential looks, early stopping, worker-count independence, scaling audit."""

import json
import os
from dataclasses import fields

import numpy as np
import pytest

from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.theorem import SweepConfig, TrialOutcome, TrialPool, TrialSpec, run_sweep, scaling_audit
from mbp_verify.theorem.report import build_payload, format_tables, write_theorem_folder


def synthetic_trial(spec, seed, index):
    """A stand-in engine whose behaviour is set by the width (module-level: picklable)."""
    rng = rng_for(seed, spec.network_id, index)
    d = spec.width
    lower = 0.5 * d ** (-3 * spec.alpha) * np.exp(0.1 * rng.standard_normal())
    upper = 4.0 * lower
    outcome = {
        16: "certified",
        32: "violated" if rng.random() < 0.9 else "certified",
        64: "unknown" if rng.random() < 0.5 else "certified",
    }.get(d, "certified")
    if index >= spec.random_trials:
        return TrialOutcome(index, outcome, float(lower), float(upper))
    return TrialOutcome(
        index, outcome, float(lower), float(upper), float(3 * lower * d**0.2), float(12 * lower * d**0.2)
    )


def _config(**changes):
    settings = dict(alphas=(0.3,), widths=(16, 32, 64), eps=0.5, delta=0.2, trials=90, looks=3, confidence=0.99, seed=7)
    settings.update(changes)
    return SweepConfig(**settings)


def test_cells_carry_every_trial_setting_of_the_config():
    config = _config(depth=4, activation="tanh", scale=2.0, effort="default", random_trials=5, shape="rectangular")
    sweep_fields = {f.name for f in fields(SweepConfig)}
    assert {f.name for f in fields(TrialSpec)} - {"width", "alpha"} <= sweep_fields
    for cell in config.cells():
        assert all(
            getattr(cell, name) == getattr(config, name) for name in sweep_fields & {f.name for f in fields(TrialSpec)}
        )
    assert [c.random_trials for c in _config(pruning="random").cells()] == [0, 0, 0]  # random is the comparison itself
    conv = {"kernel", "image", "in_channels", "padding"}  # recorded for arch 'cnn' only
    assert list(config.to_dict()) == [f.name for f in fields(SweepConfig) if f.name not in conv]
    assert config.to_dict()["widths"] == [16, 32, 64] and config.to_dict()["arch"] == "fcn"
    cnn = _config(arch="cnn", widths=(4, 8), in_channels=2, kernel=1, image=3)
    assert list(cnn.to_dict()) == [f.name for f in fields(SweepConfig)]
    assert [(c.kernel, c.image, c.in_channels, c.widths) for c in cnn.cells()] == [
        (1, 3, 2, (2, 4, 4, 2)),
        (1, 3, 2, (2, 8, 8, 2)),
    ]


def test_each_cell_stops_at_its_own_look_and_gets_its_verdict():
    result = run_sweep(_config(), trial_fn=synthetic_trial)
    lengths = [len(c.outcomes) for c in result.cells]
    assert lengths == [30, 30, 90]  # certified and refuted stop at the first look; the unsure cell runs on
    assert [v.status for v in result.verdict.cells] == ["pass", "fail", "inconclusive"]
    assert [o.index for o in result.cells[2].outcomes] == list(range(90))
    again = run_sweep(_config(), trial_fn=synthetic_trial)
    assert [c.to_dict() for c in again.cells] == [c.to_dict() for c in result.cells]


def test_progress_reports_every_trial_of_every_look():
    seen = []
    run_sweep(
        _config(), trial_fn=synthetic_trial, on_progress=lambda look, done, total: seen.append((look, done, total))
    )
    # look 1: three cells x 30 trials; looks 2 and 3: only the undecided cell
    assert seen[0] == (0, 1, 90) and seen[-1] == (2, 30, 30) and len(seen) == 90 + 30 + 30


def test_scaling_audit_recovers_the_synthetic_power_laws_and_constants():
    result = run_sweep(_config(widths=(16, 32, 64, 128), trials=20, looks=1, random_trials=8), trial_fn=synthetic_trial)
    audit = scaling_audit(result, n_boot=500).alphas[0]
    assert audit.fits["random_lower"].n_per_x == (8, 8, 8, 8) and audit.fits["magnitude_lower"].n_per_x == (20,) * 4
    assert audit.fits["magnitude_lower"].slope == pytest.approx(-0.9, abs=0.05)
    assert audit.fits["random_lower"].slope == pytest.approx(-0.7, abs=0.05)
    assert audit.within_tolerance("magnitude_upper") and audit.within_tolerance("random_upper") is False
    assert audit.at_least_theorem_rate("magnitude_upper")
    assert audit.expected == pytest.approx(
        {"magnitude_lower": -0.9, "magnitude_upper": -0.9, "random_lower": -0.3, "random_upper": -0.3}
    )
    uppers = [max(o.upper for o in c.outcomes) * c.spec.width**0.3 for c in result.cells]
    assert audit.c2[1] <= max(uppers) and audit.c2[0] < audit.c2[1]
    assert audit.c3[0] > 0  # the refuted width forces a positive failure constant


def test_report_folder_and_payload(tmp_path):
    result = run_sweep(_config(), trial_fn=synthetic_trial)
    audit = scaling_audit(result, n_boot=200)
    payload = build_payload(result, audit, 1)
    assert payload["status"] == "fail"
    row = payload["widths"][0]
    assert {"status", "n", "k_violated", "k_unknown", "ci"} <= set(row)
    assert "slopes" in payload["scaling"]["alphas"][0]
    table = format_tables(payload)
    assert "inconclusive" in table and "slope magnitude_upper" in table
    folder = write_theorem_folder(tmp_path / "theorem-x", result, audit, payload)
    names = {p.name for p in folder.iterdir()}
    assert {"theorem.json", "trials.json", "report.md", "closeness.png", "scaling.png", "mbp_vs_random.png"} <= names
    assert json.loads((folder / "theorem.json").read_text())["status"] == "fail"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_real_trials_are_identical_for_one_and_two_workers(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    config = _config(widths=(16, 24), trials=4, looks=2, eps=0.3)
    one = run_sweep(config, workers=1)
    two = run_sweep(config, workers=2)
    assert [c.to_dict() for c in one.cells] == [c.to_dict() for c in two.cells]
    assert one.verdict.to_dict() == two.verdict.to_dict()
    assert "OMP_NUM_THREADS" not in os.environ  # pinned for the workers only


@pytest.mark.parametrize(
    "change",
    [
        dict(widths=()),
        dict(widths=(16, 16)),
        dict(trials=0),
        dict(looks=5, trials=4),
        dict(seed=-1),
        dict(eps=-1.0),
        dict(delta=0.0),
        dict(confidence=1.0),
        dict(widths=(2,)),
        dict(trials="x"),
        dict(looks=1.5),
        dict(seed="x"),
        dict(seed=1.5),
        dict(widths=("a",)),
    ],
)
def test_bad_configs(change):
    with pytest.raises(InputError):
        _config(**change)


@pytest.mark.parametrize("workers", [-1, "x", 1.5])
def test_pool_rejects_negative_workers(workers):
    with pytest.raises(InputError):
        TrialPool(workers)


def test_run_sweep_and_scaling_audit_reject_bad_arguments():
    with pytest.raises(InputError, match="SweepConfig"):
        run_sweep(None)
    with pytest.raises(InputError, match="SweepResult"):
        scaling_audit(_config())
    result = run_sweep(_config(widths=(16,), trials=30, looks=1), trial_fn=synthetic_trial)
    for options in (dict(tolerance=-0.1), dict(tolerance="x"), dict(n_boot=10), dict(confidence=1.5)):
        with pytest.raises(InputError):
            scaling_audit(result, **options)
