"""Where runs write: one fresh folder per run under `reports/`."""

from __future__ import annotations

import datetime as _dt
import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write_text

__all__ = [
    "DEFAULT_REPORTS_ROOT",
    "reports_root",
    "new_run_folder",
    "mark_latest",
    "staged_folder",
    "StagedRunFolder",
    "staged_run_folder",
    "claim_run_folder",
]

DEFAULT_REPORTS_ROOT = Path("reports")


def reports_root(root: "str | Path | None" = None) -> Path:
    """`root`, else $MBP_VERIFY_REPORTS, else `reports/` in the current folder."""
    return Path(root) if root is not None else Path(os.environ.get("MBP_VERIFY_REPORTS", DEFAULT_REPORTS_ROOT))


def new_run_folder(kind: str, seed: int, root: "str | Path | None" = None) -> Path:
    """`<root>/<kind>-<UTC timestamp>-seed<seed>` (not created; unique within the root)."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return next(c for c in _names(reports_root(root) / f"{kind}-{stamp}-seed{seed}") if not c.exists())


def _names(folder: Path) -> Iterator[Path]:
    """`folder`, then the run's next names: `NAME-2`, `NAME-3`, ... (`NAME-4`, ... after `NAME-3`)."""
    yield folder
    match = re.fullmatch(r"(.*-seed\d+)-(\d+)", folder.name)
    base, suffix = (match[1], int(match[2])) if match else (folder.name, 1)
    while True:
        suffix += 1
        yield folder.with_name(f"{base}-{suffix}")


def claim_run_folder(folder: "str | Path") -> Path:
    """Create the new run folder `folder` (from `new_run_folder`), or the run's next free name when
    another run took it meanwhile; for a run that writes into its folder as it goes (a theorem
    sweep's checkpoint). `mkdir` either creates a folder or fails, so no two runs share one."""
    for candidate in _names(Path(folder)):
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable: _names is endless")


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


@dataclass
class StagedRunFolder:
    """A new run's report, filled in `staging` and published as `folder` (see `staged_run_folder`)."""

    folder: Path
    staging: Path

    def publish(self) -> Path:
        """Rename the complete staging folder to `folder`, or to the run's next free name when another
        run published under it meanwhile (two runs started in the same second with one seed): a run
        never replaces another run's report. Returns, and keeps in `folder`, the name used."""
        for candidate in _names(self.folder):
            if candidate.exists():
                continue
            try:
                os.rename(self.staging, candidate)  # onto a folder that appeared meanwhile: fails, never replaces it
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                continue
            self.folder = candidate
            return candidate
        raise AssertionError("unreachable: _names is endless")


@contextmanager
def staged_run_folder(folder: "str | Path") -> Iterator[StagedRunFolder]:
    """A new run folder (from `new_run_folder`) filled as a hidden `.NAME.partial-<pid>` folder, which
    the caller (or a subprocess) creates and fills, then `publish()`es when complete.

    Whatever happens in the block (an error, Ctrl-C, SIGTERM, no `publish()`), the staging folder is
    removed on the way out: only a published folder carries a run's name.
    """
    final = Path(folder)
    staged = StagedRunFolder(final, final.parent / f".{final.name}.partial-{os.getpid()}")
    try:
        yield staged
    finally:
        shutil.rmtree(staged.staging, ignore_errors=True)
