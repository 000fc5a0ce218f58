"""Replayable counterexamples: a failing property's minimal input saved as `.npz`.

While a property runs, `Recorder` remembers the input of each check; when the check fails
the input is written (overwriting) to `<dir>/<property id>--<test>.npz`. Hypothesis replays
the shrunk minimal example last, so the file left behind holds the minimal input. The file
stores the exact arrays (dtype and values; the logical C-order content plus the memory
layout name), the counts and the property id; `replay()` runs a pruner on it again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.arrayfiles import read_npz
from ..errors import InputError
from ..reports.atomic import atomic_write_bytes
from .checks import assert_binary, assert_magnitude_order, keep_mask, pruned_count

__all__ = [
    "Counterexample",
    "Recorder",
    "save_counterexample",
    "load_counterexample",
    "replay",
    "layout_name",
    "describe_inputs",
]

_SCALARS = ("n_prune", "fraction", "first", "second", "total")


def layout_name(array: np.ndarray) -> str:
    if array.flags.c_contiguous:
        return "c"
    if array.flags.f_contiguous:
        return "fortran"
    return "strided"


@dataclass(frozen=True)
class Counterexample:
    """A saved minimal input: weights (or layers), counts, and which property failed."""

    property_id: str
    kind: str
    weights: "np.ndarray | None" = None
    layers: tuple[np.ndarray, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    message: str = ""

    def describe(self) -> str:
        if self.kind == "global":
            shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.layers)
            head = f"layers [{shapes}]"
        else:
            assert self.weights is not None
            values = np.array2string(self.weights.ravel(), threshold=40)
            head = f"weights {self.weights.dtype}{list(self.weights.shape)} = {values}"
        extra = ", ".join(f"{k}={v}" for k, v in self.values.items())
        return f"{self.property_id}: {head}; {extra}"


def save_counterexample(
    path: "str | Path",
    *,
    property_id: str,
    kind: str,
    weights: "np.ndarray | None" = None,
    layers: "list[np.ndarray] | None" = None,
    target: str = "",
    message: str = "",
    **values: Any,
) -> Path:
    """Write one counterexample file atomically."""
    import io

    arrays: dict[str, np.ndarray] = {}
    meta = {
        "property_id": property_id,
        "kind": kind,
        "target": target,
        "message": message[:500],
        "values": {k: (float(v) if isinstance(v, float) else int(v)) for k, v in values.items()},
    }
    if weights is not None:
        arrays["weights"] = np.ascontiguousarray(weights)
        meta["layout"] = layout_name(np.asarray(weights))
    for i, layer in enumerate(layers or []):
        arrays[f"layer_{i}"] = np.ascontiguousarray(layer)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


# The values each kind of saved input needs (counts are integers, the fraction a finite float in [0, 1]).
_KIND_VALUES = {"layer": ("n_prune",), "fraction": ("fraction",), "reprune": ("first", "second"), "global": ("total",)}


def load_counterexample(path: "str | Path") -> Counterexample:
    """Read a counterexample file written by `save_counterexample`; `InputError` naming what is
    wrong when it is not one (a file edited by hand or written by another tool must never replay
    as something else: a missing n_prune read as 0, an unknown kind as a layer)."""
    if not Path(path).is_file():
        raise InputError(f"counterexample file {str(path)!r} does not exist")
    try:
        data = read_npz(path, "counterexample")
        meta = json.loads(bytes(data["meta"]).decode("utf-8"))
        weights = data.get("weights")
        layers = tuple(data[f"layer_{i}"] for i in range(sum(f.startswith("layer_") for f in data)))
        example = _validated(meta, weights, layers)
    except (KeyError, ValueError) as exc:  # InputError is a ValueError: its message is kept
        raise InputError(f"{str(path)!r} is not a counterexample file: {exc}") from None
    return example


def _validated(meta: Any, weights: "np.ndarray | None", layers: tuple[np.ndarray, ...]) -> Counterexample:
    """The counterexample `meta` and the arrays describe; ValueError saying what is wrong."""
    if not isinstance(meta, dict):
        raise ValueError(f"its meta record is a JSON {type(meta).__name__}, not an object")
    kind, values, property_id = meta.get("kind"), meta.get("values"), meta.get("property_id")
    if not isinstance(property_id, str) or not property_id:
        raise ValueError("it names no property (property_id)")
    if kind not in _KIND_VALUES:
        raise ValueError(f"kind {kind!r} is none of {', '.join(_KIND_VALUES)}")
    for key in ("target", "message"):
        if not isinstance(meta.get(key, ""), str):
            raise ValueError(f"{key} is not a string")
    if not isinstance(values, dict):
        raise ValueError("its values are not a JSON object")
    arrays = list(layers) if kind == "global" else ([] if weights is None else [weights])
    if not arrays:
        raise ValueError("it holds no layers" if kind == "global" else "it holds no weights")
    for array in arrays:
        if array.dtype not in (np.float16, np.float32, np.float64):
            raise ValueError(f"weights of dtype {array.dtype}: the pruner protocol takes float16, float32 or float64")
    size = sum(int(a.size) for a in arrays)
    for key in _KIND_VALUES[kind]:
        value = values.get(key)
        if key == "fraction":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"fraction {value!r} is not a number in [0, 1]")
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= size:
            raise ValueError(f"{key} {value!r} is not an integer in [0, {size}] (the weights hold {size} entries)")
    return Counterexample(property_id, kind, weights, layers, values, meta.get("target", ""), meta.get("message", ""))


def describe_inputs(inputs: dict[str, Any]) -> str:
    """The arrays and counts of one check, printed in full (dtype, shape, values)."""
    parts = []
    for key, value in inputs.items():
        if key == "layers":
            parts.append("layers=[" + ", ".join(_array_text(a) for a in value) + "]")
        elif isinstance(value, np.ndarray):
            parts.append(f"{key}={_array_text(value)}")
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts)


def _array_text(array: np.ndarray) -> str:
    values = np.array2string(np.asarray(array), threshold=200, separator=", ").replace("\n", "")
    return f"np.array({values}, dtype={np.asarray(array).dtype})"


class Recorder:
    """Remembers the current check's input and saves it when the check fails."""

    def __init__(
        self, directory: "Path | None", property_id: str, test_name: str, target: str, label: "str | None" = None
    ) -> None:
        self.directory = directory
        self.label = label
        self.property_id = property_id
        self.test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:80]
        self.target = target
        self.saved: "Path | None" = None

    def __repr__(self) -> str:
        return f"Recorder({self.property_id!r})"

    @property
    def path(self) -> "Path | None":
        if self.directory is None:
            return None
        return self.directory / f"{self.property_id}--{self.test_name}.npz"

    @contextmanager
    def case(self, kind: str = "layer", **inputs: Any) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            if type(exc).__name__ in ("AssertionError", "CodeUnderTestError"):
                _add_note(exc, "input of the failing check: " + describe_inputs(inputs))
            path = self.path
            if path is not None and type(exc).__name__ in ("AssertionError", "CodeUnderTestError"):
                arrays = {k: inputs.pop(k) for k in ("weights", "layers") if k in inputs}
                scalars = {k: v for k, v in inputs.items() if k in _SCALARS}
                try:
                    self.saved = save_counterexample(
                        path,
                        property_id=self.property_id,
                        kind=kind,
                        target=self.target,
                        message=str(exc),
                        **arrays,
                        **scalars,
                    )
                    where = f"{self.label}/{path.name}" if self.label else str(path)
                    _add_note(
                        exc,
                        f"minimal example saved to {where} "
                        f"(replay: mbp-verify check-pruner {self.target} --replay {where})",
                    )
                except OSError:
                    pass
            raise


def _add_note(exc: BaseException, note: str) -> None:
    """`exc.add_note(note)` (Python >= 3.11), or the same `__notes__` list on Python 3.10, where
    the suite's plugin reads it (an AttributeError here would replace the real failure)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        notes = getattr(exc, "__notes__", None)
        if not isinstance(notes, list):
            notes = []
            exc.__notes__ = notes  # type: ignore[attr-defined]
        notes.append(note)


@dataclass(frozen=True)
class ReplayResult:
    counterexample: Counterexample
    masks: tuple[np.ndarray, ...]
    problems: tuple[str, ...]
    error: str = ""

    @property
    def reproduced(self) -> bool:
        return bool(self.problems or self.error)

    def to_text(self) -> str:
        lines = [f"replaying {self.counterexample.describe()}"]
        if self.error:
            lines.append(f"the pruner raised: {self.error}")
        for i, mask in enumerate(self.masks):
            lines.append(
                f"returned mask{f' {i}' if len(self.masks) > 1 else ''} (flat, 1 = kept): {_render_answer(mask)}"
            )
        lines += [f"problem: {p}" for p in self.problems] or [
            "generic mask checks pass on this input (the failed property compared several calls)"
        ]
        return "\n".join(lines)


def _render_answer(mask: Any) -> str:
    """The returned answer, flat: bool as 0/1, numbers as they are, anything else named (never cast)."""
    array = np.asarray(mask)
    if array.dtype == bool:
        array = array.astype(np.int8)
    elif not np.issubdtype(array.dtype, np.number):
        return f"not a mask: an array of dtype {array.dtype} and shape {array.shape}"
    return np.array2string(array.ravel(), threshold=60)


def replay(example: Counterexample, pruner: Any) -> ReplayResult:
    """Run `pruner` (a PrunerUnderTest) on the saved input and apply the generic mask checks."""
    from ..errors import CodeUnderTestError

    values = example.values
    try:
        if example.kind == "global":
            masks = tuple(pruner.prune_global(list(example.layers), values["total"]))
            pairs = list(zip(example.layers, masks))
            expected = pruner.rules.expected_pruned(values["total"], sum(a.size for a in example.layers))
        else:
            assert example.weights is not None
            if example.kind == "fraction":
                mask = pruner.prune_fraction(example.weights, values["fraction"])
            elif example.kind == "reprune":
                mask = pruner.reprune(example.weights, values["first"], values["second"])
            else:
                mask = pruner.prune(example.weights, values.get("n_prune", 0))
            masks, pairs = (mask,), [(example.weights, mask)]
            expected = (
                pruner.rules.expected_pruned(values["n_prune"], example.weights.size) if "n_prune" in values else None
            )
    except CodeUnderTestError as exc:
        return ReplayResult(example, (), (), str(exc))
    problems: list[str] = []
    total = 0
    for weights, mask in pairs:
        for check in (lambda: keep_mask(mask, weights), lambda: assert_binary(mask)):
            try:
                check()
            except AssertionError as exc:
                problems.append(str(exc))
        if not problems:
            keep = np.asarray(mask).astype(bool)
            total += pruned_count(keep)
            if pruner.rules.ranking == "magnitude" and example.kind != "global":
                try:
                    assert_magnitude_order(weights, keep)
                except AssertionError as exc:
                    problems.append(str(exc))
    if not problems and expected is not None and total != expected:
        problems.append(f"pruned {total} entries, expected exactly {expected}")
    return ReplayResult(example, masks, tuple(problems))
