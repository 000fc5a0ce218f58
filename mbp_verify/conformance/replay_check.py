"""Does a saved counterexample still show its failure? The verdict behind `check-pruner --replay`.

One saved input decides the generic mask checks (shape, binary, count, order) and the checks that
repeat a call on the same input (no mutation, determinism). Properties that compare several calls
on transformed inputs (permutations, scalings) cannot be ruled out from one file: for them a
failure that does not reproduce is still "not ruled out", never "fixed".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodeUnderTestError
from .counterexamples import Counterexample, ReplayResult, load_counterexample, replay

__all__ = ["DECIDED_BY_REPLAY", "ReplayVerdict", "check_replay"]

# Properties whose failure one saved input decides: the generic mask checks of `replay`, plus
# the repeated calls of `_repeated_call_problems`.
DECIDED_BY_REPLAY = frozenset(
    {
        "pruner.shape",
        "pruner.binary",
        "pruner.exact_count",
        "pruner.magnitude_order",
        "pruner.global_count",
        "pruner.no_mutation",
        "pruner.determinism",
    }
)


@dataclass(frozen=True)
class ReplayVerdict:
    """The replay's result, the problems of repeated calls, and whether the failure is ruled out."""

    example: Counterexample
    result: ReplayResult
    repeated_problems: tuple[str, ...]

    @property
    def reproduced(self) -> bool:
        return self.result.reproduced or bool(self.repeated_problems)

    @property
    def ruled_out(self) -> bool:
        """The failure is gone, and one input is enough to say so."""
        return not self.reproduced and self.example.property_id in DECIDED_BY_REPLAY

    def to_text(self) -> str:
        lines = [self.result.to_text(), *(f"problem: {p}" for p in self.repeated_problems)]
        if self.example.message:
            lines.append(f"recorded failure: {self.example.message.splitlines()[0]}")
        pid = self.example.property_id
        if self.reproduced:
            lines.append(f"verdict: the recorded failure of {pid} reproduces")
        elif not self.ruled_out:
            lines.append(
                f"verdict: not ruled out: {pid} compares several calls on transformed inputs, which this file "
                f"does not hold; rerun check-pruner with -k on that property to confirm a fix"
            )
        else:
            lines.append(f"verdict: the recorded failure of {pid} does not reproduce")
        return "\n".join(lines)


def check_replay(pruner: Any, path: "str | Path") -> ReplayVerdict:
    """Replay the saved input on `pruner` (a PrunerUnderTest) and decide whether the failure remains."""
    example = load_counterexample(path)
    pristine = None if example.weights is None else np.array(example.weights, copy=True)
    result = replay(example, pruner)
    repeated = () if result.reproduced else tuple(_repeated_call_problems(pruner, example, pristine))
    return ReplayVerdict(example, result, repeated)


def _repeated_call_problems(pruner: Any, example: Counterexample, pristine: "np.ndarray | None") -> list[str]:
    """No mutation (in the replay just done) and determinism (two more calls) on the saved input."""
    if example.kind != "layer" or pristine is None or "n_prune" not in example.values:
        return []
    problems = [] if example.weights.tobytes() == pristine.tobytes() else ["the pruner modified its input"]
    n = example.values["n_prune"]
    try:
        first = np.asarray(pruner.prune(np.array(pristine, copy=True), n))
        again = np.asarray(pruner.prune(np.array(pristine, copy=True), n))
    except CodeUnderTestError as exc:
        return [*problems, str(exc)]
    try:
        same = first.shape == again.shape and np.array_equal(first.astype(bool), again.astype(bool))
    except (TypeError, ValueError):  # an answer numpy cannot cast to bool (a structured array)
        same = False
    if not same:
        problems.append("two calls on the same input return different masks")
    return problems
