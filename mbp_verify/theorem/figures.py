"""The theorem report's figures: P(eps-close) vs width, error scaling, MBP vs random pruning.

Every pruning rule of the sweep is drawn side by side (on a CNN the width axis is the channel count)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..reports.figures import new_figure, save_figure
from .scaling import ScalingAudit
from .sweep import BracketEnd, SweepResult

__all__ = ["FIGURE_FILES", "write_figures"]

FIGURE_FILES = {"closeness": "closeness.png", "scaling": "scaling.png", "comparison": "mbp_vs_random.png"}


def _axes_list(axes: object) -> list:
    return list(np.atleast_1d(axes))


def _width_label(result: SweepResult) -> str:
    return "channels (width)" if result.config.arch == "cnn" else "width d"


def _closeness(result: SweepResult, path: Path) -> Path:
    figure, axes = new_figure()
    delta = result.config.delta
    several = len(result.config.rules) > 1
    series = [(rule, alpha) for rule in result.config.rules for alpha in result.config.alphas]
    for shift, (rule, alpha) in enumerate(series):
        rows = [
            (c.spec.width, v)
            for c, v in zip(result.cells, result.verdict.cells)
            if c.spec.alpha == alpha and c.spec.pruning == rule
        ]
        widths = np.array([w for w, _ in rows], dtype=float) * 1.04**shift  # side by side, not on top
        point = np.array([1.0 - v.k_not_certified / v.n for _, v in rows])
        low = np.array([1.0 - v.ci[1] for _, v in rows])
        high = np.array([1.0 - v.ci[0] for _, v in rows])
        axes.errorbar(
            widths,
            point,
            yerr=[point - low, high - point],
            marker="o",
            capsize=4,
            label=f"{f'{rule} ' if several else ''}alpha={alpha:g} (certified fraction, CP interval)",
        )
    axes.axhline(1.0 - delta, color="k", linestyle="--", label=f"1 - delta = {1 - delta:g}")
    axes.set_xscale("log", base=2)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel(_width_label(result))
    axes.set_ylabel("P(eps-close)")
    names = ", ".join(s.theorem or (s.pruning if s.required else f"{s.pruning} (advisory)") for s in result.settings)
    axes.set_title(f"{names} at eps={result.config.eps:g}: P(sup||f-F|| < eps) by width")
    axes.legend(fontsize=8)
    return save_figure(figure, path)


def _ends(result: SweepResult, rule: str, alpha: float, key: BracketEnd) -> tuple[np.ndarray, np.ndarray]:
    """Widths and each cell's geometric mean of one bracket end (nan where there is none)."""
    cells = [c for c in result.cells if c.spec.alpha == alpha and c.spec.pruning == rule]
    centres = [c.geomean(key) for c in cells]
    return (
        np.array([c.spec.width for c in cells], dtype=float),
        np.array([np.nan if g is None else g for g in centres], dtype=float),
    )


def _scaling(result: SweepResult, audit: ScalingAudit, path: Path, comparison: bool) -> Path:
    alphas = result.config.alphas
    figure, axes = new_figure(ncols=len(alphas))
    rules = result.config.rules
    series: list[tuple[str, BracketEnd, str]] = [
        (rule, end, f"{rule}_{end}")
        for rule in rules
        for end in ("lower", "upper")  # type: ignore[misc]
    ]
    if comparison:
        series += [(rules[0], "random_lower", "random_lower"), (rules[0], "random_upper", "random_upper")]
    for ax, alpha, alpha_audit in zip(_axes_list(axes), alphas, audit.alphas):
        for rule, attr, key in series:
            widths, centre = _ends(result, rule, alpha, attr)
            if np.all(np.isnan(centre)):
                continue
            line = ax.plot(widths, centre, marker="o", linestyle="none", label=f"{key} (geometric mean)")[0]
            fit = alpha_audit.fits.get(key)
            if fit is not None:
                ax.plot(
                    widths,
                    [fit.predict(w) for w in widths],
                    color=line.get_color(),
                    label=f"fit slope {fit.slope:.3f} [{fit.ci[0]:.3f}, {fit.ci[1]:.3f}]",
                )
                expected = alpha_audit.expected.get(key)
                if expected is not None:
                    anchor = float(np.exp(np.mean(np.log(widths))))
                    ax.plot(
                        widths,
                        fit.predict(anchor) * (widths / anchor) ** expected,
                        color=line.get_color(),
                        linestyle=":",
                        label=f"theory slope {expected:.2f}",
                    )
        ax.axhline(result.config.eps, color="k", linestyle="--", linewidth=0.8, label=f"eps = {result.config.eps:g}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(_width_label(result))
        ax.set_ylabel("sup ||f - F|| bracket ends")
        versus = comparison or {"magnitude", "random"} <= set(rules)
        ax.set_title(f"alpha = {alpha:g}: {'MBP vs random pruning' if versus else 'sup error vs width'}")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return save_figure(figure, path)


def write_figures(result: SweepResult, audit: ScalingAudit, folder: "str | Path") -> dict[str, Path]:
    """Write the figures into `folder`; `mbp_vs_random.png` only when random pruning was bracketed
    beside the rule (random_trials); several rules are drawn side by side in `scaling.png`."""
    base = Path(folder)
    written = {
        "closeness": _closeness(result, base / FIGURE_FILES["closeness"]),
        "scaling": _scaling(result, audit, base / FIGURE_FILES["scaling"], comparison=False),
    }
    if any(o.random_upper is not None for c in result.cells for o in c.outcomes):
        written["comparison"] = _scaling(result, audit, base / FIGURE_FILES["comparison"], comparison=True)
    return written
