"""Conv kernels audited as operators: sigma_1 of the layer against shuffled copies of its kernel.

The (iii) family (`layer_audit`) tests a conv kernel's entries through its (out, in*kh*kw)
reshape, whose sigma_1 is not the norm of the operator the network applies (docs/cnn.md). This
module reports, beside it, for a kernel (c_out, c_in, kh, kw) acting on an input (c_in, H, W):

- `sigma_1`: the certified upper bound of the operator norm (`bounds.conv_norms`), exact for
  circular padding and stride 1, with the power-iteration lower estimate;
- an iid comparison by permutation: the statistic s(K) = sigma_1 of the stride-1 circular
  operator on the layer's grid (`conv_norms.circular_grid`: the image, or the image enlarged by
  the zero padding), computed from the DFT frequency matrices, for the kernel and for `draws`
  copies with its entries shuffled uniformly at random. Under (iii)'s exchangeability the rank
  of s(K) among them is uniform, so p = (1 + #{s(K_b) >= s(K)}) / (draws + 1) is an exact
  one-sided p-value (larger operator norm than an iid arrangement of the same values would
  have). `iid_median` and the 5% / 95% quantiles are the iid prediction for the operator;
- `per_frequency_prediction`: RMS sqrt(kh kw) (sqrt(c_out) + sqrt(c_in)), the top singular value
  of ONE frequency matrix P(u, v) of an iid kernel with this RMS (the dense prediction with the
  channel counts). The operator's sigma_1 is the maximum over frequencies, so it lies above it.

The p-value is reported beside the (iii) family, not inside its Holm correction. Without
`input_shape` from a network file, the input size is assumed (`DEFAULT_CONV_INPUT`, stride 1,
zero padding) and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds.conv_norms import certified_conv_norm, circular_grid, frequency_matrices
from ..errors import InputError
from ..reports.atomic import json_ready
from ..seeding import DEFAULT_ROOT_SEED, seed_sequence

__all__ = [
    "DEFAULT_CONV_INPUT",
    "OPERATOR_DRAWS",
    "ConvOperatorAudit",
    "ConvGeometryHint",
    "circular_top_singular",
    "audit_conv_operator",
    "geometry_hints",
    "operator_lines",
]

DEFAULT_CONV_INPUT = (32, 32)  # (H, W) assumed when the file does not say (CIFAR-sized images)
OPERATOR_DRAWS = 39  # shuffled copies: p-values down to 1/40
_MAX_WORK = 3e10  # frequencies x c_out x c_in x min(c_out, c_in) x draws (~1e9 per CPU second): above it, no shuffles


def circular_top_singular(kernel: np.ndarray, grid: "tuple[int, int]") -> float:
    """max over frequencies of ||P(u, v)||_2 (computed by numpy's SVD, not certified)."""
    real, imag = frequency_matrices(kernel, grid)
    values = np.linalg.svd((real + 1j * imag).reshape((-1,) + kernel.shape[:2]), compute_uv=False)
    return float(values.max())


@dataclass(frozen=True)
class ConvOperatorAudit:
    """sigma_1 of one conv layer's operator against its iid (shuffled-kernel) prediction."""

    name: str
    kernel_shape: tuple[int, int, int, int]
    input_shape: tuple[int, int, int]
    stride: int
    padding: str
    assumed: bool  # True: the input shape, stride and padding are assumptions, not read from the file
    sigma_1: float  # certified upper bound of the operator norm
    sigma_1_lower: float  # power-iteration estimate (a lower estimate)
    exact: bool
    reshape_sigma_1: float  # sigma_1 of the (c_out, c_in*kh*kw) matrix the (iii) family tests
    per_frequency_prediction: float
    statistic: float  # s(K): sigma_1 of the circular stride-1 operator on the grid
    shuffled: tuple[float, ...]  # s of the shuffled copies (empty when skipped)
    skipped: "str | None" = None

    @property
    def iid_median(self) -> float:
        return float(np.median(self.shuffled)) if self.shuffled else math.nan

    @property
    def iid_quantiles(self) -> tuple[float, float]:
        if not self.shuffled:
            return math.nan, math.nan
        low, high = np.quantile(self.shuffled, [0.05, 0.95])
        return float(low), float(high)

    @property
    def ratio_to_iid(self) -> float:
        """s(K) / median of the shuffled copies (1: as an iid arrangement of the same values)."""
        median = self.iid_median
        return self.statistic / median if median > 0 else math.nan

    @property
    def pvalue(self) -> float:
        """Exact one-sided permutation p-value for 'larger than iid' (nan when skipped)."""
        if not self.shuffled:
            return math.nan
        return (1 + sum(s >= self.statistic for s in self.shuffled)) / (len(self.shuffled) + 1)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.iid_quantiles
        return json_ready(
            {
                "name": self.name,
                "kernel_shape": list(self.kernel_shape),
                "input_shape": list(self.input_shape),
                "stride": self.stride,
                "padding": self.padding,
                "assumed_geometry": self.assumed,
                "sigma_1": self.sigma_1,
                "sigma_1_lower": self.sigma_1_lower,
                "exact": self.exact,
                "reshape_sigma_1": self.reshape_sigma_1,
                "per_frequency_prediction": self.per_frequency_prediction,
                "statistic": self.statistic,
                "iid_median": self.iid_median,
                "iid_quantiles": [low, high],
                "ratio_to_iid": self.ratio_to_iid,
                "pvalue": self.pvalue,
                "draws": len(self.shuffled),
                "skipped": self.skipped,
            }
        )


def audit_conv_operator(
    kernel: np.ndarray,
    input_shape: Sequence[int],
    stride: int = 1,
    padding: str = "zeros",
    *,
    name: str = "W",
    assumed: bool = False,
    seed: "int | np.random.SeedSequence" = DEFAULT_ROOT_SEED,
    draws: int = OPERATOR_DRAWS,
) -> ConvOperatorAudit:
    """Audit one kernel (c_out, c_in, kh, kw) on `input_shape` (c_in, H, W) as an operator.

    `seed` is the run's root seed (the shuffles come from `seed_sequence(seed, "audit.conv/<name>")`)
    or a SeedSequence used as is.
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 4 or k.size == 0 or not np.isfinite(k).all():
        raise InputError(f"{name}: need a finite 4-D conv kernel (c_out, c_in, kh, kw), got shape {k.shape}")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 0:
        raise InputError(f"draws must be a non-negative integer, got {draws!r}")
    root = seed if isinstance(seed, np.random.SeedSequence) else seed_sequence(int(seed), f"audit.conv/{name}")
    rng = np.random.default_rng(root)
    # Scale-free: audit 2^-e K (exact) so that nothing under- or overflows, and report in K's units.
    top = float(np.max(np.abs(k)))
    shift = math.frexp(top)[1] if top > 0 else 0
    unit = np.ldexp(k, -shift)
    bound = certified_conv_norm(k, tuple(input_shape), stride, padding, rng=rng)
    geometry = bound.geometry
    grid = circular_grid(geometry)
    c_out, c_in, kh, kw = k.shape
    rms = math.sqrt(float(np.mean(unit * unit)))
    per_frequency = math.ldexp(rms * math.sqrt(kh * kw) * (math.sqrt(c_out) + math.sqrt(c_in)), shift)
    statistic = circular_top_singular(unit, grid)
    work = grid[0] * grid[1] * c_out * c_in * min(c_out, c_in) * max(draws, 1)
    shuffled: list[float] = []
    skipped = None
    if work > _MAX_WORK:
        skipped = f"{draws} shuffled copies of a {c_out}x{c_in} kernel on a {grid[0]}x{grid[1]} grid are too costly"
    else:
        flat = unit.ravel()
        for _ in range(draws):
            copy = rng.permutation(flat).reshape(k.shape)
            shuffled.append(math.ldexp(circular_top_singular(copy, grid), shift))
    return ConvOperatorAudit(
        name=name,
        kernel_shape=(c_out, c_in, kh, kw),
        input_shape=geometry.input_shape,
        stride=geometry.stride,
        padding=geometry.padding,
        assumed=assumed,
        sigma_1=bound.upper,
        sigma_1_lower=bound.lower,
        exact=bound.exact,
        reshape_sigma_1=math.ldexp(float(np.linalg.norm(unit.reshape(c_out, -1), 2)), shift),
        per_frequency_prediction=per_frequency,
        statistic=math.ldexp(statistic, shift),
        shuffled=tuple(shuffled),
        skipped=skipped,
    )


@dataclass(frozen=True)
class ConvGeometryHint:
    """Where a conv kernel acts: its input (c_in, H, W), stride and padding, and whether assumed."""

    input_shape: tuple[int, int, int]
    stride: int = 1
    padding: str = "zeros"
    assumed: bool = True


def geometry_hints(
    layers: Sequence[Any], network: Any = None, input_hw: "tuple[int, int] | None" = None
) -> dict[str, ConvGeometryHint]:
    """A hint for every 4-D kernel among the audited `layers` (`selection.AuditLayer`): from the
    `ConvNetwork` read from the same file when given (layer i of the file is layer i here), else
    the input (c_in, *input_hw) (default `DEFAULT_CONV_INPUT`) with stride 1 and zero padding."""
    hw = DEFAULT_CONV_INPUT if input_hw is None else tuple(int(v) for v in input_hw)
    if len(hw) != 2 or min(hw) < 1:
        raise InputError(f"the assumed conv input is (H, W) with positive sizes, got {input_hw!r}")
    known = {}
    if network is not None:
        for index, geometry in enumerate(network.geometries):
            if geometry is not None:
                known[index] = ConvGeometryHint(geometry.input_shape, geometry.stride, geometry.padding, False)
    hints = {}
    for index, layer in enumerate(layers):
        if len(layer.stored_shape) != 4:
            continue
        stored = known.get(index)
        if stored is not None and stored.input_shape[0] == layer.stored_shape[1]:
            hints[layer.name] = stored
        else:
            hints[layer.name] = ConvGeometryHint((int(layer.stored_shape[1]), hw[0], hw[1]))
    return hints


def operator_lines(audits: Sequence[ConvOperatorAudit]) -> list[str]:
    """Text lines for the terminal summary and report.md: sigma_1 of each conv operator against iid."""
    if not audits:
        return []
    lines = ["conv layers as operators (sigma_1 certified; iid = shuffled kernels on the same grid; p one-sided):"]
    for a in audits:
        low, high = a.iid_quantiles
        where = f"{'x'.join(map(str, a.input_shape))}, stride {a.stride}, {a.padding}" + (
            " (assumed)" if a.assumed else ""
        )
        iid = (
            f"iid median {a.iid_median:.4g} [5%-95%: {low:.4g}, {high:.4g}], ratio {a.ratio_to_iid:.3g}, "
            f"p = {a.pvalue:.3g}"
            if a.shuffled
            else f"iid comparison skipped ({a.skipped})"
        )
        lines.append(
            f"  {a.name} on {where}: sigma_1 <= {a.sigma_1:.4g} (lower {a.sigma_1_lower:.4g}); {iid}; "
            f"one frequency's iid prediction {a.per_frequency_prediction:.4g}; reshaped matrix's sigma_1 "
            f"{a.reshape_sigma_1:.4g}"
        )
    return lines
