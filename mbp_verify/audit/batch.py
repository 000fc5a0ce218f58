"""The audit of many weight files: one task per file on an executor, one report per file, a summary.

Every file is audited with the run's root seed, exactly as `mbp-verify audit FILE` alone would
(its draws come from the seed and the layer names), so a file's report does not depend on the
other files, on the executor or on the number of workers. A task reads its file itself and
sends back the report's JSON data, report.md and figures as bytes: the process that drives the
run writes every file, so workers need to read the weights but never to write.

A file's status decides its share of the exit code (`EXIT_CODES`): `audited` (0: a rejected
hypothesis is a finding), `required_rejected` (1: a hypothesis named in `--require` is rejected),
`input_error` (2: missing, unreadable or unusable file) and `error` (3: the audit could not
complete -- its worker died on every attempt, or mbp-verify crashed on it). A run exits with
the worst of its files.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from ..errors import InputError
from ..reports.atomic import atomic_write_bytes, atomic_write_text
from ..reports.folders import mark_latest, new_run_folder, staged_run_folder
from ..seeding import DEFAULT_ROOT_SEED
from .layer_audit import DEFAULT_LEVEL
from .report import render_audit_folder
from .selection import Layout
from .weights_audit import HYPOTHESES, AuditReport, audit_weights

__all__ = [
    "EXIT_CODES",
    "AuditSettings",
    "FileAudit",
    "expand_weight_paths",
    "file_document",
    "audit_file",
    "audit_files",
    "summary_document",
    "format_summary",
    "write_batch_folder",
]

FileStatus = Literal["audited", "required_rejected", "input_error", "error"]
EXIT_CODES: dict[str, int] = {"audited": 0, "required_rejected": 1, "input_error": 2, "error": 3}
_GLOB_CHARACTERS = re.compile(r"[*?[]")


class _Executor(Protocol):
    def map(
        self, fn: Callable[..., Any], tasks: Sequence[tuple], on_result: "Callable[[int, Any], None] | None" = None
    ) -> list[tuple[Any, float]]: ...


@dataclass(frozen=True)
class AuditSettings:
    """The options of `mbp-verify audit` that apply to every file (picklable: sent to workers)."""

    layers: "str | None" = None
    layout: Layout = "auto"
    activation: str = "relu"
    alpha: "float | None" = 0.3
    compare: "str | None" = None
    seed: int = DEFAULT_ROOT_SEED
    level: float = DEFAULT_LEVEL
    draws: "int | None" = None
    effort: str = "default"
    required: tuple[str, ...] = ()
    report: bool = True
    conv_input: "tuple[int, int] | None" = None

    def audit(self, path: "str | Path", progress: "Callable[[str], None] | None" = None) -> AuditReport:
        """`audit_weights` of one file with these settings."""
        return audit_weights(
            path,
            layers=self.layers,
            layout=self.layout,
            activation=self.activation,
            alpha=self.alpha,
            compare=self.compare,
            seed=self.seed,
            level=self.level,
            draws=self.draws,
            effort=self.effort,
            progress=progress,
            conv_input=self.conv_input,
        )


def file_document(report: AuditReport, required: Sequence[str]) -> dict[str, Any]:
    """A file's report document (`report.json`, `--json`): the audit, the required hypotheses
    that are rejected and the file's exit code."""
    failed = [h for h in required if report.rejected(h)]
    return {
        **report.to_dict(),
        "required": list(required),
        "required_rejected": failed,
        "exit_code": EXIT_CODES["required_rejected" if failed else "audited"],
    }


@dataclass(frozen=True)
class FileAudit:
    """What the audit of one file gave: status, message, report document and rendered files."""

    path: str
    status: FileStatus
    message: str = ""
    document: "dict[str, Any] | None" = field(default=None, repr=False)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def row(self) -> dict[str, Any]:
        """The file's line of the summary."""
        doc = self.document or {}
        return {
            "path": self.path,
            "status": self.status,
            "exit_code": self.exit_code,
            "message": self.message,
            "format": doc.get("format"),
            "layers": len(doc["layers"]) if doc else None,
            "rejected": doc.get("rejected"),
            "required_rejected": doc.get("required_rejected", []),
        }


def expand_weight_paths(arguments: Iterable[str]) -> list[str]:
    """The files named on the command line, in order, each once: an argument with `*`, `?` or `[`
    that is not an existing path is a glob (`**` recurses), expanded here in sorted order; a glob
    matching no file is an InputError."""
    found: dict[str, str] = {}
    for argument in arguments:
        text = str(argument)
        if _GLOB_CHARACTERS.search(text) and not os.path.lexists(text):
            matches = sorted(m for m in glob.glob(text, recursive=True) if os.path.isfile(m))
            if not matches:
                raise InputError(f"no weight file matches {text!r}")
        else:
            matches = [text]
        for match in matches:
            found.setdefault(os.path.realpath(match), match)
    return list(found.values())


def _rendered(report: AuditReport) -> dict[str, bytes]:
    """report.md and the figures, as bytes by relative path (drawn in a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="mbp-audit-") as tmp:
        folder = Path(tmp)
        render_audit_folder(report, folder)
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def audit_file(path: str, settings: AuditSettings) -> FileAudit:
    """Audit one file (module-level: runs on workers). Bad input is this file's `input_error`;
    any other exception is its `error` (a bug, with the traceback's last lines), never the run's."""
    try:
        report = settings.audit(path)
        document = file_document(report, settings.required)
        status: FileStatus = "required_rejected" if document["required_rejected"] else "audited"
        return FileAudit(path, status, document=document, files=_rendered(report) if settings.report else {})
    except InputError as error:
        return FileAudit(path, "input_error", str(error))
    except Exception as error:  # noqa: BLE001 -- reported for this file, the others still run
        where = "".join(traceback.format_exception(error)[-3:]).strip().replace("\n", " | ")
        return FileAudit(path, "error", f"mbp-verify crashed on this file (a bug; please report it): {where}")


def audit_files(
    paths: Sequence[str],
    settings: AuditSettings,
    pool: _Executor,
    on_file: "Callable[[int, FileAudit], None] | None" = None,
) -> list[FileAudit]:
    """Audit every file as one task on `pool` (a `TrialPool` or `DaskPool`), results in `paths`
    order; `on_file(position, result)` as each one finishes. A task that failed on every attempt
    comes back from the pool as a failure record with a `reason`: that file's `error`."""
    results: list[Any] = [None] * len(paths)

    def finished(position: int, result: tuple[Any, float]) -> None:
        value = result[0]
        if not isinstance(value, FileAudit):
            value = FileAudit(paths[position], "error", f"the audit could not complete: {value.reason}")
        results[position] = value
        if on_file is not None:
            on_file(position, value)

    pool.map(audit_file, [(path, settings) for path in paths], finished)
    return results


def _folder_names(outcomes: Sequence[FileAudit]) -> list["str | None"]:
    """`01-model_a`: one sub-folder per audited file, in input order, unique and readable."""
    digits = len(str(len(outcomes)))
    return [
        f"{i + 1:0{digits}d}-{re.sub(r'[^A-Za-z0-9._-]+', '_', Path(o.path).name)[:60]}" if o.files else None
        for i, o in enumerate(outcomes)
    ]


def summary_document(outcomes: Sequence[FileAudit], settings: AuditSettings) -> dict[str, Any]:
    """summary.json (and `--json` for several files): one row per file, counts, the run's exit code."""
    rows = [{**o.row(), "report_dir": name} for o, name in zip(outcomes, _folder_names(outcomes))]
    return {
        "files": rows,
        "counts": {status: sum(o.status == status for o in outcomes) for status in EXIT_CODES},
        "seed": settings.seed,
        "required": list(settings.required),
        "exit_code": max((o.exit_code for o in outcomes), default=EXIT_CODES["audited"]),
    }


def _cells(row: dict[str, Any]) -> list[str]:
    rejected = row["rejected"] or {}
    marks = ["rejected" if rejected.get(h) else ("-" if rejected else "") for h in HYPOTHESES]
    status = row["status"].replace("_", " ")
    return [row["path"], row["format"] or "", "" if row["layers"] is None else str(row["layers"]), status, *marks]


_HEADER = ["file", "format", "layers", "status", *[f"({h})" if h != "common_K" else "common K" for h in HYPOTHESES]]


def format_summary(summary: dict[str, Any]) -> str:
    """The summary table (one line per file, `rejected` where a hypothesis is) and the errors."""
    rows = [_HEADER] + [_cells(row) for row in summary["files"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    counts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in summary["counts"].items() if n)
    lines.append(f"{len(summary['files'])} files: {counts}; exit code {summary['exit_code']}")
    lines += [
        f"{row['path']}: {row['status'].replace('_', ' ')}: {row['message']}"
        for row in summary["files"]
        if row["message"]
    ]
    return "\n".join(lines)


def _summary_markdown(summary: dict[str, Any]) -> str:
    rows = [
        [*_cells(row), f"[{row['report_dir']}]({row['report_dir']}/report.md)" if row["report_dir"] else ""]
        for row in summary["files"]
    ]
    header = [*_HEADER, "report"]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    errors = [
        f"- `{row['path']}`: {row['status'].replace('_', ' ')}: {row['message']}"
        for row in summary["files"]
        if row["message"]
    ]
    lines = [
        "# Assumption audit of several weight files",
        "",
        f"Seed {summary['seed']} for every file; exit code {summary['exit_code']} (the worst file's: "
        "0 audited, 1 a required hypothesis rejected, 2 input error, 3 could not complete).",
        "",
        *table,
        "",
        *(["## Files not audited", "", *errors] if errors else []),
    ]
    return "\n".join(lines) + "\n"


def write_batch_folder(
    outcomes: Sequence[FileAudit],
    summary: dict[str, Any],
    write_json: Callable[[Path, str, dict[str, Any]], None],
    root: "str | Path | None" = None,
) -> Path:
    """A fresh `audits-<time>-seed<S>/` with summary.json, summary.md and one folder per audited
    file (report.json, report.md, figures/), staged and renamed into place when complete.
    `write_json(path, command, payload)` writes a JSON document with the CLI's schema header."""
    with staged_run_folder(new_run_folder("audits", summary["seed"], root)) as staged:
        staging = staged.staging
        staging.mkdir(parents=True)
        for outcome, name in zip(outcomes, _folder_names(outcomes)):
            if name is None or outcome.document is None:
                continue
            for relative, data in outcome.files.items():
                atomic_write_bytes(staging / name / relative, data)
            write_json(staging / name / "report.json", "audit", outcome.document)
        write_json(staging / "summary.json", "audit-summary", summary)
        atomic_write_text(staging / "summary.md", _summary_markdown(summary))
        final = staged.publish()  # never replaces another run's folder of the same name
    mark_latest(final)
    return final
