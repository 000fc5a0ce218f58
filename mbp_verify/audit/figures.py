"""Plots of the audit: per layer the histogram against the uniform density, a QQ plot against the
uniform, and the spectrum against the iid prediction; across layers, how far training moved them.

Drawn with `mbp_verify.reports.figures` (Agg, atomic PNG writes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..reports.figures import new_figure, save_figure
from .layer_audit import LayerAudit
from .movement import LayerMovement
from .spectrum import mp_density, mp_edges

__all__ = ["layer_figure_name", "plot_layer", "plot_movement"]

_QQ_POINTS = 2000


def layer_figure_name(index: int, name: str) -> str:
    """`layer01-fc1.weight.png`: a file name that sorts in layer order and keeps the layer's name readable."""
    return f"layer{index + 1:02d}-{re.sub(r'[^A-Za-z0-9._-]+', '_', name)[:60]}.png"


def plot_layer(matrix: np.ndarray, audit: LayerAudit, path: "str | Path") -> Path:
    """Three panels: histogram vs U[-a, a], QQ plot vs U[-a, a], normalised eigenvalues vs Marchenko–Pastur."""
    w = np.asarray(matrix, dtype=np.float64).ravel()
    a = audit.scale.half_width
    figure, (hist, qq, spec) = new_figure(3, 1, width=4.6, height=3.8)
    figure.suptitle(f"{audit.name} {audit.shape}: (iii) {audit.status}")

    hist.hist(w, bins=min(100, max(10, int(np.sqrt(w.size)))), density=True, color="#8aa4c8", label="weights")
    hist.plot([-a, -a, a, a], [0, 1 / (2 * a), 1 / (2 * a), 0], color="#c0392b", label=f"U[-a, a], a = {a:.3g}")
    sd = float(np.std(w))
    grid = np.linspace(min(w.min(), -a), max(w.max(), a), 400)
    hist.plot(
        grid,
        np.exp(-0.5 * (grid / sd) ** 2) / (sd * np.sqrt(2 * np.pi)),
        "--",
        color="#555555",
        lw=1,
        label="Gaussian, same variance",
    )
    hist.set(
        xlabel="w", ylabel="density", title=f"kurtosis {audit.test('kurtosis').effect['kurtosis']:.3g} (uniform 1.8)"
    )
    hist.legend(fontsize=7)

    order = np.sort(w)
    picks = np.unique(np.linspace(0, w.size - 1, min(w.size, _QQ_POINTS)).astype(int))
    theoretical = a * (2 * (picks + 0.5) / w.size - 1)
    qq.plot(theoretical, order[picks], ".", ms=2, color="#2c3e50")
    qq.plot([-a, a], [-a, a], color="#c0392b", lw=1)
    qq.set(
        xlabel="U[-a, a] quantile",
        ylabel="sorted weights",
        title=f"p(uniform |w|) = {audit.test('uniform_magnitudes').pvalue:.2g}",
    )

    lam = audit.spectrum.eigenvalues
    y = audit.spectrum.ratio
    low, high = mp_edges(y)
    heights, _, _ = spec.hist(
        lam, bins=min(80, max(10, lam.size // 4)), density=True, color="#8aa4c8", label="sigma_i^2 d_min / ||W||_F^2"
    )
    xs = np.linspace(low + (high - low) * 1e-3, high, 400)
    density = mp_density(xs, y)
    spec.plot(xs, density, color="#c0392b", label=f"Marchenko-Pastur, y = {y:.3g}")
    spec.set_ylim(0, 1.2 * max(float(np.max(heights)), float(np.median(density)) * 2))  # MP diverges at 0 when y = 1
    spec.axvline(high, color="#c0392b", ls=":", lw=1)
    spec.set(
        xlabel="normalised eigenvalue",
        ylabel="density",
        title=f"sigma_1 = {audit.spectrum.top:.3g}, iid prediction {audit.iid_top_prediction:.3g}",
    )
    spec.legend(fontsize=7)
    return save_figure(figure, path)


def plot_movement(movement: Sequence[LayerMovement], path: "str | Path") -> Path:
    """Relative Frobenius and spectral change per layer (1 = moved as far as the init's own norm)."""
    figure, axes = new_figure(1, 1, width=max(5.0, 0.9 * len(movement) + 2), height=3.6)
    x = np.arange(len(movement))
    axes.bar(x - 0.2, [m.relative_frobenius for m in movement], 0.4, label="||W - W0||_F / ||W0||_F", color="#8aa4c8")
    axes.bar(x + 0.2, [m.relative_spectral for m in movement], 0.4, label="||W - W0||_2 / ||W0||_2", color="#c0392b")
    axes.set_xticks(x, [m.name for m in movement], rotation=30, ha="right", fontsize=8)
    axes.axhline(1.0, color="#555555", lw=1, ls=":")
    axes.set(ylabel="relative change", title="how far training moved each layer from its initialisation")
    axes.legend(fontsize=8)
    return save_figure(figure, path)
