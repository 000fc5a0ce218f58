"""The JSON convention in every command: non-finite floats are the strings "inf", "-inf", "nan".

Each test drives one command's real writer with values that include +-inf and NaN (a real one
where the command produces it, else the command's real result with non-finite values added),
then reads the file back with a parser that rejects bare NaN / Infinity.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from mbp_verify.cli import main
from mbp_verify.suite.report import build_report, write_run_report
from mbp_verify.suite.results import ItemResult, aggregate
from mbp_verify.suite.runner import SuiteRun

NONFINITE = {"inf": math.inf, "minus": -math.inf, "nan": math.nan}
EXPECTED = {"inf": "inf", "minus": "-inf", "nan": "nan"}


def _strict(path: Path):
    def reject(token: str):
        raise AssertionError(f"{path.name} holds the bare JSON token {token}")

    return json.loads(Path(path).read_text(), parse_constant=reject)


def _strings(document) -> set[str]:
    if isinstance(document, dict):
        return set().union(*map(_strings, document.values())) if document else set()
    if isinstance(document, list):
        return set().union(*map(_strings, document)) if document else set()
    return {document} if isinstance(document, str) else set()


def _fake_suite(command: str):
    """A stand-in for the pytest subprocess: writes the report folder the way the runner does."""

    def run(paths, *, report_dir, seed, profile, workers, command=command, target="t", **_):
        items = [ItemResult("x.nonfinite", "s", "src", "required", "t::x", "pass", evidence=dict(NONFINITE))]
        report = build_report(
            {"command": command, "duration_s": 0.1, "seed": seed, "workers": workers}, aggregate(items)
        )
        write_run_report(report_dir, report)
        return SuiteRun(Path(report_dir), _strict(Path(report_dir) / "report.json"), 0)

    return run


@pytest.mark.parametrize(
    "command, argv",
    [
        ("run", ["run", "--workers", "1"]),
        ("check-pruner", ["check-pruner", "mbp_verify.engine:magnitude_mask", "--workers", "1"]),
    ],
)
def test_suite_commands(command, argv, tmp_path, monkeypatch, capsys):
    module = "cli.run" if command == "run" else "suite.pruner_check"
    monkeypatch.setattr(f"mbp_verify.{module}.run_property_suite", _fake_suite(command))
    assert main([*argv, "--reports-dir", str(tmp_path / "r"), "--json", str(tmp_path / "out.json")]) == 0
    document = _strict(tmp_path / "out.json")
    report = document if command == "run" else document["report"]
    assert report["properties"][0]["evidence"] == EXPECTED
    (folder,) = [p for p in (tmp_path / "r").iterdir() if p.is_dir()]
    assert _strict(folder / "report.json")["properties"][0]["evidence"] == EXPECTED


def test_theorem(tmp_path, monkeypatch, capsys):
    import mbp_verify.cli.theorem as cli

    real_sweep, real_payload = cli.run_sweep, cli.build_payload
    monkeypatch.setattr(cli, "run_sweep", lambda config, **options: real_sweep(config, workers=0))
    monkeypatch.setattr(cli, "build_payload", lambda *a: {**real_payload(*a), "probe": dict(NONFINITE)})
    argv = [
        "theorem",
        "--widths",
        "4",
        "--depth",
        "2",
        "--trials",
        "1",
        "--looks",
        "1",
        "--alpha",
        "0.5",
        "--random-trials",
        "0",
        "--workers",
        "1",
        "--reports-dir",
        str(tmp_path / "r"),
        "--json",
        str(tmp_path / "t.json"),
    ]
    assert main(argv) in (0, 1)
    assert _strict(tmp_path / "t.json")["probe"] == EXPECTED
    (folder,) = [p for p in (tmp_path / "r").iterdir() if p.is_dir()]
    assert _strict(folder / "theorem.json")["probe"] == EXPECTED
    _strict(folder / "trials.json")


def test_bound(tmp_path, monkeypatch, capsys):
    import mbp_verify.cli.bound as cli

    real = cli.bracket_sup_error

    def with_nonfinite(*args, **kwargs):
        result = real(*args, **kwargs)
        return dataclasses.replace(
            result,
            upper_bounds={**result.upper_bounds, "probe_inf": math.inf, "probe_nan": math.nan},
            timings={**result.timings, "probe": -math.inf},
        )

    monkeypatch.setattr(cli, "bracket_sup_error", with_nonfinite)
    assert (
        main(["bound", "--sample", "2x4", "--alpha", "0.3", "--effort", "fast", "--json", str(tmp_path / "b.json")])
        == 0
    )
    document = _strict(tmp_path / "b.json")
    assert document["upper_bounds"]["probe_inf"] == "inf" and document["upper_bounds"]["probe_nan"] == "nan"
    assert document["timings"]["probe"] == "-inf" and document["schema"] == "mbp-verify/bound"


def test_lipschitz_softplus_argsup_is_inf(tmp_path, capsys):
    # softplus' sup|sigma'| = 1 is a limit at +infinity: the real result holds a non-finite float
    assert main(["lipschitz", "softplus", "--json", str(tmp_path / "l.json")]) == 0
    document = _strict(tmp_path / "l.json")
    assert document["argsup"] == "inf" and document["schema"] == "mbp-verify/lipschitz"


def test_audit_tiny_and_subnormal_weights_are_audited_and_written(tmp_path, monkeypatch, capsys):
    # At scale 2^-1000, w^2 and w^4 underflow to 0; at 2^-1030 the entries are subnormal. (iii) runs
    # at unit scale, so the p-values equal those of the same weights at scale 1 (exactly at 2^-1000,
    # where the scaling is exact; up to the bits subnormals drop at 2^-1030). The consequences'
    # real/surrogate ratio there is a non-finite float, written as a string.
    rng = np.random.default_rng(0)
    layers = {"W1": rng.uniform(-1, 1, (16, 8)), "W2": rng.uniform(-1, 1, (16, 16)), "W3": rng.uniform(-1, 1, (4, 16))}
    np.savez(tmp_path / "unit.npz", **layers)
    np.savez(tmp_path / "tiny.npz", **{k: v * 2.0**-1000 for k, v in layers.items()})
    np.savez(tmp_path / "subnormal.npz", **{k: v * 2.0**-1030 for k, v in layers.items()})
    monkeypatch.chdir(tmp_path)
    common = ["--draws", "159", "--no-report", "--effort", "fast"]
    for name in ("unit", "tiny"):
        assert main(["audit", f"{name}.npz", *common, "--no-consequences", "--json", f"{name}.json"]) == 0
    assert main(["audit", "subnormal.npz", *common, "--json", "subnormal.json"]) == 0
    unit, tiny, sub = (_strict(tmp_path / f"{name}.json") for name in ("unit", "tiny", "subnormal"))
    iii = lambda doc, key: [layer["assumptions"]["iii"][key] for layer in doc["layers"]]  # noqa: E731
    assert iii(tiny, "pvalues") == iii(unit, "pvalues")
    k_unit = [layer["scale"]["implied_K"] for layer in unit["layers"]]
    assert [layer["scale"]["implied_K"] for layer in tiny["layers"]] == [k * 2.0**-1000 for k in k_unit]
    assert iii(sub, "status") == ["consistent"] * 3
    for got, want in zip(iii(sub, "pvalues"), iii(unit, "pvalues")):
        assert got == pytest.approx(want, rel=1e-9)
    assert _strings(sub["consequences"]) & {"inf", "nan"}
