"""Figures for run reports: matplotlib without a display, written atomically as PNG.

Every command that puts plots in its report folder goes through `new_figure` and
`save_figure`, so the backend choice (Agg: no screen is needed, CI has none) and the
atomic write live in one place.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from .atomic import atomic_write_bytes

__all__ = ["new_figure", "save_figure"]


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 4.2) -> tuple[Any, Any]:
    """A (figure, axes) pair drawn with the Agg backend, independent of pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, ncols, squeeze=True)
    return figure, axes


def save_figure(figure: Any, path: "str | Path", *, dpi: int = 110) -> Path:
    """Render `figure` to PNG and write it to `path` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())
