"""Where runs write: one fresh folder per run under `reports/`."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .atomic import atomic_write_text

__all__ = ["DEFAULT_REPORTS_ROOT", "reports_root", "new_run_folder", "mark_latest", "staged_folder"]

DEFAULT_REPORTS_ROOT = Path("reports")


def reports_root(root: "str | Path | None" = None) -> Path:
    """`root`, else $MBP_VERIFY_REPORTS, else `reports/` in the current folder."""
    return Path(root) if root is not None else Path(os.environ.get("MBP_VERIFY_REPORTS", DEFAULT_REPORTS_ROOT))


def new_run_folder(kind: str, seed: int, root: "str | Path | None" = None) -> Path:
    """`<root>/<kind>-<UTC timestamp>-seed<seed>` (not created; unique within the root)."""
    base = reports_root(root)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate = base / f"{kind}-{stamp}-seed{seed}"
    suffix = 1
    while candidate.exists():
        suffix += 1
        candidate = base / f"{kind}-{stamp}-seed{seed}-{suffix}"
    return candidate


def mark_latest(folder: Path) -> None:
    """Record the newest complete run of its kind in `reports/LATEST-<kind>` (atomic)."""
    kind = folder.name.split("-", 1)[0]
    atomic_write_text(folder.parent / f"LATEST-{kind}", folder.name + "\n")


@contextmanager
def staged_folder(folder: "str | Path") -> Iterator[Path]:
    """Fill a hidden `.NAME.partial-<pid>` folder, renamed to `folder` only when the block succeeds.

    An interrupted or failing writer leaves no folder under the final name (a previous one of
    that name is replaced only on success), so a report that looks complete is complete.
    """
    final = Path(folder)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
