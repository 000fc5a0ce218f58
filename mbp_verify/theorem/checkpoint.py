"""A sweep's checkpoint: every finished trial as one JSON line of `trials.jsonl`, and resume.

The first line holds the configuration, its hash and the mbp-verify version (a resume by
another version is refused: the bracket, hence a trial's outcome, may differ); every later line is one finished trial
(cell, outcome, worker seconds) with the same hash. Only the process that runs the sweep
writes, one `write` per line on an append-only descriptor, flushed to disk (`fsync`) before the
next trial is looked at, so a crash, SIGKILL or Ctrl-C loses at most the trials in flight. A
torn last line (the write the crash interrupted) is ignored and cut off when the run resumes.
Trials are functions of (root seed, spec, index), so a resumed sweep equals an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import InputError
from ..reports.atomic import json_text
from .parallel import TrialError
from .trial import TrialOutcome, TrialSpec

__all__ = ["CHECKPOINT_NAME", "TrialKey", "Checkpoint", "config_hash", "read_checkpoint", "differing_keys"]

CHECKPOINT_NAME = "trials.jsonl"
TrialKey = tuple[str, float, int, int]  # (pruning rule, alpha, width, trial index)
_FLOAT_FIELDS = ("lower", "upper", "random_lower", "random_upper")


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the configuration's canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def differing_keys(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The keys whose values differ between two configurations (missing counts as differing)."""
    return sorted(k for k in set(stored) | set(current) if stored.get(k, KeyError) != current.get(k, KeyError))


def _number(value: Any) -> "float | None":
    return None if value is None else float(value)  # "inf", "-inf", "nan" come back as floats


def _outcome(record: dict[str, Any]) -> TrialOutcome:
    trial = record["trial"]
    if "error" in trial:
        return TrialError(int(trial["index"]), str(trial["error"]))
    return TrialOutcome(int(trial["index"]), trial["outcome"], *(_number(trial[k]) for k in _FLOAT_FIELDS))


@dataclass
class _Contents:
    config: dict[str, Any]
    hash: str
    version: "str | None" = None
    done: dict[TrialKey, tuple[TrialOutcome, float]] = field(default_factory=dict)
    valid_bytes: int = 0


def _parse(path: Path) -> _Contents:
    data = path.read_bytes()
    lines, contents, offset = data.split(b"\n"), None, 0
    for number, raw in enumerate(lines, 1):
        last = number == len(lines)  # no newline after it: an unfinished (torn) write, or nothing
        if last:
            break
        try:
            record = json.loads(raw)
            if contents is None:
                contents = _Contents(record["config"], record["config_hash"], record.get("version"))
            else:
                if record["config_hash"] != contents.hash:
                    raise InputError(f"{path}: line {number} belongs to another configuration")
                rule = str(record.get("pruning", contents.config.get("pruning")))  # one rule: the config's
                key = (rule, float(record["alpha"]), int(record["width"]), int(record["trial"]["index"]))
                contents.done[key] = (_outcome(record), float(record["seconds"]))
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(f"{path}: line {number} is not a checkpoint record ({error})") from None
        offset += len(raw) + 1
        contents.valid_bytes = offset
    if contents is None:
        raise InputError(f"{path} holds no configuration line; not a theorem checkpoint")
    return contents


def read_checkpoint(folder: "str | Path") -> tuple[dict[str, Any], dict[TrialKey, tuple[TrialOutcome, float]]]:
    """(stored configuration, finished trials) of a run folder; a torn last line is ignored."""
    path = Path(folder) / CHECKPOINT_NAME
    if not path.is_file():
        raise InputError(f"{folder} is not a theorem run folder (no {CHECKPOINT_NAME})")
    contents = _parse(path)
    if config_hash(contents.config) != contents.hash:
        raise InputError(f"{path}: the configuration line does not match its hash")
    return contents.config, contents.done


class Checkpoint:
    """The open `trials.jsonl` of one run: `done` (restored trials) and `record()` (append one)."""

    def __init__(self, folder: "str | Path", config: dict[str, Any], *, resume: bool = False) -> None:
        self.folder = Path(folder)
        self.path = self.folder / CHECKPOINT_NAME
        self.hash = config_hash(config)
        self.done: dict[TrialKey, tuple[TrialOutcome, float]] = {}
        if resume:
            contents = _parse(self.path)
            if contents.hash != self.hash:
                keys = differing_keys(contents.config, config)
                differ = ", ".join(keys) or "its hash"
                raise InputError(f"cannot resume {self.folder}: the configuration differs in {differ}")
            if contents.version != __version__:
                raise InputError(
                    f"cannot resume {self.folder}: it was run by mbp-verify {contents.version or 'before 0.4'}, "
                    f"this is {__version__}; brackets differ between versions, so its trials would not match"
                )
            self.done = contents.done
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            os.truncate(self.path, contents.valid_bytes)  # drop a torn last line before appending
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o666)
            self._append({"config": config, "config_hash": self.hash, "version": __version__})

    def _append(self, record: dict[str, Any]) -> None:
        line = json_text(record, indent=None) + "\n"
        if "\n" in line[:-1]:
            raise RuntimeError("a checkpoint record must fit on one line")
        data = line.encode()
        while data:
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)

    def record(self, spec: TrialSpec, outcome: TrialOutcome, seconds: float) -> None:
        """Append one finished trial and flush it to disk."""
        self._append(
            {
                "config_hash": self.hash,
                "pruning": spec.pruning,
                "alpha": spec.alpha,
                "width": spec.width,
                "trial": outcome.to_dict(),
                "seconds": seconds if math.isfinite(seconds) else 0.0,
            }
        )

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
