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
    """pass (holds at every cell), fail (refuted somewhere) or inconclusive."""
    return "pass" if result.verdict.holds else "fail" if result.verdict.refuted else "inconclusive"


def _cell_rows(result: SweepResult) -> list[dict[str, Any]]:
    rows = []
    for cell, verdict in zip(result.cells, result.verdict.cells):
        o = cell.outcomes
        rows.append(
            {
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


def format_tables(payload: dict[str, Any]) -> str:
    """One table per alpha: status, n, counts, interval, bracket ends and random pruning's."""
    config, lines = payload["config"], []
    for alpha in config["alphas"]:
        lines += [
            f"alpha = {alpha:g}: eps = {config['eps']:g}, delta = {config['delta']:g}, "
            f"pruning = {config['pruning']}, {config['depth']} layers, {config['activation']}, "
            f"{config['weights']} weights",
            f"{'width':>6} {'status':>12} {'n':>4} {'viol':>5} {'unkn':>5} {'P(not eps-close) CI':>22} "
            f"{'lower':>9} {'upper':>9} {'rand lo':>9} {'rand up':>9}",
        ]
        for row in payload["widths"]:
            if row["alpha"] != alpha:
                continue
            g = row["error_geomean"]
            ci = f"[{row['ci'][0]:.3g}, {row['ci'][1]:.3g}]"
            lines.append(
                f"{row['width']:>6} {row['status']:>12} {row['n']:>4} {row['k_violated']:>5} {row['k_unknown']:>5} "
                f"{ci:>22} {_fmt(g['lower']):>9} {_fmt(g['upper']):>9} "
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
        lines.append(
            f"  C2 in [{scaling['C2']['necessary']:.3g}, {scaling['C2']['sufficient']:.3g}], "
            f"C3 in [{scaling['C3']['necessary']:.3g}, {scaling['C3']['sufficient']:.3g}]"
        )
        lines.append("")
    lines.append(
        f"guarantee: {payload['status'].upper()} (family of {payload['design']['family_size']} cells, "
        f"confidence {payload['design']['confidence']:g}, Holm)"
    )
    return "\n".join(lines)


def render_markdown(payload: dict[str, Any], figures: dict[str, Path]) -> str:
    config, design = payload["config"], payload["design"]
    lines = [
        "# mbp-verify theorem report",
        "",
        f"- status: **{payload['status']}** (exit code {payload['exit_code']})",
        f"- seed {config['seed']}; alphas {config['alphas']}; widths {config['widths']}; depth {config['depth']}; "
        f"{config['shape']} layers; activation {config['activation']}; {config['weights']} weights; pruning "
        f"{config['pruning']}",
        f"- eps = {config['eps']:g}, delta = {config['delta']:g}; bracket effort {config['effort']}",
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
