"""The theorem report: JSON payload, terminal tables, report.md and the run folder.

The folder `theorem-<time>-seed<S>/` holds `theorem.json` (the payload of `--json`),
`trials.json` (every trial's outcome and bracket), `report.md`, the figures and the run's
checkpoint `trials.jsonl`. The report files are staged under a hidden name with a copy of the
checkpoint and renamed into place only when every file is written.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..reports.atomic import atomic_write_json, atomic_write_text, json_text
from ..reports.folders import staged_folder
from .checkpoint import CHECKPOINT_NAME
from .cost import CostModel
from .figures import write_figures
from .scaling import ScalingAudit
from .sweep import SweepResult

__all__ = ["overall_status", "build_payload", "format_tables", "render_markdown", "write_theorem_folder"]


def overall_status(result: SweepResult) -> str:
    """Over the required cells (advisory families left out): pass (holds at every one), fail
    (refuted somewhere) or inconclusive; skip when every family is advisory."""
    if not result.required_statuses():
        return "skip"
    return "pass" if result.holds else "fail" if result.refuted else "inconclusive"


def _families(result: SweepResult) -> list[dict[str, Any]]:
    """Per pruning rule: what it tests, whether it decides the run, and its cells' status."""
    rows = []
    for setting in result.settings:
        statuses = [v.status for c, v in zip(result.cells, result.verdict.cells) if c.spec.pruning == setting.pruning]
        status = "pass" if all(s == "pass" for s in statuses) else "fail" if "fail" in statuses else "inconclusive"
        rows.append({**setting.to_dict(), "status": status})
    return rows


def _cell_rows(result: SweepResult) -> list[dict[str, Any]]:
    rows = []
    for cell, verdict in zip(result.cells, result.verdict.cells):
        o = cell.outcomes
        rows.append(
            {
                "pruning": cell.spec.pruning,
                "arch": cell.spec.arch,
                "setting": cell.spec.setting.kind,
                "required": cell.spec.setting.required,
                "alpha": cell.spec.alpha,
                "width": cell.spec.width,
                "widths": list(cell.spec.widths),
                **verdict.to_dict(),
                "error_geomean": {key: cell.geomean(key) for key in ("lower", "upper", "random_lower", "random_upper")},
                "error_max": {
                    end: max((v for t in o if (v := getattr(t, end)) is not None), default=None)
                    for end in ("lower", "upper")
                },
            }
        )
    return rows


def _per_width(result: SweepResult, cost: "CostModel | None") -> list[dict[str, Any]]:
    rows = []
    for width in result.config.widths:
        cells = [c for c in result.cells if c.spec.width == width]
        spent, trials = sum(sum(c.seconds) for c in cells), sum(len(c.outcomes) for c in cells)
        row = {
            "width": width,
            "trials": trials,
            "worker_seconds": spent,
            "seconds_per_trial": spent / trials if trials else None,
        }
        if cost is not None:
            row.update(
                estimated_seconds_per_trial=cost.seconds_per_trial(width),
                estimated_peak_bytes=cost.peak_bytes_at(width),
            )
        rows.append(row)
    return rows


def build_payload(
    result: SweepResult, audit: ScalingAudit, exit_code: int, cost: "CostModel | None" = None
) -> dict[str, Any]:
    """The `--json` document body (the CLI adds the schema header); `cost` adds the calibration's
    per-width estimates next to the measured times."""
    design = result.verdict.design
    return {
        "status": overall_status(result),
        "exit_code": exit_code,
        "families": _families(result),
        "config": result.config.to_dict(),
        "design": design.to_dict(),
        "error_rates": {
            "false_pass_familywise": 1.0 - design.confidence,
            "false_fail_familywise": 1.0 - design.confidence,
            "ci": "each end one-sided Clopper-Pearson at confidence 1 - (1 - confidence)/(cells x looks)",
        },
        "widths": _cell_rows(result),
        "scaling": audit.to_dict(),
        "errors": result.errors,
        "timing": {
            "wall_seconds": result.wall_seconds,
            "trials_per_second": [
                {
                    "pruning": c.spec.pruning,
                    "alpha": c.spec.alpha,
                    "width": c.spec.width,
                    "trials": len(c.outcomes),
                    "per_worker": c.trials_per_second,
                }
                for c in result.cells
            ],
            "per_width": _per_width(result, cost),
            "calibration": None
            if cost is None
            else {
                "width": cost.width,
                "seconds_per_trial": cost.seconds,
                "exponent": cost.exponent,
                "peak_bytes": cost.peak_bytes,
            },
        },
    }


def _fmt(value: "float | None") -> str:
    return "-" if value is None else f"{value:.3g}"


def _yes(flag: "bool | None") -> str:
    return "-" if flag is None else "yes" if flag else "no"


def _network_text(config: dict[str, Any]) -> str:
    if config.get("arch") == "cnn":
        c0 = "width" if config["in_channels"] is None else config["in_channels"]
        return (
            f"{config['depth']} conv layers {config['kernel']}x{config['kernel']} on "
            f"{config['image']}x{config['image']} images ({config['padding']} padding, {c0} input channels), "
            f"{config['activation']}"
        )
    return f"{config['depth']} layers, {config['activation']}"


def format_tables(payload: dict[str, Any]) -> str:
    """Per alpha, one table per pruning rule (status, n, counts, interval, bracket ends), then the slopes."""
    config, lines = payload["config"], []
    width_name = "chan" if config.get("arch") == "cnn" else "width"
    families = payload["families"]
    for alpha in config["alphas"]:
        for family in families:
            lines += [
                f"alpha = {alpha:g}: eps = {config['eps']:g}, delta = {config['delta']:g}, "
                f"pruning = {family['pruning']}, {_network_text(config)}, {config['weights']} weights",
                f"  {family['description']}",
                f"{width_name:>6} {'status':>12} {'n':>4} {'viol':>5} {'unkn':>5} {'P(not eps-close) CI':>22} "
                f"{'lower':>9} {'upper':>9} {'rand lo':>9} {'rand up':>9}",
            ]
            for row in payload["widths"]:
                if row["alpha"] != alpha or row.get("pruning", family["pruning"]) != family["pruning"]:
                    continue
                g = row["error_geomean"]
                ci = f"[{row['ci'][0]:.3g}, {row['ci'][1]:.3g}]"
                lines.append(
                    f"{row['width']:>6} {row['status']:>12} {row['n']:>4} {row['k_violated']:>5} "
                    f"{row['k_unknown']:>5} {ci:>22} {_fmt(g['lower']):>9} {_fmt(g['upper']):>9} "
                    f"{_fmt(g['random_lower']):>9} {_fmt(g['random_upper']):>9}"
                )
        scaling = next(a for a in payload["scaling"]["alphas"] if a["alpha"] == alpha)
        for key, fit in scaling["slopes"].items():
            expected = (
                ""
                if fit["expected"] is None
                else f"; theory {fit['expected']:.2f}, within +-{scaling['tolerance']:g}: "
                f"{_yes(fit['within_tolerance'])}"
            )
            lines.append(
                f"  slope {key}: {fit['slope']:.3f} [{fit['ci'][0]:.3f}, {fit['ci'][1]:.3f}]{expected}; "
                f"at least the theorem's d^-{alpha:g}: {_yes(fit['at_least_theorem_rate'])}"
            )
        constants = scaling.get("constants") or {families[0]["pruning"]: scaling}
        for rule, c in constants.items():
            named = f" ({rule})" if len(constants) > 1 else ""
            c2, c3 = (f"[{_c(c[k], 0)}, {_c(c[k], 1)}]" for k in ("C2", "C3"))
            lines.append(f"  C2{named} in {c2}, C3{named} in {c3}")
        lines.append("")
    advisory = [f for f in families if not f["required"]]
    for family in advisory:
        lines.append(f"{family['description']}: {family['status'].upper()} (never fails the run)")
    lines.append(
        f"guarantee: {payload['status'].upper()} (family of {payload['design']['family_size']} cells, "
        f"confidence {payload['design']['confidence']:g}, Holm"
        f"{', advisory cells left out' if advisory else ''})"
    )
    return "\n".join(lines)


def _c(value: Any, end: int) -> str:
    """One end of a constant's range: a [necessary, sufficient] pair or the audit's dict."""
    return f"{(value[end] if isinstance(value, list) else value['necessary' if end == 0 else 'sufficient']):.3g}"


def render_markdown(payload: dict[str, Any], figures: dict[str, Path]) -> str:
    config, design = payload["config"], payload["design"]
    lines = [
        "# mbp-verify theorem report",
        "",
        f"- status: **{payload['status']}** (exit code {payload['exit_code']})",
        f"- seed {config['seed']}; alphas {config['alphas']}; widths {config['widths']}; depth {config['depth']}; "
        f"{config['shape']} layers; activation {config['activation']}; {config['weights']} weights; pruning "
        f"{config['pruning']}",
        f"- network: {config.get('arch', 'fcn')}, {_network_text(config)}",
        f"- eps = {config['eps']:g}, delta = {config['delta']:g}; bracket effort {config['effort']}",
        *(
            f"- {f['description']}: **{f['status']}** "
            f"({'decides the status' if f['required'] else 'advisory, never fails the run'})"
            for f in payload["families"]
        ),
        f"- design: looks at {design['looks']} trials; per-cell level {design['per_cell_level']:.3g} "
        f"(exact sequential error rates: guarantee {design['guarantee']['exact_error_rate']:.3g}, "
        f"refutation {design['refutation']['exact_error_rate']:.3g}); Holm across {design['family_size']} cells at "
        f"{1 - design['confidence']:g}",
        f"- wall time {payload['timing']['wall_seconds']:.1f} s",
        "",
        "Statuses: `pass` = the one-sided Clopper-Pearson upper bound on P(not certified) is below delta after Holm; "
        "`fail` = the lower bound on P(violated, replayed witness) is above delta after Holm; else `inconclusive`.",
        "",
        "```",
        format_tables(payload),
        "```",
        "",
    ]
    lines += [f"![{name}]({path.name})" for name, path in figures.items()]
    return "\n".join(lines) + "\n"


def write_theorem_folder(
    folder: "str | Path", result: SweepResult, audit: ScalingAudit, payload: dict[str, Any]
) -> Path:
    """Write theorem.json, trials.json, report.md and figures into `folder`, atomically as a set."""
    checkpoint = Path(folder) / CHECKPOINT_NAME
    with staged_folder(folder) as staging:
        if checkpoint.is_file():  # the run's checkpoint stays with its report
            shutil.copy2(checkpoint, staging / CHECKPOINT_NAME)
        figures = write_figures(result, audit, staging)
        atomic_write_json(staging / "theorem.json", payload)
        trials = [cell.to_dict() for cell in result.cells]
        atomic_write_text(staging / "trials.json", json_text(trials, indent=1) + "\n")
        atomic_write_text(staging / "report.md", render_markdown(payload, figures))
    return Path(folder)
