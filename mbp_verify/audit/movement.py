"""How far training moved each layer from its initialisation.

The paper's justification for hypothesis (iii) on trained networks is that trained weights stay
near their (iid uniform) initialisation. For each layer present in both files this measures
the relative Frobenius change ||W - W0||_F / ||W0||_F, the relative spectral change
||W - W0||_2 / ||W0||_2 (the norm the error propagation multiplies), and the spectral norm
ratio ||W||_2 / ||W0||_2. A change of order one means the layer is not "near" its init.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from .selection import LayerSelection

__all__ = ["LayerMovement", "layer_movement", "compare_selections"]


@dataclass(frozen=True)
class LayerMovement:
    """The change of one layer between two weight files (same name and shape)."""

    name: str
    shape: tuple[int, int]
    relative_frobenius: float
    relative_spectral: float
    spectral_ratio: float
    init_frobenius: float
    init_spectral: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "relative_frobenius": self.relative_frobenius,
            "relative_spectral": self.relative_spectral,
            "spectral_ratio": self.spectral_ratio,
            "init_frobenius": self.init_frobenius,
            "init_spectral": self.init_spectral,
        }


def layer_movement(name: str, trained: np.ndarray, init: np.ndarray) -> LayerMovement:
    """Relative Frobenius and spectral change of `trained` against `init` (same shape, init not zero)."""
    w, w0 = np.asarray(trained, dtype=np.float64), np.asarray(init, dtype=np.float64)
    if w.ndim != 2 or w.shape != w0.shape:
        raise InputError(f"{name}: trained shape {w.shape} and initial shape {w0.shape} differ")
    frob0, spec0 = float(np.linalg.norm(w0)), float(np.linalg.norm(w0, 2))
    if not frob0 > 0:
        raise InputError(f"{name}: the initial weights are all zero; relative change is undefined")
    delta = w - w0
    return LayerMovement(
        name,
        (int(w.shape[0]), int(w.shape[1])),
        float(np.linalg.norm(delta)) / frob0,
        float(np.linalg.norm(delta, 2)) / spec0,
        float(np.linalg.norm(w, 2)) / spec0,
        frob0,
        spec0,
    )


def compare_selections(trained: LayerSelection, init: LayerSelection) -> tuple[LayerMovement, ...]:
    """Match layers by name (every trained layer must be in the initial file, with its shape)."""
    initial = {layer.name: layer for layer in init.layers}
    missing = [layer.name for layer in trained.layers if layer.name not in initial]
    if missing:
        raise InputError(f"the initial weights lack {', '.join(missing)} (they hold {', '.join(initial) or 'nothing'})")
    return tuple(layer_movement(layer.name, layer.matrix, initial[layer.name].matrix) for layer in trained.layers)
