"""The audit's outputs: the terminal table, report.md, and the run folder with figures.

The folder `audit-<time>-seed<S>/` holds `report.json` (the `--json` document), `report.md` and
`figures/` (one PNG per layer, plus `movement.png` with an initial file). It is staged under a
hidden name and renamed into place only when every file is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..reports.atomic import atomic_write_text
from ..reports.folders import mark_latest, new_run_folder, staged_run_folder
from .conv_operator import operator_lines
from .figures import layer_figure_name, plot_layer, plot_movement
from .layer_audit import FAMILY
from .weights_audit import AuditReport

__all__ = ["format_text", "render_markdown", "render_audit_folder", "write_audit_folder"]

_SHORT = {
    "uniform_magnitudes": "unif",
    "kurtosis": "kurt",
    "sign_balance": "sign",
    "sign_magnitude": "sgnmag",
    "rows": "rows",
    "columns": "cols",
    "top_singular": "top",
    "bulk_spectrum": "bulk",
}


def _p(value: "float | None") -> str:
    return "-" if value is None else "0" if value == 0 else f"{value:.2g}"


def _layer_rows(report: AuditReport) -> list[list[str]]:
    rows = []
    for index, (layer, audit) in enumerate(zip(report.selection.layers, report.layers)):
        status = report.layer_status(index)
        adjusted = audit.adjusted_pvalues
        low, high = audit.scale.implied_K_ci
        rows.append(
            [
                layer.name,
                "x".join(map(str, layer.shape)),
                layer.stored_dtype,
                status["i"],
                status["ii"],
                status["iii"],
                f"{audit.scale.implied_K:.3g} [{low:.3g}, {high:.3g}]",
                f"{audit.spectrum.top / audit.iid_top_prediction:.3g}",
            ]
            + [_p(adjusted.get(name)) for name in FAMILY]
        )
    return rows


_HEADER = ["layer", "shape", "dtype", "(i)", "(ii)", "(iii)", "implied K [CI]", "s1/iid"] + [_SHORT[n] for n in FAMILY]


def format_text(report: AuditReport) -> str:
    """The per-layer table (Holm-adjusted p-values per test) and the chain-level findings."""
    rows = [_HEADER] + _layer_rows(report)
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines += [
        "",
        f"(iii): Holm across each layer's {len(FAMILY)} tests at level {report.level:g} "
        f"({report.layers[0].draws} Monte Carlo draws); columns unif..bulk are Holm-adjusted p-values",
    ]
    lines += [f"(ii): {report.width.status}: {report.width.detail}", _common_line(report)]
    for verdict, layer in zip(report.activation_verdicts, report.selection.layers):
        if verdict.rejected:
            lines.append(f"(i): {layer.name}: {verdict.detail}")
    if report.consequences is not None:
        lines.append("consequences: " + report.consequences.summary())
    elif report.skipped_consequences:
        lines.append(f"consequences: skipped ({report.skipped_consequences})")
    lines += operator_lines(report.conv_operators)
    if report.movement is not None:
        lines.append("movement from the initial weights (relative Frobenius / spectral change; (iii) at init):")
        init_status = _initial_status(report)
        for m in report.movement:
            lines.append(
                f"  {m.name}: {m.relative_frobenius:.3g} / {m.relative_spectral:.3g}; "
                f"||W||_2 / ||W0||_2 = {m.spectral_ratio:.3g}; (iii) at init: {init_status.get(m.name, '-')}"
            )
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)


def _initial_status(report: AuditReport) -> dict[str, str]:
    """(iii) status of each layer of the initial weights, by name (empty without `compare`)."""
    return {a.name: a.status for a in report.initial.layers} if report.initial else {}


def _common_line(report: AuditReport) -> str:
    if report.common_K is None:
        return "common K: not applicable (one layer)"
    ks = ", ".join(f"{k:.3g}" for k in report.common_K.effect["implied_K"])
    return (
        f"common K: {report.common_K_status} (Hogg's exact test, p = {_p(report.common_K.pvalue)}; "
        f"implied K per layer {ks})"
    )


def render_markdown(report: AuditReport, figures: "dict[str, str] | None" = None) -> str:
    """report.md: the verdicts, every test's numbers, the consequences, the movement and the figures."""
    figures = figures or {}
    rows = [_HEADER] + _layer_rows(report)
    table = ["| " + " | ".join(r) + " |" for r in rows]
    table.insert(1, "|" + "---|" * len(_HEADER))
    out = [
        f"# Assumption audit of `{report.source}`",
        "",
        f"Format {report.format}, seed {report.seed}, level {report.level:g} per layer family (Holm), "
        f"{report.layers[0].draws} Monte Carlo draws per Monte Carlo test.",
        "",
        "## Verdicts",
        "",
        *table,
        "",
        f"- (ii): **{report.width.status}**: {report.width.detail}",
        f"- {_common_line(report)}",
    ]
    out += [
        f"- (i) {layer.name}: {verdict.status}: {verdict.detail}"
        for verdict, layer in zip(report.activation_verdicts, report.selection.layers)
    ]
    out += ["", "## Tests per layer", ""]
    for layer, audit in zip(report.selection.layers, report.layers):
        out += [
            f"### {layer.name} {layer.shape}: (iii) {audit.status}",
            "",
            "| test | component | statistic | p | Holm p | rejected | effect |",
            "|---|---|---|---|---|---|---|",
        ]
        for t, adjusted, rejected in zip(audit.tests, audit.holm.adjusted, audit.holm.rejected):
            effect = ", ".join(f"{k}={_fmt(v)}" for k, v in t.effect.items())
            out.append(
                f"| {t.name} | {t.component} | {t.statistic:.4g} | {_p(t.pvalue)} | {_p(adjusted)} | "
                f"{'yes' if rejected else 'no'} | {effect} |"
            )
        out += [f"- not run: {reason}" for reason in audit.not_run]
        if layer.name in figures:
            out += ["", f"![{layer.name}]({figures[layer.name]})"]
        out.append("")
    operators = operator_lines(report.conv_operators)
    if operators:
        out += ["## Conv layers as operators", "", operators[0], ""] + [f"- {line.strip()}" for line in operators[1:]]
        out.append("")
    out += _consequences_section(report) + _movement_section(report, figures)
    out += ["## Method and error rates", "", _METHOD, ""]
    out += ["## Notes", ""] + [f"- {note}" for note in report.notes] + [""]
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _consequences_section(report: AuditReport) -> list[str]:
    if report.consequences is None:
        return ["## Consequences", "", f"Skipped: {report.skipped_consequences}.", ""]
    return [
        "## Consequences",
        "",
        report.consequences.summary(),
        "",
        "real / surrogate = (real / shuffled) x (shuffled / surrogate): the cost of dependence and structure times "
        "the cost of the non-uniform marginal. Estimates are ratios of replayed lower bounds; certified intervals "
        "divide lower by upper bounds.",
        "",
    ]


def _movement_section(report: AuditReport, figures: dict[str, str]) -> list[str]:
    if report.movement is None:
        return []
    init_status = _initial_status(report)
    out = [
        "## Initial vs trained",
        "",
        "| layer | rel. Frobenius change | rel. spectral change | spectral norm ratio | (iii) at init |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {m.name} | {m.relative_frobenius:.3g} | {m.relative_spectral:.3g} | {m.spectral_ratio:.3g} | "
        f"{init_status.get(m.name, '-')} |"
        for m in report.movement
    ]
    if "movement" in figures:
        out += ["", f"![movement]({figures['movement']})"]
    return out + [""]


_METHOD = (
    "Each layer's (iii) family is corrected by Holm, so a layer whose entries are iid uniform on a symmetric "
    "interval is "
    "rejected with probability at most the level. Exact tests: |w|/max|w| against U[0,1] (conditional KS, exact with "
    "the "
    "scale estimated), signs (binomial), magnitudes by sign (two-sample KS). Monte Carlo tests (p = (1 + #{T_b >= "
    "T}) / "
    "(B + 1), valid at any B): kurtosis against iid U[-1,1] samples; rows, columns, top singular value and bulk "
    "spectrum "
    "against shuffled copies of the layer (permutation null: these test independence and identical distribution given "
    "the values). The implied K interval is exact (max|w|/a ~ Beta(n, 1)); the common-K test is Hogg's likelihood "
    "ratio, "
    "exactly chi-square. (i) is decided symbolically, (ii) from the widths."
)


def render_audit_folder(report: AuditReport, folder: Path, progress: "Callable[[str], None] | None" = None) -> None:
    """Write report.md and figures/ (one PNG per layer, movement.png with an initial file) into `folder`."""
    (folder / "figures").mkdir()
    figures: dict[str, str] = {}
    for index, (layer, audit) in enumerate(zip(report.selection.layers, report.layers)):
        if progress:
            progress(f"audit: figure for {layer.name}")
        name = layer_figure_name(index, layer.name)
        plot_layer(layer.matrix, audit, folder / "figures" / name)
        figures[layer.name] = f"figures/{name}"
    if report.movement:
        plot_movement(report.movement, folder / "figures" / "movement.png")
        figures["movement"] = "figures/movement.png"
    atomic_write_text(folder / "report.md", render_markdown(report, figures))


def write_audit_folder(
    report: AuditReport,
    write_json: Callable[[Path], None],
    root: "str | Path | None" = None,
    progress: "Callable[[str], None] | None" = None,
) -> Path:
    """Write report.json (through `write_json(path)`), report.md and figures into a fresh `audit-<time>-seed<S>/`."""
    with staged_run_folder(new_run_folder("audit", report.seed, root)) as staged:
        staged.staging.mkdir(parents=True)
        render_audit_folder(report, staged.staging, progress)
        write_json(staged.staging / "report.json")
        final = staged.publish()  # never replaces another run's folder of the same name
    mark_latest(final)
    return final
