"""Terminal summary of a property-suite report (shared by `run` and `check-pruner`)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_report_summary"]

_MARK = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "error": "ERROR", "skip": "skip"}


def format_report_summary(report: dict[str, Any], folder: str, *, show_passing: bool = True) -> str:
    """A short table (property, tier, status, evidence) and where the full report is."""
    rows = [p for p in report["properties"] if show_passing or p["status"] != "pass"]
    width = max([len(p["id"]) for p in rows] + [8])
    lines = [f"{'property':<{width}}  {'tier':<8}  {'status':<12}  evidence / message"]
    for prop in rows:
        detail = prop["message"] if prop["status"] != "pass" else _short(prop["evidence"])
        lines.append(f"{prop['id']:<{width}}  {prop['tier']:<8}  {_MARK[prop['status']]:<12}  {_clip(detail)}")
    for prop in report["properties"]:
        if prop["status"] == "fail" and prop["counterexample"]:
            lines += ["", f"counterexample for {prop['id']}:", prop["counterexample"].strip()]
    counts = report["summary"]["status_counts"]
    lines += [
        "",
        "summary: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v) + f" ({report['run']['duration_s']:.1f} s)",
        f"report: {folder}/report.md (also report.json, junit.xml)",
    ]
    return "\n".join(lines)


def _short(evidence: dict[str, Any]) -> str:
    items = [f"{k}={v}" for k, v in evidence.items() if not isinstance(v, (dict, list))]
    return ", ".join(items)


def _clip(text: str, limit: int = 90) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
