"""Hypothesis (iii) for one weight matrix: the family of tests, Holm, and the verdict.

The family (each test valid at its level, with the uniform's scale estimated from the data):

| test | component | null distribution |
|---|---|---|
| uniform_magnitudes | uniform | exact (conditional KS) |
| kurtosis | uniform | Monte Carlo, iid U[-1, 1] (scale-free) |
| sign_balance | symmetric | exact binomial |
| sign_magnitude | symmetric | two-sample KS |
| rows, columns, top_singular, bulk_spectrum | iid | permutation (exact) |

Holm's step-down across the family controls the probability of rejecting (iii) for a layer that
satisfies it at `level`. Tests the shape or the values do not allow (one row, one sign) are left
out of the family and listed in `not_run`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import validate_probability
from ..errors import InputError
from ..reports.atomic import json_ready
from ..seeding import DEFAULT_ROOT_SEED, seed_sequence
from ..statistics.montecarlo import minimum_draws
from ..statistics.multiple import HolmResult, holm
from .arrangement import arrangement_tests, kurtosis_test
from .hypotheses import Status
from .marginal import ScaleEstimate, estimate_scale, sign_balance_test, sign_magnitude_test, uniform_magnitudes_test
from .rounding import dequantise, magnitude_cells, top_cell
from .spectrum import SpectrumSummary, spectrum_summary
from .testresult import COMPONENTS, AuditTestResult

__all__ = ["FAMILY", "DEFAULT_LEVEL", "default_draws", "check_draws", "exact_tests", "LayerAudit", "audit_layer"]

FAMILY = (
    "uniform_magnitudes",
    "kurtosis",
    "sign_balance",
    "sign_magnitude",
    "rows",
    "columns",
    "top_singular",
    "bulk_spectrum",
)
DEFAULT_LEVEL = 0.05


def default_draws(level: float = DEFAULT_LEVEL) -> int:
    """199 Monte Carlo draws, or more when `level` is so small that 1/(B+1) > level / |family|."""
    return max(199, minimum_draws(level, len(FAMILY)))


def exact_tests(
    matrix: np.ndarray, cells: "tuple[np.ndarray, np.ndarray] | None" = None
) -> tuple[AuditTestResult, ...]:
    """The tests with exact or closed-form null distributions (no Monte Carlo): fast.

    `cells`: the rounding cells of the entries' magnitudes, for values stored rounded (`rounding`)."""
    w = np.asarray(matrix, dtype=np.float64)
    tests = [uniform_magnitudes_test(w, cells), sign_balance_test(w)]
    if (w > 0).any() and (w < 0).any():
        tests.append(sign_magnitude_test(w))
    return tuple(tests)


@dataclass(frozen=True, eq=False)
class LayerAudit:
    """Hypothesis (iii) for one layer: every test, Holm-adjusted, and the scale and spectrum behind them."""

    name: str
    shape: tuple[int, int]
    scale: ScaleEstimate
    spectrum: SpectrumSummary
    tests: tuple[AuditTestResult, ...]
    holm: HolmResult
    draws: int
    not_run: tuple[str, ...] = ()

    @property
    def level(self) -> float:
        return self.holm.alpha

    @property
    def status(self) -> Status:
        """`rejected` when Holm rejects any test of the family at `level`, else `consistent`."""
        return "rejected" if self.holm.any_rejected else "consistent"

    def test(self, name: str) -> AuditTestResult:
        for t in self.tests:
            if t.name == name:
                return t
        raise KeyError(f"{name!r} was not run on {self.name} (family: {', '.join(t.name for t in self.tests)})")

    @property
    def adjusted_pvalues(self) -> dict[str, float]:
        """Holm-adjusted p-value of every test run, by name."""
        return {t.name: p for t, p in zip(self.tests, self.holm.adjusted)}

    def adjusted_pvalue(self, name: str) -> float:
        return self.adjusted_pvalues[name]

    @property
    def rejected_tests(self) -> tuple[str, ...]:
        return tuple(t.name for t, r in zip(self.tests, self.holm.rejected) if r)

    def component_status(self, component: str) -> Status:
        members = [r for t, r in zip(self.tests, self.holm.rejected) if t.component == component]
        if not members:
            return "not_applicable"
        return "rejected" if any(members) else "consistent"

    @property
    def iid_top_prediction(self) -> float:
        """sigma_1 an iid layer of this shape and variance would have (K read off the RMS)."""
        return self.spectrum.predicted_top(self.scale.implied_K_rms)

    def spectrum_dict(self) -> dict[str, Any]:
        """sigma_1 against the iid predictions (K read off the RMS, and off the maximum) and the bulk against MP."""
        return json_ready(
            {
                "sigma_1": self.spectrum.top,
                "iid_prediction": self.iid_top_prediction,
                "iid_prediction_from_max": self.spectrum.predicted_top(self.scale.implied_K),
                "mp_ks_distance": self.spectrum.mp_ks_distance,
                "fraction_above_mp_edge": self.spectrum.fraction_above_edge,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The (iii) verdict: status, raw and Holm-adjusted p-values, every test's details."""
        tests = {
            t.name: {**t.to_dict(), "adjusted_pvalue": adjusted, "rejected": rejected}
            for t, adjusted, rejected in zip(self.tests, self.holm.adjusted, self.holm.rejected)
        }
        return json_ready(
            {
                "status": self.status,
                "level": self.level,
                "correction": "holm",
                "draws": self.draws,
                "pvalues": {t.name: t.pvalue for t in self.tests},
                "adjusted_pvalues": self.adjusted_pvalues,
                "rejected_tests": list(self.rejected_tests),
                "components": {c: self.component_status(c) for c in COMPONENTS},
                "tests": tests,
                "not_run": list(self.not_run),
            }
        )


def check_draws(draws: "int | None", level: float) -> int:
    """The Monte Carlo draws per test: `draws`, or the default for `level`; too few for Holm is an InputError."""
    if draws is not None and (isinstance(draws, bool) or not isinstance(draws, numbers.Integral)):
        raise InputError(f"draws must be an integer, got {draws!r}")
    draws = default_draws(level) if draws is None else int(draws)
    needed = minimum_draws(level, len(FAMILY))
    if draws < needed:
        raise InputError(
            f"{draws} Monte Carlo draws give p-values no smaller than 1/{draws + 1}, too coarse for Holm "
            f"over {len(FAMILY)} tests at level {level:g}; use at least {needed:.6g}"
        )
    return draws


def audit_layer(
    matrix: np.ndarray,
    *,
    name: str = "W",
    seed: "int | np.random.SeedSequence" = DEFAULT_ROOT_SEED,
    level: float = DEFAULT_LEVEL,
    draws: "int | None" = None,
    stored_dtype: str = "float64",
) -> LayerAudit:
    """Test hypothesis (iii) on one matrix W_l (d_l, d_l-1).

    `seed` is the run's root seed (the layer's draws come from `seed_sequence(seed,
    "audit.iii/<name>")`) or a SeedSequence used as is (e.g. one per trial). `stored_dtype` is
    the format the values were stored in: float16, bfloat16 and float32 values are rounded,
    and the tests that would mistake the rounding grid for a violation account for it
    (`rounding`).
    """
    w = np.asarray(matrix, dtype=np.float64)
    if w.ndim != 2 or min(w.shape) < 1 or w.size < 4:
        raise InputError(f"{name}: need a 2-D matrix with at least 4 entries, got shape {w.shape}")
    level = validate_probability(level, "level")
    draws = check_draws(draws, level)
    root = seed if isinstance(seed, np.random.SeedSequence) else seed_sequence(int(seed), f"audit.iii/{name}")
    kurtosis_rng, arrangement_rng, dequantise_rng = (
        np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, k))) for k in (0, 1, 2)
    )
    # Every (iii) test is scale-free: run them on W * 2**-shift with max |entry| in [0.5, 1) (exact), so
    # that w^2 and w^4 neither underflow (subnormal weights) nor overflow; report scale and spectrum in W's units.
    shift = _unit_shift(w)
    unit = np.ldexp(w, -shift)
    cells = magnitude_cells(w, stored_dtype)
    unit_cells = None if cells is None else (np.ldexp(cells[0], -shift), np.ldexp(cells[1], -shift))
    top = None if unit_cells is None else tuple(np.ldexp(top_cell(w, stored_dtype), -shift))
    scale = estimate_scale(unit, 1.0 - level, top).rescaled(shift)
    spectrum = spectrum_summary(unit).rescaled(shift)
    tests = list(exact_tests(unit, unit_cells))
    tests.append(kurtosis_test(np.ldexp(dequantise(w, stored_dtype, dequantise_rng), -shift), kurtosis_rng, draws))
    tests.extend(arrangement_tests(unit, arrangement_rng, draws, spectrum=spectrum, implied_K_rms=scale.implied_K_rms))
    ran = {t.name for t in tests}
    not_run = tuple(f"{t}: {_WHY[t]}" for t in FAMILY if t not in ran)
    order = {t: i for i, t in enumerate(FAMILY)}
    tests.sort(key=lambda t: order[t.name])
    return LayerAudit(
        name,
        (int(w.shape[0]), int(w.shape[1])),
        scale,
        spectrum,
        tuple(tests),
        holm([t.pvalue for t in tests], level),
        draws,
        not_run,
    )


def _unit_shift(w: np.ndarray) -> int:
    """The exponent e with max |w| = m * 2**e, m in [0.5, 1) (0 for an all-zero or non-finite matrix)."""
    top = float(np.max(np.abs(w)))
    return int(np.frexp(top)[1]) if math.isfinite(top) and top > 0 else 0


_WHY = {
    "sign_magnitude": "all nonzero entries have one sign",
    "rows": "a matrix with one row or column has no row heterogeneity to test",
    "columns": "a matrix with one row or column has no column heterogeneity to test",
    "top_singular": "a matrix with one row or column has a single singular value",
    "bulk_spectrum": "a matrix with one row or column has a single singular value",
}
