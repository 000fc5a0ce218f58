"""A sweep over (pruning rule, alpha, width) cells: sequential looks, parallel trials, verdicts.

At look j every cell still running gets trials n_{j-1} .. n_j - 1; they run in the pool, come
back in trial-index order, and only then does each cell decide whether to stop. So which trials
run, and every number reported, depend on the seed and the configuration only, not on the
number of workers or the order in which trials finish. Several pruning rules make one family
of cells each, all applied to the same sampled networks; every cell shares one design and one
Holm procedure, and only the families of a proved setting or a negative control decide
`holds` (MBP on CNNs is tested beyond the theorems: advisory, `theorem.settings`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol

import numpy as np

from .._validation import validate_integer
from ..errors import InputError
from ..seeding import DEFAULT_ROOT_SEED
from .checkpoint import Checkpoint
from .cnn import CONV_DEFAULTS
from .parallel import TaskFailure, TrialError, TrialPool
from .settings import Setting
from .trial import TrialOutcome, TrialSpec, run_trial
from .verdict import FamilyVerdict, TheoremDesign, decide_family, failure_counts, theorem_design

__all__ = ["TrialExecutor", "SweepConfig", "CellResult", "SweepResult", "run_sweep"]


class TrialExecutor(Protocol):
    """What runs trials: `map(fn, tasks, on_result)` as in `parallel.TrialPool.map`."""

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[tuple],
        on_result: "Callable[[int, tuple[Any, float]], None] | None" = None,
    ) -> list[tuple[Any, float]]: ...


TrialFunction = Callable[[TrialSpec, int, int], TrialOutcome]
LookProgress = Callable[[int, int, int], None]
BracketEnd = Literal["lower", "upper", "random_lower", "random_upper"]

# Every TrialSpec field but the cell's coordinates is a sweep setting of the same name.
_CELL_SETTINGS = tuple(f.name for f in fields(TrialSpec) if f.name not in ("width", "alpha"))


@dataclass(frozen=True)
class SweepConfig:
    """Everything a sweep needs; cells are pruning-rule-major, then alpha, then width.

    Besides the grid and the design, it carries each TrialSpec setting (eps ... padding)
    under the same name; `cells()` passes them on. `pruning` is one rule or several
    (a tuple, or comma-separated: "random,magnitude"), kept as the comma-separated text.
    """

    alphas: tuple[float, ...]
    widths: tuple[int, ...]
    eps: float
    delta: float
    trials: int
    depth: int = 3
    looks: int = 3
    confidence: float = 0.99
    activation: str = "relu"
    weights: str = "uniform"
    pruning: str = "magnitude"
    shape: str = "square"
    scale: float = 1.0
    effort: str = "fast"
    random_trials: int = 20
    seed: int = DEFAULT_ROOT_SEED
    arch: str = "fcn"
    kernel: int = CONV_DEFAULTS["kernel"]
    image: int = CONV_DEFAULTS["image"]
    in_channels: "int | None" = CONV_DEFAULTS["in_channels"]
    padding: str = CONV_DEFAULTS["padding"]

    def __post_init__(self) -> None:
        if isinstance(self.pruning, (tuple, list)):
            object.__setattr__(self, "pruning", ",".join(map(str, self.pruning)))
        if not isinstance(self.pruning, str) or len(set(self.rules)) != len(self.rules):
            raise InputError(f"pruning must name rules without repeats, got {self.pruning!r}")
        if not self.alphas or not self.widths:
            raise InputError("a sweep needs at least one alpha and one width")
        if len(set(self.widths)) != len(self.widths) or len(set(self.alphas)) != len(self.alphas):
            raise InputError("widths and alphas must not repeat")
        if validate_integer(self.looks, "looks", 1) > validate_integer(self.trials, "trials", 1):
            raise InputError(f"looks must be an integer in [1, trials], got {self.looks!r}")
        validate_integer(self.seed, "seed")
        self.cells()  # validates every cell's specification
        self.design()

    @property
    def rules(self) -> tuple[str, ...]:
        """The pruning rules, one family of cells each, in the order given."""
        return tuple(self.pruning.split(","))

    def cells(self) -> tuple[TrialSpec, ...]:
        settings = {name: getattr(self, name) for name in _CELL_SETTINGS}
        if "random" in self.rules:
            settings["random_trials"] = 0  # random pruning is bracketed on every network already
        return tuple(
            TrialSpec(width=w, alpha=a, **{**settings, "pruning": rule})
            for rule in self.rules
            for a in self.alphas
            for w in sorted(self.widths)
        )

    def labels(self) -> tuple[str, ...]:
        """Each cell's label: 'alpha=.. d=..', prefixed by the rule when there are several."""
        several = len(self.rules) > 1
        return tuple(f"{s.pruning} {s.label}" if several else s.label for s in self.cells())

    def design(self) -> TheoremDesign:
        cells = len(self.rules) * len(self.alphas) * len(self.widths)
        return theorem_design(self.delta, self.confidence, self.trials, self.looks, cells)

    def to_dict(self) -> dict:
        """The configuration (the checkpoint hashes it); the conv settings only for arch 'cnn'."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.arch != "cnn":
            for name in CONV_DEFAULTS:
                del record[name]
        record.update(alphas=list(self.alphas), widths=sorted(self.widths))
        return record


@dataclass(frozen=True)
class CellResult:
    """One cell's trials in index order and the worker seconds they took."""

    spec: TrialSpec
    outcomes: tuple[TrialOutcome, ...]
    seconds: tuple[float, ...] = field(repr=False)

    @property
    def trials_per_second(self) -> float:
        """Trials per worker-second (one process)."""
        total = sum(self.seconds)
        return len(self.outcomes) / total if total > 0 else float("inf")

    def ends(self, key: BracketEnd) -> np.ndarray:
        """One bracket end over the trials that recorded it (random pruning's: the first N only)."""
        return np.array([v for o in self.outcomes if (v := getattr(o, key)) is not None], dtype=np.float64)

    def geomean(self, key: BracketEnd) -> "float | None":
        """Geometric mean of `ends(key)` (None when nothing was recorded or some value is 0)."""
        values = self.ends(key)
        return float(np.exp(np.mean(np.log(values)))) if values.size and np.all(values > 0) else None

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "trials": [o.to_dict() for o in self.outcomes]}


@dataclass(frozen=True)
class SweepResult:
    """The cells, the family verdict and the wall time of a sweep."""

    config: SweepConfig
    cells: tuple[CellResult, ...]
    verdict: FamilyVerdict
    wall_seconds: float = field(repr=False)

    @property
    def settings(self) -> tuple[Setting, ...]:
        """What each pruning rule's family tests (a theorem, beyond the theorems, a control)."""
        return tuple(next(c.spec.setting for c in self.cells if c.spec.pruning == r) for r in self.config.rules)

    def required_statuses(self) -> list[str]:
        """The statuses of the cells whose verdict decides the run (advisory families left out)."""
        return [v.status for c, v in zip(self.cells, self.verdict.cells) if c.spec.setting.required]

    @property
    def holds(self) -> bool:
        """Established at every required cell (true when every family is advisory)."""
        return all(s == "pass" for s in self.required_statuses())

    @property
    def refuted(self) -> bool:
        """Refuted at some required cell."""
        return "fail" in self.required_statuses()

    @property
    def errors(self) -> list[dict]:
        """The trials that failed on every attempt (counted as unknown): cell, index and reason."""
        return [
            {
                "pruning": c.spec.pruning,
                "alpha": c.spec.alpha,
                "width": c.spec.width,
                "index": o.index,
                "error": o.reason,
            }
            for c in self.cells
            for o in c.outcomes
            if isinstance(o, TrialError)
        ]


def run_sweep(
    config: SweepConfig,
    *,
    workers: int = 0,
    on_progress: "LookProgress | None" = None,
    trial_fn: TrialFunction = run_trial,
    checkpoint: "Checkpoint | None" = None,
    pool: "TrialExecutor | None" = None,
) -> SweepResult:
    """Run the sweep's sequential looks; `on_progress(look, done, total)` after each trial.

    `workers=0` runs the trials in this process; `workers >= 1` spawns worker processes, so a
    script calling it needs the usual `if __name__ == "__main__":` guard of the spawn method.
    `pool`, if given, is an entered executor used instead (`workers` is then ignored).
    With a `checkpoint`, trials it already holds are taken from it and not run again, and every
    trial that finishes is recorded in it before the next one is looked at.
    """
    if not isinstance(config, SweepConfig):
        raise InputError(f"run_sweep needs a SweepConfig, got {type(config).__name__}")
    start = time.perf_counter()
    design = config.design()
    specs = config.cells()
    outcomes: list[list[TrialOutcome]] = [[] for _ in specs]
    seconds: list[list[float]] = [[] for _ in specs]
    active = list(range(len(specs)))
    previous = 0
    restored = {} if checkpoint is None else checkpoint.done
    with ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(TrialPool(workers))
        for look, n in enumerate(design.looks):
            wanted = [(c, i) for c in active for i in range(previous, n)]
            results = {
                k: restored[key]
                for k in wanted
                if (key := (specs[k[0]].pruning, specs[k[0]].alpha, specs[k[0]].width, k[1])) in restored
            }
            missing = [k for k in wanted if k not in results]
            total = len(wanted)

            def finished(
                position: int,
                result: tuple[TrialOutcome, float],
                look: int = look,
                missing: list = missing,
                results: dict = results,
                total: int = total,
            ) -> None:
                cell, index = missing[position]
                outcome, spent = result
                if isinstance(outcome, TaskFailure):  # failed on every attempt: an error trial
                    outcome = TrialError(index, outcome.reason)
                    result = (outcome, spent)
                if outcome.index != index:
                    raise RuntimeError(f"trial function returned index {outcome.index} for trial {index}")
                if checkpoint is not None:
                    checkpoint.record(specs[cell], outcome, spent)
                results[missing[position]] = result
                if on_progress is not None:
                    on_progress(look, len(results), total)

            if on_progress is not None and results:
                on_progress(look, len(results), total)
            pool.map(trial_fn, [(specs[c], config.seed, i) for c, i in missing], finished)
            for key in wanted:
                outcome, spent = results[key]
                outcomes[key[0]].append(outcome)
                seconds[key[0]].append(spent)
            active = [
                c for c in active if not design.should_stop(look, *failure_counts([o.outcome for o in outcomes[c]]))
            ]
            previous = n
            if not active:
                break
    verdict = decide_family(design, config.labels(), [[o.outcome for o in seq] for seq in outcomes])
    cells = tuple(CellResult(s, tuple(o), tuple(t)) for s, o, t in zip(specs, outcomes, seconds))
    return SweepResult(config, cells, verdict, time.perf_counter() - start)
