"""Regression baselines: a pruner's masks on a fixed, seeded corpus, recorded and compared.

`record_baseline` runs the pruner on a corpus of named cases (ties, a large tie group,
exact and signed zeros, NaN, +-inf, float16 near 65504 and near the subnormals where
squaring overflows or underflows, one-ulp neighbours, square and rectangular matrices, 4-D
conv kernels, transposed views, D = 1, n = 0 and D, and a global case for global pruners)
and stores each outcome (the packed mask and its count, or the exception type) in a
readable JSON file, with the versions of the libraries involved: the target's own
distribution and every library its adapter names (`libraries`).
`compare_baseline` re-runs the same corpus and lists what changed, case by case, with the
flipped flat indices and their weights: a behaviour change between library versions shows
up as a readable diff (and `check-pruner --baseline` exits 1).

A corpus case on which the pruner gave no mask (`corpus_problems`: it did not return, raised
where its declared rules allow no raise, or returned something that is not a 0/1 mask of the
weights' shape) is a `Problem`: a recording or a comparison that holds one is not a pass, even
when nothing changed (a pruner that crashes on every case is "unchanged" forever).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .._environment import distribution_versions, package_versions
from ..errors import CodeUnderTestError, InputError
from ..reports.atomic import atomic_write_json
from ..seeding import rng_for
from .checks import assert_binary, keep_mask
from .harness import PrunerUnderTest
from .rules import PrunerRules

__all__ = [
    "CORPUS_VERSION",
    "baseline_corpus",
    "record_baseline",
    "load_baseline",
    "compare_baseline",
    "BaselineDiff",
    "library_versions",
    "run_corpus",
    "Problem",
    "corpus_problems",
    "problems_text",
]

CORPUS_VERSION = 2
SCHEMA = "mbp-verify/pruner-baseline"


def baseline_corpus(seed: int) -> list[tuple[str, list[np.ndarray], int]]:
    """Named cases `(name, layers, n_prune)`; one layer except for the global case."""
    rng = lambda i: rng_for(seed, "baseline.corpus", i)  # noqa: E731
    tied = np.array([1, 1, 1, 1, 2, 3, 4, 5, 6, 7], dtype=np.float32)
    one_ulp = np.nextafter(np.float32(1), np.float32(2)) * np.ones(6, np.float32)
    one_ulp[::2] = 1
    cases: list[tuple[str, list[np.ndarray], int]] = [
        ("ties_n2", [tied], 2),
        ("ties_n5", [-tied], 5),
        ("tie_group_64_n1", [np.ones(64, np.float32)], 1),
        ("tie_group_64_n2", [np.ones(64, np.float32)], 2),
        ("signed_zeros", [np.array([0.0, -0.0, 1.0, -1.0, 0.0, 2.0, -0.0])], 3),
        ("one_ulp_apart", [one_ulp], 3),
        ("nan_n2", [np.array([np.nan, 1.0, 3.0, 2.0, np.nan], np.float32)], 2),
        ("nan_all", [np.array([np.nan, 1.0, 3.0, 2.0, np.nan], np.float32)], 5),
        ("inf_n3", [np.array([np.inf, -np.inf, 1.0, -2.0, 0.5])], 3),
        ("gaussian_2d", [rng(0).standard_normal((8, 16))], 37),
        ("float16_conv", [rng(1).standard_normal((4, 3, 3, 3)).astype(np.float16)], 50),
        ("float16_squares_overflow", [np.array([0, 261, 260, 259, 258, 257, 256], np.float16)], 2),
        ("float16_squares_overflow_ascending", [np.array([0, 256, 257, 258, 259, 260, 261], np.float16)], 2),
        ("float16_squares_underflow", [np.array([2e-4, 1e-4, 6e-8, 1.0, 3e-5, 1.2e-7], np.float16)], 3),
        ("float16_near_max", [np.array([65504, -60000, 1000, 384, -256, 1], np.float16)], 3),
        (
            "square_matrix",
            [(np.arange(1, 17, dtype=np.float32).reshape(4, 4) * np.float32(-1) ** np.arange(16).reshape(4, 4))],
            6,
        ),
        ("conv_kernel", [rng(7).standard_normal((8, 4, 3, 3)).astype(np.float32)], 100),
        ("float16_large", [rng(2).uniform(-1, 1, 4096).astype(np.float16)], 3000),
        ("odd_shape", [rng(3).standard_normal((7, 1, 3)).astype(np.float32)], 10),
        ("transposed_view", [np.ascontiguousarray(rng(4).standard_normal((6, 5))).T], 11),
        ("single_n0", [np.array([5.0])], 0),
        ("single_n1", [np.array([5.0])], 1),
        ("all_n0", [rng(5).standard_normal(9)], 0),
        ("all_nD", [rng(6).standard_normal(9)], 9),
    ]
    return cases


def _global_case(seed: int) -> tuple[str, list[np.ndarray], int]:
    gen = rng_for(seed, "baseline.corpus", 99)
    layers = [gen.standard_normal((4, 6)), 0.01 * gen.standard_normal(5), np.ones((2, 2), np.float32)]
    return "global_three_layers", layers, 14


def _digest(layers: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for layer in layers:
        h.update(str(layer.dtype).encode() + str(layer.shape).encode() + np.ascontiguousarray(layer).tobytes())
    return h.hexdigest()[:16]


def _mask_problem(masks: list[Any], layers: list[np.ndarray]) -> "str | None":
    """Why `masks` are not masks of `layers` (shape, dtype, values other than 0/1), or None."""
    if len(masks) != len(layers):
        return f"returned {len(masks)} masks for {len(layers)} layers"
    try:
        for mask, layer in zip(masks, layers):
            keep_mask(mask, layer)
            assert_binary(mask)
    except AssertionError as exc:
        return str(exc)
    return None


def _truthy(mask: Any) -> np.ndarray:
    """The answer's entries as booleans; an array numpy cannot cast (a structured dtype) by its bytes,
    and an object array whose entries have no truth value (arrays, None) entry by entry, so that a
    recording still notices when such an answer changes."""
    array = np.asarray(mask)
    try:
        return array.astype(bool)
    except (TypeError, ValueError):
        pass
    if array.dtype.hasobject:
        return np.array([_entry_truth(v) for v in array.ravel()], dtype=bool).reshape(array.shape)
    return np.ascontiguousarray(array).view(np.uint8) != 0


def _entry_truth(value: Any) -> bool:
    """bool(value), or for a value without one (an array of several entries) whether it has any entry."""
    try:
        return bool(value)
    except (TypeError, ValueError):
        return bool(np.size(value))


def _outcome(call: Callable[[], Any], layers: list[np.ndarray]) -> dict[str, Any]:
    """`outcome` "mask" (with `invalid` when the answer is not a mask of the layers' shapes and 0/1
    values) or "raised" (with `returned: false` when the call never returned: a crash, an exit, a
    BaseException or the time limit)."""
    try:
        masks = call()
    except CodeUnderTestError as exc:
        cause = exc.__cause__
        if cause is None:
            return {"outcome": "raised", "error": str(exc)[:80], "returned": False}
        return {"outcome": "raised", "error": type(cause).__name__}
    problem = _mask_problem(masks, layers)
    bits = [_truthy(m) for m in masks]
    flat = np.concatenate([b.ravel() for b in bits]) if bits else np.zeros(0, bool)
    entry = {
        "outcome": "mask",
        "pruned": int(flat.size - np.count_nonzero(flat)),
        "mask_shapes": [list(b.shape) for b in bits],
        "bits": np.packbits(flat).tobytes().hex(),
    }
    return entry if problem is None else {**entry, "invalid": problem}


def run_corpus(pruner: PrunerUnderTest, seed: int, *, include_global: bool = True) -> list[dict[str, Any]]:
    """Each corpus case's outcome: the packed mask and its count, or the exception type."""
    entries = []
    for name, layers, n in baseline_corpus(seed):
        entry = {
            "name": name,
            "dtype": str(layers[0].dtype),
            "shape": list(layers[0].shape),
            "n_prune": n,
            "weights_sha256": _digest(layers),
        }
        entry.update(_outcome(lambda: [pruner.prune(layers[0], n)], layers))
        entries.append(entry)
    if include_global and pruner.has("prune_global"):
        name, layers, n = _global_case(seed)
        entry = {
            "name": name,
            "dtype": "mixed",
            "shape": [list(a.shape) for a in layers],
            "n_prune": n,
            "weights_sha256": _digest(layers),
        }
        entry.update(_outcome(lambda: pruner.prune_global(layers, n), layers))
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class Problem:
    """A corpus case on which `target` gave no mask that can be compared (`status` error or fail)."""

    target: str
    case: str
    status: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _problem(target: str, entry: dict[str, Any], rules: PrunerRules, layers: list[np.ndarray]) -> "Problem | None":
    """The problem of one corpus outcome (a `run_corpus` entry), or None when it can be compared."""
    name, n = entry["name"], entry["n_prune"]
    if entry["outcome"] == "raised":
        if entry.get("returned") is False:
            return Problem(target, name, "error", f"did not return on n_prune={n}: {entry['error']}")
        has_nan = any(np.isnan(np.asarray(layer, dtype=np.float64)).any() for layer in layers)
        if has_nan and rules.nan in ("raise", "raise_or_largest"):
            return None  # the declared NaN policy: an outcome like a mask
        allowed = "NaN input only" if rules.nan in ("raise", "raise_or_largest") else f"no input (nan={rules.nan})"
        return Problem(
            target, name, "error", f"raised {entry['error']} on n_prune={n}; its rules allow a raise on {allowed}"
        )
    if "invalid" in entry:
        return Problem(target, name, "fail", f"returned no valid mask on n_prune={n}: {entry['invalid']}")
    return None


def corpus_problems(target: str, entries: list[dict[str, Any]], rules: PrunerRules, seed: int) -> tuple[Problem, ...]:
    """Every `run_corpus` entry (recorded with `seed`) on which the pruner gave no comparable mask."""
    layers = {name: case_layers for name, case_layers, _ in baseline_corpus(seed)}
    layers[_global_case(seed)[0]] = _global_case(seed)[1]
    found = (_problem(target, entry, rules, layers[entry["name"]]) for entry in entries)
    return tuple(problem for problem in found if problem is not None)


def library_versions(pruner: PrunerUnderTest) -> dict[str, str]:
    """Versions of the target's top-level distribution and of every library its adapter names."""
    names: list[str] = []
    top = pruner.spec.split(":", 1)[0].split(".", 1)[0]
    names += metadata.packages_distributions().get(top, [])
    names += list(getattr(pruner.adapter, "libraries", ()) or ())
    return distribution_versions(names, missing="not installed")


def record_baseline(pruner: PrunerUnderTest, path: "str | Path", *, seed: int) -> dict[str, Any]:
    """Run the corpus and write the baseline file; returns the document."""
    from .. import __version__

    document = {
        "schema": SCHEMA,
        "schema_version": 1,
        "corpus_version": CORPUS_VERSION,
        "seed": seed,
        "target": pruner.spec,
        "rules": pruner.rules.to_dict(),
        "mbp_verify_version": __version__,
        "versions": package_versions(),
        "libraries": library_versions(pruner),
        "cases": run_corpus(pruner, seed),
    }
    try:
        atomic_write_json(path, document)
    except OSError as exc:
        raise InputError(f"cannot write baseline {str(path)!r}: {exc.strerror or exc}") from None
    return document


def load_baseline(path: "str | Path") -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"baseline file {str(path)!r} does not exist (record one with --record-baseline)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"baseline file {str(path)!r} is not readable JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise InputError(f"{str(path)!r} is not an mbp-verify pruner baseline (schema {SCHEMA})")
    if not isinstance(document.get("cases"), list):
        raise InputError(f"baseline {str(path)!r} has no list of cases")
    if not _is_count(document.get("seed")):
        raise InputError(f"baseline {str(path)!r}: seed {document.get('seed')!r} is not a non-negative integer")
    problem = _document_problem(document)
    if problem is not None:
        raise InputError(f"baseline {str(path)!r} is malformed: {problem} (record it again with --record-baseline)")
    return document


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _document_problem(document: dict[str, Any]) -> "str | None":
    """What in a baseline document the comparison could not read (a hand-edited file), or None."""
    if not _is_count(document.get("corpus_version", 0)):
        return f"corpus_version {document.get('corpus_version')!r} is not a version number"
    for key in ("versions", "libraries"):
        if not isinstance(document.get(key, {}), dict):
            return f"{key} is not a JSON object"
    if document.get("corpus_version") != CORPUS_VERSION:
        return None  # another corpus: compare_baseline says so and compares no case
    for i, case in enumerate(document["cases"]):
        problem = _case_problem(case)
        if problem is not None:
            return f"case {i}: {problem}"
    return None


def _case_problem(case: Any) -> "str | None":
    if not isinstance(case, dict):
        return f"a JSON {type(case).__name__}, not an object"
    for key in ("name", "weights_sha256"):
        if not isinstance(case.get(key), str):
            return f"no {key}"
    if case.get("outcome") == "raised":
        return None if isinstance(case.get("error"), str) else "raised, but no error type"
    if case.get("outcome") != "mask":
        return f"outcome {case.get('outcome')!r} is neither 'mask' nor 'raised'"
    shapes = case.get("mask_shapes")
    if not isinstance(shapes, list) or not all(
        isinstance(shape, list) and all(_is_count(d) for d in shape) for shape in shapes
    ):
        return "mask_shapes is not a list of shapes"
    if not _is_count(case.get("pruned")) or not isinstance(case.get("bits"), str):
        return "a mask without its pruned count or bits"
    try:
        packed = bytes.fromhex(case["bits"])
    except ValueError:
        return "bits is not hexadecimal"
    if len(packed) != (sum(int(np.prod(shape)) for shape in shapes) + 7) // 8:
        return "bits do not hold one bit per mask entry"
    return None


@dataclass(frozen=True)
class BaselineDiff:
    """Case-by-case differences between a recorded baseline and the current behaviour."""

    recorded_versions: dict[str, str]
    changes: tuple[str, ...]
    cases: int
    recorded_libraries: dict[str, str] = field(default_factory=dict)
    current_libraries: dict[str, str] = field(default_factory=dict)
    recorded_corpus: int = CORPUS_VERSION
    problems: tuple[Problem, ...] = ()

    @property
    def comparable(self) -> bool:
        return self.recorded_corpus == CORPUS_VERSION

    @property
    def changed(self) -> bool:
        """A behaviour change, or a recording this corpus cannot be compared with (no pass without a comparison)."""
        return bool(self.changes) or not self.comparable

    @property
    def passed(self) -> bool:
        """Unchanged, and the pruner gave a comparable mask on every case now (an unchanged crash is no pass)."""
        return not self.changed and not self.problems

    def _versions_text(self) -> str:
        names = dict.fromkeys([*self.recorded_libraries, *self.current_libraries])
        parts = []
        for name in names:
            old, new = self.recorded_libraries.get(name, "?"), self.current_libraries.get(name, "?")
            parts.append(f"{name} {old}" if old == new else f"{name} {old} -> {new}")
        for name in ("torch", "numpy", "mbp-verify"):
            if name in self.recorded_versions and name not in names:
                parts.append(f"{name} {self.recorded_versions[name]}")
        return ", ".join(parts)

    def to_text(self) -> str:
        if not self.comparable:
            return (
                f"baseline: recorded with corpus version {self.recorded_corpus}, this mbp-verify uses corpus "
                f"version {CORPUS_VERSION}: the cases differ, so behaviour was not compared; record the baseline "
                "again (--record-baseline)"
            )
        versions = self._versions_text()
        if not self.changes:
            lines = [f"baseline: all {self.cases} corpus cases unchanged (libraries: {versions})"]
        else:
            lines = [
                f"baseline: {len(self.changes)} of {self.cases} corpus cases changed behaviour (libraries: {versions})"
            ]
            lines += [f"  {c}" for c in self.changes]
        if self.problems:
            lines.append(problems_text(self.problems, self.cases))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "comparable": self.comparable,
            "cases": self.cases,
            "changes": list(self.changes),
            "recorded_corpus_version": self.recorded_corpus,
            "corpus_version": CORPUS_VERSION,
            "recorded_libraries": self.recorded_libraries,
            "current_libraries": self.current_libraries,
            "problems": [p.to_dict() for p in self.problems],
            "passed": self.passed,
        }


def problems_text(problems: "tuple[Problem, ...]", cases: int) -> str:
    """One paragraph: on how many corpus cases the pruner gave no mask, and why, case by case."""
    status = "error" if any(p.status == "error" for p in problems) else "fail"
    lines = [
        f"baseline: {status}: the pruner gave no valid mask on {len(problems)} of {cases} corpus cases, "
        "so this is not a pass:"
    ]
    return "\n".join(lines + [f"  {p.case} ({p.status}): {p.message}" for p in problems])


def _flipped(old_hex: str, new_hex: str, size: int) -> np.ndarray:
    old = np.unpackbits(np.frombuffer(bytes.fromhex(old_hex), np.uint8))[:size]
    new = np.unpackbits(np.frombuffer(bytes.fromhex(new_hex), np.uint8))[:size]
    return np.flatnonzero(old != new)


def compare_baseline(pruner: PrunerUnderTest, document: dict[str, Any]) -> BaselineDiff:
    """Re-run the recorded corpus and describe every difference (nothing when the corpus version differs)."""
    libraries = dict(document.get("libraries", {}))
    if document.get("corpus_version") != CORPUS_VERSION:
        return BaselineDiff(
            document.get("versions", {}),
            (),
            len(document["cases"]),
            libraries,
            library_versions(pruner),
            int(document.get("corpus_version") or 0),
        )
    seed = int(document["seed"])
    current = {e["name"]: e for e in run_corpus(pruner, seed)}
    layers_by_name = {name: layers for name, layers, _ in baseline_corpus(seed)}
    changes: list[str] = []
    for old in document["cases"]:
        name = old["name"]
        new = current.get(name)
        if new is None:
            changes.append(f"{name}: recorded but not run now (global scope changed?)")
            continue
        if new["weights_sha256"] != old["weights_sha256"]:
            changes.append(f"{name}: the corpus weights differ from the recording (numpy RNG changed); re-record")
            continue
        if old["outcome"] != new["outcome"]:
            was = f"raised {old.get('error')}" if old["outcome"] == "raised" else f"a mask pruning {old['pruned']}"
            now = f"raises {new.get('error')}" if new["outcome"] == "raised" else f"a mask pruning {new['pruned']}"
            changes.append(f"{name} (n_prune={old['n_prune']}): was {was}, now {now}")
        elif old["outcome"] == "raised" and old.get("error") != new.get("error"):
            changes.append(f"{name}: raised {old.get('error')}, now raises {new.get('error')}")
        elif old["outcome"] == "mask" and (old["bits"] != new["bits"] or old["mask_shapes"] != new["mask_shapes"]):
            size = sum(int(np.prod(s)) for s in new["mask_shapes"])
            flips = _flipped(old["bits"], new["bits"], size)
            weights = (
                np.concatenate([a.ravel() for a in layers_by_name.get(name, [])]) if name in layers_by_name else None
            )
            now_kept = np.unpackbits(np.frombuffer(bytes.fromhex(new["bits"]), np.uint8))[:size].astype(bool)
            detail = ", ".join(
                f"[{i}]"
                + (f" w={float(weights[i])!r}" if weights is not None and i < weights.size else "")
                + (" now kept" if now_kept[i] else " now pruned")
                for i in flips[:6]
            )
            changes.append(
                f"{name} ({old['dtype']}{old['shape']}, n_prune={old['n_prune']}): pruned {old['pruned']} -> "
                f"{new['pruned']}; "
                f"{flips.size} entries flipped at flat indices {detail}{' ...' if flips.size > 6 else ''}"
            )
    for name in current.keys() - {e["name"] for e in document["cases"]}:
        changes.append(f"{name}: new case not in the recording")
    return BaselineDiff(
        document.get("versions", {}),
        tuple(changes),
        len(document["cases"]),
        libraries,
        library_versions(pruner),
        problems=corpus_problems(pruner.spec, list(current.values()), pruner.rules, seed),
    )
