"""The report of a property-suite run: `report.json`, `report.md`, `junit.xml`.

The three files are written into a hidden staging folder that is renamed into place only
when all are complete, so an interrupted run never leaves a report that looks finished.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..reports.atomic import atomic_write_json, atomic_write_text
from ..reports.folders import staged_folder
from .results import PropertyResult, run_exit_code

__all__ = [
    "REPORT_SCHEMA",
    "REPORT_SCHEMA_VERSION",
    "build_report",
    "write_run_report",
    "render_markdown",
    "render_junit",
    "status_counts",
]

REPORT_SCHEMA = "mbp-verify/report"
REPORT_SCHEMA_VERSION = 1


def status_counts(results: Sequence[PropertyResult]) -> dict[str, int]:
    counts = {s: 0 for s in ("pass", "fail", "inconclusive", "error", "skip")}
    for r in results:
        counts[r.status] += 1
    return counts


def build_report(metadata: dict[str, Any], results: Sequence[PropertyResult]) -> dict[str, Any]:
    """The report.json document."""
    required_not_passed = [
        r.id for r in results if r.tier == "required" and r.status in ("fail", "error", "inconclusive")
    ]
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "run": metadata,
        "summary": {
            "properties": len(results),
            "status_counts": status_counts(results),
            "required_not_passed": required_not_passed,
            "exit_code": run_exit_code(results),
        },
        "properties": [r.to_dict() for r in results],
    }


def _cell(text: str, limit: int = 120) -> str:
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _evidence_text(evidence: dict[str, Any]) -> str:
    return json.dumps(evidence, sort_keys=True, default=str) if evidence else ""


def render_markdown(report: dict[str, Any]) -> str:
    """A table a person reads, then every failure with its counterexample."""
    run, summary = report["run"], report["summary"]
    counts = ", ".join(f"{k} {v}" for k, v in summary["status_counts"].items())
    lines = [
        f"# mbp-verify report: {run.get('command', 'run')}",
        "",
        f"- target: `{run.get('target', 'reference engine')}`",
        f"- seed: {run.get('seed')}, Hypothesis profile: {run.get('hypothesis_profile')}, workers: "
        f"{run.get('workers')}",
        f"- duration: {run.get('duration_s', 0):.1f} s, started {run.get('started')}",
        f"- statuses: {counts}; exit code {summary['exit_code']}",
        "",
        "| property | tier | status | statement | evidence |",
        "|---|---|---|---|---|",
    ]
    for prop in report["properties"]:
        lines.append(
            f"| `{prop['id']}` | {prop['tier']} | **{prop['status']}** | {_cell(prop['statement'])} | "
            f"{_cell(_evidence_text(prop['evidence']), 100)} |"
        )
    problems = [p for p in report["properties"] if p["status"] in ("fail", "error", "inconclusive")]
    if problems:
        lines += ["", "## Failures, errors and inconclusive results", ""]
        for prop in problems:
            lines += [f"### `{prop['id']}` — {prop['status']}", "", f"Source: {prop['source']}", ""]
            if prop["message"]:
                lines += ["```", prop["message"].strip()[:4000], "```", ""]
            if prop["counterexample"]:
                lines += ["Minimal counterexample:", "", "```", prop["counterexample"].strip(), "```", ""]
    skipped = [p for p in report["properties"] if p["status"] == "skip"]
    if skipped:
        lines += ["", "## Skipped", ""] + [f"- `{p['id']}`: {p['message']}" for p in skipped]
    return "\n".join(lines) + "\n"


def render_junit(report: dict[str, Any]) -> str:
    """JUnit XML with one testcase per property (classname = tier)."""
    counts = report["summary"]["status_counts"]
    suite = ET.Element(
        "testsuite",
        name=f"mbp-verify {report['run'].get('command', 'run')}",
        tests=str(len(report["properties"])),
        failures=str(counts["fail"] + counts["inconclusive"]),
        errors=str(counts["error"]),
        skipped=str(counts["skip"]),
        time=f"{report['run'].get('duration_s', 0):.3f}",
    )
    for prop in report["properties"]:
        duration = sum(i["duration_s"] for i in prop["items"])
        case = ET.SubElement(
            suite, "testcase", classname=f"mbp_verify.{prop['tier']}", name=prop["id"], time=f"{duration:.3f}"
        )
        text = "\n".join(filter(None, [prop["message"], prop["counterexample"]]))
        if prop["status"] == "fail":
            ET.SubElement(case, "failure", message=_cell(prop["statement"], 200)).text = text
        elif prop["status"] == "inconclusive":
            ET.SubElement(case, "failure", message="inconclusive", type="inconclusive").text = text
        elif prop["status"] == "error":
            ET.SubElement(case, "error", message="code under test crashed").text = text
        elif prop["status"] == "skip":
            ET.SubElement(case, "skipped", message=_cell(prop["message"], 200))
        ET.SubElement(case, "system-out").text = _evidence_text(prop["evidence"])
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    ET.indent(tree)
    return ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True) + "\n"


def write_run_report(folder: "str | Path", report: dict[str, Any]) -> Path:
    """Write the three files into `folder`, atomically as a set."""
    with staged_folder(folder) as staging:
        atomic_write_json(staging / "report.json", report, unknown_as_text=True)
        atomic_write_text(staging / "report.md", render_markdown(report))
        atomic_write_text(staging / "junit.xml", render_junit(report))
    return Path(folder)
