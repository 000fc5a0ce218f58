"""The assumption audit of a weight file: every hypothesis of Theorem 1, per layer and per chain.

`audit_weights(path, ...)` reads the file, selects and orients the matrices, and reports:
(i) per layer from the symbolic registry; (ii) on the chain, naming the layer that breaks it;
(iii) per layer, a Holm-corrected family of exact and Monte Carlo tests; the common K across
layers (Hogg's exact test); optionally the cost of the violations at Theorem 1's count
(`consequences`) and how far each layer moved from an initial weight file (`compare`).
Findings are findings: the audit itself never fails because a hypothesis is rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import load_conv_network
from ..errors import InputError
from ..reports.atomic import json_ready
from ..seeding import DEFAULT_ROOT_SEED
from .consequences import ChainConsequences, chain_consequences
from .conv_operator import ConvGeometryHint, ConvOperatorAudit, audit_conv_operator, geometry_hints
from .hypotheses import HypothesisVerdict, Status, activation_verdicts, parse_activations, width_verdict
from .layer_audit import DEFAULT_LEVEL, LayerAudit, audit_layer, default_draws
from .marginal import common_scale_test
from .movement import LayerMovement, compare_selections
from .rounding import top_cell
from .selection import LayerSelection, Layout, select_layers
from .testresult import AuditTestResult
from .weight_files import WeightFile, load_weight_file

__all__ = ["HYPOTHESES", "AuditReport", "audit_selection", "audit_weights"]

HYPOTHESES = ("i", "ii", "iii", "common_K")
_MANTISSA_BITS = {"float16": 10, "bfloat16": 7}
Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class AuditReport:
    """Everything the audit found for one weight file (and, with `compare`, its initial weights)."""

    source: str
    format: str
    selection: LayerSelection
    notes: tuple[str, ...]
    activations: tuple[str, ...]
    layers: tuple[LayerAudit, ...]
    activation_verdicts: tuple[HypothesisVerdict, ...]
    width: HypothesisVerdict
    common_K: "AuditTestResult | None"
    seed: int
    consequences: "ChainConsequences | None" = None
    movement: "tuple[LayerMovement, ...] | None" = None
    initial: "AuditReport | None" = None
    skipped_consequences: "str | None" = None
    conv_operators: tuple[ConvOperatorAudit, ...] = ()

    @property
    def level(self) -> float:
        return self.layers[0].level

    @property
    def common_K_status(self) -> Status:
        if self.common_K is None:
            return "not_applicable"
        return "rejected" if self.common_K.pvalue <= self.level else "consistent"

    def layer_status(self, index: int) -> dict[str, Status]:
        """Status of (i), (ii) and (iii) for layer `index`."""
        return {"i": self.activation_verdicts[index].status, "ii": self.width.status, "iii": self.layers[index].status}

    def rejected(self, hypothesis: str) -> bool:
        """Whether `hypothesis` ("i", "ii", "iii" or "common_K") is rejected anywhere in the file."""
        if hypothesis == "i":
            return any(v.rejected for v in self.activation_verdicts)
        if hypothesis == "ii":
            return self.width.rejected
        if hypothesis == "iii":
            return any(layer.status == "rejected" for layer in self.layers)
        if hypothesis == "common_K":
            return self.common_K_status == "rejected"
        raise InputError(f"unknown hypothesis {hypothesis!r}; use one of {', '.join(HYPOTHESES)}")

    def to_dict(self) -> dict[str, Any]:
        layers = []
        for index, (layer, audit) in enumerate(zip(self.selection.layers, self.layers)):
            breaks = layer.name in self.width.evidence.get("breaking_layers", [])
            layers.append(
                {
                    **layer.to_dict(),
                    "assumptions": {
                        "i": self.activation_verdicts[index].to_dict(),
                        "ii": {"status": self.width.status, "breaks_it": breaks},
                        "iii": audit.to_dict(),
                    },
                    "scale": audit.scale.to_dict(),
                    "spectrum": audit.spectrum_dict(),
                }
            )
        common = (
            None
            if self.common_K is None
            else {**self.common_K.to_dict(), "status": self.common_K_status, "level": self.level}
        )
        return json_ready(
            {
                "source": self.source,
                "format": self.format,
                "seed": self.seed,
                "level": self.level,
                "draws": self.layers[0].draws,
                "notes": list(self.notes),
                "activations": list(self.activations),
                "selection": self.selection.to_dict(),
                "layers": layers,
                "chain": {
                    "chains": self.selection.chains,
                    "widths": list(self.selection.widths) if self.selection.chains else None,
                    "ii": self.width.to_dict(),
                    "common_K": common,
                },
                "rejected": {h: self.rejected(h) for h in HYPOTHESES},
                "consequences": None if self.consequences is None else self.consequences.to_dict(),
                "consequences_skipped": self.skipped_consequences,
                "movement": None if self.movement is None else [m.to_dict() for m in self.movement],
                "initial": None if self.initial is None else self.initial.to_dict(),
                "conv_operators": [a.to_dict() for a in self.conv_operators],
            }
        )


def audit_selection(
    selection: LayerSelection,
    *,
    activation: "str | Sequence[str]" = "relu",
    alpha: "float | None" = 0.3,
    seed: int = DEFAULT_ROOT_SEED,
    level: float = DEFAULT_LEVEL,
    draws: "int | None" = None,
    effort: str = "default",
    source: str = "<arrays>",
    format: str = "arrays",
    notes: Sequence[str] = (),
    progress: "Progress | None" = None,
    conv_geometries: "dict[str, ConvGeometryHint] | None" = None,
) -> AuditReport:
    """Audit already selected layers; `alpha=None` skips the consequences. Conv kernels are also
    audited as operators on `conv_geometries` (by layer name; default: `geometry_hints`)."""
    say = progress or (lambda message: None)
    if seed < 0:
        raise InputError(f"seed must be non-negative, got {seed}")
    draws = default_draws(level) if draws is None else draws
    names = [layer.name for layer in selection.layers]
    activations = parse_activations(activation, len(names) - 1)
    verdicts_i = activation_verdicts(activations, names)
    width = (
        width_verdict(selection.widths, names)
        if selection.chains
        else HypothesisVerdict("ii", "not_applicable", f"the layers do not chain: {selection.chain_break}")
    )
    audits = []
    for index, layer in enumerate(selection.layers):
        say(f"audit: (iii) on {layer.name} {layer.shape} ({index + 1}/{len(names)}, {draws} Monte Carlo draws)")
        audits.append(
            audit_layer(
                layer.matrix, name=layer.name, seed=seed, level=level, draws=draws, stored_dtype=layer.stored_dtype
            )
        )
    hints = geometry_hints(selection.layers) if conv_geometries is None else conv_geometries
    operators = []
    for layer in selection.layers:
        hint = hints.get(layer.name)
        if hint is not None:
            say(f"audit: {layer.name} as a conv operator on {'x'.join(map(str, hint.input_shape))}")
            kernel = layer.matrix.reshape(layer.stored_shape)
            operators.append(
                audit_conv_operator(
                    kernel,
                    hint.input_shape,
                    hint.stride,
                    hint.padding,
                    name=layer.name,
                    assumed=hint.assumed,
                    seed=seed,
                )
            )
    tied = _tied_layers(selection)
    distinct = [layer for index, layer in enumerate(selection.layers) if index not in tied]
    common = (
        common_scale_test(
            [layer.matrix for layer in distinct], [top_cell(layer.matrix, layer.stored_dtype) for layer in distinct]
        )
        if len(distinct) > 1
        else None
    )
    notes = list(notes) + [
        f"{selection.layers[index].name} holds the same values as {selection.layers[first].name} (tied weights): "
        "one draw of random numbers, so it is counted once in the common-K test (which assumes independent "
        "layers); tied layers are not independent, as Theorem 1's model assumes"
        for index, first in tied.items()
    ]
    consequences, skipped = None, None
    if alpha is None:
        skipped = "not requested"
    elif not selection.chains:
        skipped = f"the layers do not chain: {selection.chain_break}"
    else:
        say(
            f"audit: bracketing sup||f - F|| at alpha = {alpha:g} (real, iid-uniform surrogate, shuffled; effort "
            f"{effort})"
        )
        consequences = chain_consequences(selection.network(list(activations)), alpha, seed=seed, effort=effort)
    return AuditReport(
        source,
        format,
        selection,
        tuple(notes),
        activations,
        tuple(audits),
        verdicts_i,
        width,
        common,
        seed,
        consequences,
        skipped_consequences=skipped,
        conv_operators=tuple(operators),
    )


def audit_weights(
    path: "str | Path | WeightFile",
    *,
    layers: "str | None" = None,
    layout: Layout = "auto",
    activation: "str | Sequence[str]" = "relu",
    alpha: "float | None" = 0.3,
    compare: "str | Path | WeightFile | None" = None,
    seed: int = DEFAULT_ROOT_SEED,
    level: float = DEFAULT_LEVEL,
    draws: "int | None" = None,
    effort: str = "default",
    progress: "Progress | None" = None,
    conv_input: "tuple[int, int] | None" = None,
) -> AuditReport:
    """Audit a weight file (or an in-memory `WeightFile`); with `compare`, also its initial weights.

    Conv kernels are also audited as operators: on the geometry stored in a conv network file
    (`engine.convfile`), else on an assumed (c_in, *conv_input) input, stride 1, zero padding."""
    weights = path if isinstance(path, WeightFile) else load_weight_file(path)
    selection = select_layers(weights, layers, layout)
    hints = geometry_hints(selection.layers, _conv_network(path, weights, selection), conv_input)
    movement, initial_selection, initial_weights = None, None, None
    if compare is not None:  # read and match the initial file before the long work
        initial_weights = compare if isinstance(compare, WeightFile) else load_weight_file(compare)
        initial_selection = select_layers(initial_weights, layers, selection.layout)  # the orientation found above
        movement = compare_selections(selection, initial_selection)
    notes = list(weights.notes) + [f"{s.name} {s.shape}: skipped ({s.reason})" for s in selection.skipped]
    notes.append(f"layout: {selection.layout_note}")
    notes += [
        f"{layer.name} is stored as {layer.stored_dtype}: its values are rounded to a grid of relative spacing "
        f"2^-{_MANTISSA_BITS[layer.stored_dtype]}; the uniformity and common-K tests use the rounding cells, the "
        "kurtosis values redrawn within them, so the rounding is not mistaken for a violation"
        for layer in selection.layers
        if layer.stored_dtype in ("float16", "bfloat16")
    ]
    report = audit_selection(
        selection,
        activation=activation,
        alpha=alpha,
        seed=seed,
        level=level,
        draws=draws,
        effort=effort,
        source=weights.source,
        format=weights.format,
        notes=notes,
        progress=progress,
        conv_geometries=hints,
    )
    if initial_selection is None or initial_weights is None:
        return report
    initial = audit_selection(
        initial_selection,
        activation=activation,
        alpha=None,
        seed=seed,
        level=level,
        draws=draws,
        source=initial_weights.source,
        format=initial_weights.format,
        progress=progress,
        conv_geometries={},
    )
    return replace(report, movement=movement, initial=initial)


def _tied_layers(selection: LayerSelection) -> dict[int, int]:
    """Layer index -> the first earlier layer with identical values (tied or copied weights).

    Layers are grouped by a digest of their bytes first, so a file of many same-shaped layers
    costs one pass over each, not a comparison of every pair."""
    tied: dict[int, int] = {}
    seen: dict[tuple, list[int]] = {}
    for index, layer in enumerate(selection.layers):
        key = (layer.matrix.shape, hashlib.blake2b(np.ascontiguousarray(layer.matrix).data, digest_size=16).digest())
        firsts = seen.setdefault(key, [])
        match = next((f for f in firsts if np.array_equal(selection.layers[f].matrix, layer.matrix)), None)
        if match is None:
            firsts.append(index)
        else:
            tied[index] = match
    return tied


def _conv_network(path: "str | Path | WeightFile", weights: WeightFile, selection: LayerSelection) -> "Any":
    """The `ConvNetwork` of a conv network file whose every layer is audited in file order, else None."""
    if isinstance(path, WeightFile) or weights.format != "npz":
        return None
    try:
        network = load_conv_network(path)
    except InputError:
        return None  # no metadata (a dense or foreign .npz), or metadata that does not describe the arrays
    stored = [tuple(w.shape) for w in network.weights]
    return network if [tuple(layer.stored_shape) for layer in selection.layers] == stored else None
