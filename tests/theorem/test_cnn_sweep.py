"""CNN sweeps and several pruning rules: families, advisory verdicts, scaling audit, config hash, CLI."""

import json

import numpy as np
import pytest

from mbp_verify.cli import main
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.theorem import SweepConfig, TrialOutcome, run_sweep, scaling_audit
from mbp_verify.theorem.checkpoint import Checkpoint
from mbp_verify.theorem.report import build_payload, format_tables, overall_status, write_theorem_folder

EXPONENT = {"random": 1.0, "magnitude": 3.0, "largest": 0.0}


def ruled_trial(spec, seed, index):
    """A stand-in engine: error ~ width^(-k alpha) per rule; `largest` always violated (module-level: picklable)."""
    rng = rng_for(seed, spec.network_id, index)
    lower = 0.5 * spec.width ** (-EXPONENT[spec.pruning] * spec.alpha) * np.exp(0.1 * rng.standard_normal())
    outcome = "violated" if spec.pruning == "largest" else "certified"
    return TrialOutcome(index, outcome, float(lower), float(3 * lower))


def _cnn_config(**changes):
    settings = dict(
        alphas=(0.3,), widths=(8, 16, 32), eps=2.0, delta=0.2, trials=30, looks=1, confidence=0.95, seed=3, arch="cnn"
    )
    settings.update(changes)
    return SweepConfig(**settings)


def test_several_rules_make_one_family_each_on_the_same_networks():
    config = _cnn_config(pruning=("random", "magnitude"))
    assert config.pruning == "random,magnitude" and config.rules == ("random", "magnitude")
    cells = config.cells()
    assert [(c.pruning, c.width) for c in cells] == [(r, w) for r in ("random", "magnitude") for w in (8, 16, 32)]
    assert cells[0].network_id == cells[3].network_id  # paired: the same sampled networks
    assert config.labels()[0] == "random alpha=0.3 d=8" and config.design().family_size == 6
    assert all(c.random_trials == 0 for c in cells)  # random pruning is a family already
    single = _cnn_config(pruning="random")
    assert single.labels()[0] == "alpha=0.3 d=8" and single.design().family_size == 3
    for bad in ("random,random", ("magnitude", "magnitude"), "random,nope", 3):
        with pytest.raises(InputError):
            _cnn_config(pruning=bad)


def test_mbp_on_cnns_is_advisory_and_never_fails_the_run():
    result = run_sweep(_cnn_config(pruning="random,largest,magnitude"), trial_fn=ruled_trial)
    assert [s.kind for s in result.settings] == ["proved", "negative control", "beyond"]
    assert result.refuted and not result.holds  # the negative control is required: it fails the run
    advisory = run_sweep(_cnn_config(pruning="random,magnitude"), trial_fn=ruled_trial)
    assert advisory.holds and overall_status(advisory) == "pass"

    def mbp_violated(spec, seed, index):
        outcome = ruled_trial(spec, seed, index)
        return TrialOutcome(index, "violated", outcome.lower, outcome.upper) if spec.pruning == "magnitude" else outcome

    result = run_sweep(_cnn_config(pruning="random,magnitude"), trial_fn=mbp_violated)
    assert [v.status for v in result.verdict.cells] == ["pass"] * 3 + ["fail"] * 3
    assert result.holds and not result.refuted
    payload = build_payload(result, scaling_audit(result, n_boot=200), 0)
    assert payload["status"] == "pass"
    assert [(f["theorem"], f["setting"], f["required"], f["status"]) for f in payload["families"]] == [
        ("Theorem 3", "proved", True, "pass"),
        (None, "beyond", False, "fail"),
    ]
    assert [(r["pruning"], r["required"]) for r in payload["widths"]][2:4] == [("random", True), ("magnitude", False)]
    table = format_tables(payload)
    assert "Theorem 3: random pruning of convolutional networks" in table
    assert "magnitude-based pruning of convolutional networks: FAIL (never fails the run)" in table
    only_mbp = run_sweep(_cnn_config(pruning="magnitude"), trial_fn=mbp_violated)
    assert only_mbp.holds and overall_status(only_mbp) == "skip"


def test_the_theorem_families_of_a_dense_sweep():
    config = SweepConfig(
        alphas=(0.3,), widths=(16, 32), eps=2.0, delta=0.2, trials=30, looks=1, pruning="magnitude,random"
    )
    result = run_sweep(config, trial_fn=ruled_trial)
    assert [(s.theorem, s.required) for s in result.settings] == [("Theorem 1", True), ("Theorem 2", True)]


def test_scaling_audit_fits_random_and_magnitude_side_by_side_against_channels():
    result = run_sweep(_cnn_config(pruning="random,magnitude", widths=(8, 16, 32, 64)), trial_fn=ruled_trial)
    audit = scaling_audit(result, n_boot=300).alphas[0]
    assert set(audit.fits) == {"random_lower", "random_upper", "magnitude_lower", "magnitude_upper"}
    assert audit.fits["random_lower"].slope == pytest.approx(-0.3, abs=0.05)
    assert audit.fits["magnitude_upper"].slope == pytest.approx(-0.9, abs=0.05)
    assert audit.expected == pytest.approx(
        {"random_lower": -0.3, "random_upper": -0.3, "magnitude_lower": -0.9, "magnitude_upper": -0.9}
    )
    assert audit.within_tolerance("random_upper") and audit.within_tolerance("magnitude_lower")
    assert set(audit.constants) == {"random", "magnitude"} and audit.c2 == audit.constants["random"]["C2"]
    assert audit.constants["magnitude"]["C2"][1] < audit.constants["random"]["C2"][1]
    record = audit.to_dict()
    assert record["constants"]["magnitude"]["C3"] == list(audit.constants["magnitude"]["C3"])
    fixed = run_sweep(_cnn_config(pruning="random,magnitude", in_channels=3), trial_fn=ruled_trial)
    fixed_audit = scaling_audit(fixed, n_boot=200).alphas[0]
    assert fixed_audit.expected == {} and set(fixed_audit.fits) == set(audit.fits)  # D_1 ~ width only: no prediction


def test_report_folder_of_a_cnn_sweep(tmp_path):
    result = run_sweep(_cnn_config(pruning="random,magnitude"), trial_fn=ruled_trial)
    audit = scaling_audit(result, n_boot=200)
    folder = write_theorem_folder(tmp_path / "run", result, audit, build_payload(result, audit, 0))
    assert {"theorem.json", "trials.json", "report.md", "closeness.png", "scaling.png"} <= {
        p.name for p in folder.iterdir()
    }
    report = (folder / "report.md").read_text()
    assert "network: cnn, 3 conv layers 3x3 on 8x8 images" in report and "advisory, never fails the run" in report


def test_the_checkpoint_hash_covers_the_architecture_and_conv_settings(tmp_path):
    config = _cnn_config(pruning="random,magnitude", kernel=1)
    with Checkpoint(tmp_path / "run", config.to_dict()) as checkpoint:
        first = run_sweep(config, trial_fn=ruled_trial, checkpoint=checkpoint)
    ran = []

    def counting(spec, seed, index):
        ran.append(spec)
        return ruled_trial(spec, seed, index)

    with Checkpoint(tmp_path / "run", config.to_dict(), resume=True) as checkpoint:
        again = run_sweep(config, trial_fn=counting, checkpoint=checkpoint)
    assert ran == [] and [c.to_dict() for c in again.cells] == [c.to_dict() for c in first.cells]
    for changed, named in (
        (_cnn_config(pruning="random,magnitude", kernel=3), "kernel"),
        (_cnn_config(pruning="random,magnitude", kernel=1, padding="circular"), "padding"),
        (_cnn_config(pruning="random", kernel=1), "pruning"),
        (
            SweepConfig(
                **{
                    **_cnn_config().to_dict(),
                    "arch": "fcn",
                    "widths": (8, 16, 32),
                    "alphas": (0.3,),
                    "kernel": 3,
                    "image": 8,
                    "in_channels": None,
                    "padding": "zeros",
                    "pruning": "random,magnitude",
                }
            ),
            "arch, image, in_channels, kernel, padding",
        ),
    ):
        with pytest.raises(InputError, match=f"differs in {named}"):
            Checkpoint(tmp_path / "run", changed.to_dict(), resume=True)


@pytest.mark.parametrize(
    "argv",
    [
        ["--arch", "rnn"],
        ["--arch", "cnn", "--kernel", "0"],
        ["--arch", "cnn", "--kernel", "x"],
        ["--arch", "cnn", "--kernel", "9"],  # larger than the 8x8 image
        ["--arch", "cnn", "--image", "0"],
        ["--arch", "cnn", "--image", "2.5"],
        ["--arch", "cnn", "--in-channels", "100"],
        ["--arch", "cnn", "--padding", "valid"],
        ["--arch", "cnn", "--weights", "cauchy"],
        ["--kernel", "3"],  # a conv setting without --arch cnn
        ["--arch", "fcn", "--image", "8"],
        ["--pruning", "random,random"],
        ["--pruning", "mbp"],
        ["--pruning", "random,"],
    ],
)
def test_bad_cnn_options_exit_2_with_one_line(argv, capsys):
    assert main(["theorem", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mbp-verify theorem: error:")


def test_cli_resume_refuses_a_changed_architecture(tmp_path, capsys):
    config = SweepConfig(alphas=(0.3,), widths=(8,), eps=1.0, delta=0.2, trials=4, looks=1)
    with Checkpoint(tmp_path / "run", config.to_dict()):
        pass
    assert main(["theorem", "--resume", str(tmp_path / "run"), "--arch", "cnn"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differ from its configuration in arch (stored: arch='fcn')" in err[0]


CNN_SMALL = [
    "theorem",
    "--arch",
    "cnn",
    "--widths",
    "2,4",
    "--in-channels",
    "1",
    "--image",
    "3",
    "--trials",
    "6",
    "--looks",
    "1",
    "--eps",
    "5",
    "--delta",
    "0.5",
    "--confidence",
    "0.9",
]


def test_a_small_cnn_sweep_end_to_end(tmp_path):
    out = tmp_path / "one.json"
    code = main([*CNN_SMALL, "--workers", "1", "--reports-dir", str(tmp_path / "r1"), "--json", str(out)])
    doc = json.loads(out.read_text())
    assert code == 0 and doc["status"] == "pass" and doc["config"]["arch"] == "cnn"
    assert [(f["pruning"], f["theorem"], f["required"], f["status"]) for f in doc["families"]] == [
        ("random", "Theorem 3", True, "pass"),
        ("magnitude", None, False, "pass"),
    ]
    assert [(r["pruning"], r["width"], r["widths"], r["status"], r["n"]) for r in doc["widths"]] == [
        (rule, w, [1, w, w, 1], "pass", 6) for rule in ("random", "magnitude") for w in (2, 4)
    ]
    slopes = doc["scaling"]["alphas"][0]["slopes"]
    assert {"random_upper", "magnitude_upper"} <= set(slopes) and slopes["random_upper"]["expected"] is None
    folder = next((tmp_path / "r1").glob("theorem-*"))
    assert {"closeness.png", "scaling.png", "report.md", "trials.jsonl"} <= {p.name for p in folder.iterdir()}


def test_real_cnn_trials_are_identical_for_one_and_two_workers():
    config = _cnn_config(widths=(2, 3), in_channels=1, image=3, trials=1, pruning="random,magnitude", eps=5.0)
    one, two = run_sweep(config, workers=1), run_sweep(config, workers=2)
    assert [c.to_dict() for c in one.cells] == [c.to_dict() for c in two.cells]
    assert one.verdict.to_dict() == two.verdict.to_dict()
    assert all(o.upper > 0 for c in one.cells for o in c.outcomes)


def test_real_cnn_negative_controls_are_refuted_and_an_advisory_refutation_is_not_a_failure():
    tiny = dict(widths=(2, 3), in_channels=1, image=3, trials=6, delta=0.25, confidence=0.9)
    control = run_sweep(_cnn_config(pruning="largest,random", eps=0.001, **tiny))
    assert [v.status for v in control.verdict.cells] == ["fail"] * 4  # every witness replays above eps
    assert control.refuted and not control.holds and overall_status(control) == "fail"
    advisory = run_sweep(_cnn_config(pruning="magnitude", eps=0.001, **tiny))
    assert [v.status for v in advisory.verdict.cells] == ["fail", "fail"]
    assert advisory.holds and not advisory.refuted and overall_status(advisory) == "skip"
