"""Compare two `mbp-verify run` reports: the same properties, statuses and evidence numbers?

Used to show that a refactoring changed no behaviour: run `mbp-verify run --seed 1 --json A` before
and `... --json B` after, then `python scripts/compare_runs.py A B` prints every difference and exits
1 if there is one (timings and run metadata are ignored). Hypothesis derives a derandomised run's
examples from each test function's source, so evidence summarising Hypothesis examples (a "worst"
ratio over the examples) changes when a property's own source changes; a change of the library alone
must leave everything identical.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

IGNORED_KEYS = {"duration_s", "started", "finished", "timings", "timing", "report_dir", "seconds", "elapsed_s"}


def _strip(value: Any) -> Any:
    """The value without wall-clock fields, at any depth."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in IGNORED_KEYS and not k.endswith("_seconds")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _properties(path: Path) -> dict[str, dict[str, Any]]:
    document = json.loads(path.read_text())
    return {
        p["id"]: {
            "status": p["status"],
            "tier": p["tier"],
            "evidence": _strip(p.get("evidence")),
            "items": sorted((i["nodeid"], i["status"]) for i in p.get("items", [])),
        }
        for p in document["properties"]
    }


def differences(before: Path, after: Path) -> list[str]:
    """One line per property added, removed, or whose status, items or evidence changed."""
    old, new = _properties(before), _properties(after)
    lines = [f"only in {before.name}: {pid}" for pid in sorted(old.keys() - new.keys())]
    lines += [f"only in {after.name}: {pid}" for pid in sorted(new.keys() - old.keys())]
    for pid in sorted(old.keys() & new.keys()):
        for key in ("status", "tier", "items", "evidence"):
            if old[pid][key] != new[pid][key]:
                lines.append(
                    f"{pid}: {key} differs: {json.dumps(old[pid][key])[:200]} -> {json.dumps(new[pid][key])[:200]}"
                )
    return lines


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    lines = differences(args.before, args.after)
    print(
        "\n".join(lines) if lines else f"identical: {len(_properties(args.before))} properties, statuses and evidence"
    )
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
