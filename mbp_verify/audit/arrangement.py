"""Monte Carlo tests of hypothesis (iii): independence, identical distribution and tails.

Arrangement tests use the permutation null: under iid entries the matrix is exchangeable, so
given its multiset of values every arrangement is equally likely, and a statistic of W is
compared with the same statistic of B uniformly shuffled copies (exact at any B, see
`mbp_verify.statistics.montecarlo`). Conditioning on the values makes these tests blind to the
shape of the marginal (that is the uniformity tests' job), so a rejection here means dependence
or non-identical distribution. The statistics:

- rows / columns: the between-row (column) share of the sum of squares of the entries plus that
  of their squares: location and scale heterogeneity (one-way ANOVA; F is reported);
- top singular value: a fixed number of power iterations from a fixed start (the same function
  for W and for every shuffled copy, so the test is exact although it is not sigma_1 itself);
- bulk: KS distance of the normalised eigenvalues of a fixed random submatrix (at most
  256 x 256) from Marchenko–Pastur.

Tails use a parameter-free null: the kurtosis m4 / m2^2 is scale-free, so |kurtosis - 1.8| of W
is compared with that of B samples of n iid U[-1, 1] values. Draws are processed in batches of
about a million numbers (one vectorised pass per batch, bounded memory).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import InputError
from ..statistics.montecarlo import monte_carlo_test
from .spectrum import SpectrumSummary, iid_top_singular, ks_distance_to_mp, normalized_eigenvalues
from .testresult import AuditTestResult

__all__ = [
    "UNIFORM_KURTOSIS",
    "POWER_ITERATIONS",
    "BULK_SIDE",
    "ARRANGEMENT_TESTS",
    "kurtosis",
    "kurtosis_test",
    "arrangement_tests",
]

UNIFORM_KURTOSIS = 1.8
POWER_ITERATIONS = 8
BULK_SIDE = 256
ARRANGEMENT_TESTS = ("rows", "columns", "top_singular", "bulk_spectrum")
_BATCH_NUMBERS = 1 << 20
_LOOP_ENTRIES = 1 << 16


def _batches(draws: int, size: int) -> Iterator[int]:
    if draws < 1:
        raise InputError(f"need at least one Monte Carlo draw, got {draws!r}")
    per_batch = max(1, min(draws, _BATCH_NUMBERS // max(size, 1)))
    for start in range(0, draws, per_batch):
        yield min(per_batch, draws - start)


def _kurtosis_rows(x: np.ndarray) -> np.ndarray:
    """m4 / m2^2 of every row of a 2-D array."""
    squares = x - x.mean(axis=1, keepdims=True)
    squares *= squares
    m2 = squares.mean(axis=1)
    if not (m2 > 0).all():
        raise InputError("constant values have no kurtosis")
    return (squares * squares).mean(axis=1) / (m2 * m2)


def kurtosis(values: np.ndarray) -> float:
    """Pearson's kurtosis m4 / m2^2 (central moments; 1.8 for a uniform, 3 for a Gaussian)."""
    return float(_kurtosis_rows(np.asarray(values, dtype=np.float64).reshape(1, -1))[0])


def kurtosis_test(matrix: np.ndarray, rng: np.random.Generator, draws: int) -> AuditTestResult:
    """|kurtosis - 1.8| against B samples of n iid U[-1, 1] (scale-free, so exact)."""
    w = np.asarray(matrix, dtype=np.float64)
    observed = kurtosis(w)
    null = np.concatenate(
        [
            np.abs(_kurtosis_rows(rng.uniform(-1.0, 1.0, (b, w.size))) - UNIFORM_KURTOSIS)
            for b in _batches(draws, w.size)
        ]
    )
    result = monte_carlo_test(abs(observed - UNIFORM_KURTOSIS), null)
    return AuditTestResult(
        "kurtosis",
        "uniform",
        result.statistic,
        result.pvalue,
        "Monte Carlo: |kurtosis - 1.8| against iid U[-1,1] samples of the same size",
        {"kurtosis": observed, "uniform_kurtosis": UNIFORM_KURTOSIS, "gaussian_kurtosis": 3.0},
        result,
    )


class _Statistics:
    """The arrangement statistics of stacks of matrices with W's values (shape (b, rows, cols)).

    The random start, the submatrix and the sums of squares about the overall mean (which do not
    change under shuffling) are fixed once, so W and every shuffled copy go through one function.
    """

    def __init__(self, w: np.ndarray, rng: np.random.Generator):
        rows, cols = w.shape
        self.shape = (int(rows), int(cols))
        start = rng.standard_normal(cols)
        self.start = start / np.linalg.norm(start)
        self.sub_rows = np.sort(rng.choice(rows, size=min(rows, BULK_SIDE), replace=False))
        self.sub_cols = np.sort(rng.choice(cols, size=min(cols, BULK_SIDE), replace=False))
        self.sub_ratio = min(self.sub_rows.size, self.sub_cols.size) / max(self.sub_rows.size, self.sub_cols.size)
        squares = w * w
        self.mean, self.mean_sq = float(w.mean()), float(squares.mean())
        self.total = float(np.sum((w - self.mean) ** 2))
        self.total_sq = float(np.sum((squares - self.mean_sq) ** 2))
        self.frobenius_sq = float(squares.sum())

    def _share(self, w: np.ndarray, squares: np.ndarray, axis: int) -> np.ndarray:
        per_group = self.shape[axis - 1]
        location = per_group * np.sum((w.mean(axis=axis) - self.mean) ** 2, axis=1)
        scale = per_group * np.sum((squares.mean(axis=axis) - self.mean_sq) ** 2, axis=1)
        return (location / self.total if self.total > 0 else 0.0 * location) + (
            scale / self.total_sq if self.total_sq > 0 else 0.0 * scale
        )

    def __call__(self, w: np.ndarray) -> dict[str, np.ndarray]:
        squares = w * w
        top = self._power(w) * (min(self.shape) / self.frobenius_sq)
        sub = w[:, self.sub_rows][:, :, self.sub_cols]
        return {
            "rows": self._share(w, squares, axis=2),
            "columns": self._share(w, squares, axis=1),
            "top_singular": top,
            "bulk_spectrum": self._bulk(sub),
        }

    def _power(self, w: np.ndarray) -> np.ndarray:
        """||W x_q||^2 after q power iterations x <- W^T W x / ||.|| from the fixed start.

        Large matrices go one at a time through BLAS matrix-vector products, small ones as one
        batched product; the path depends only on the shape, so W and its copies share it.
        """
        if self.shape[0] * self.shape[1] >= _LOOP_ENTRIES:
            return np.array([_power_one(m, self.start) for m in w])
        x = np.broadcast_to(self.start[:, None], (w.shape[0], self.shape[1], 1))
        for _ in range(POWER_ITERATIONS):
            x = np.swapaxes(w, 1, 2) @ (w @ x)
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.finfo(float).tiny)
        return np.sum((w @ x) ** 2, axis=(1, 2))

    def _bulk(self, sub: np.ndarray) -> np.ndarray:
        """KS distance to Marchenko–Pastur of each submatrix's normalised eigenvalues (1 for a zero one)."""
        values = np.linalg.svd(sub, compute_uv=False)
        zero = ~(values > 0).any(axis=1)
        values[zero] = 1.0  # placeholder spectrum; a zero submatrix scores the maximal distance below
        distance = ks_distance_to_mp(normalized_eigenvalues(values, sub.shape[1:]), self.sub_ratio)
        return np.where(zero, 1.0, distance)


def _power_one(w: np.ndarray, start: np.ndarray) -> float:
    x = start
    for _ in range(POWER_ITERATIONS):
        x = (w @ x) @ w
        x = x / max(float(np.linalg.norm(x)), np.finfo(float).tiny)
    return float(np.sum((w @ x) ** 2))


def _f_ratio(values: np.ndarray, axis: int) -> "float | None":
    """One-way ANOVA F across rows (axis=1) or columns (axis=0); about 1 under the null."""
    groups, per_group = values.shape[1 - axis], values.shape[axis]
    means = values.mean(axis=axis)
    between = per_group * float(np.sum((means - values.mean()) ** 2))
    within = float(np.sum((values - values.mean()) ** 2)) - between
    if groups < 2 or per_group < 2 or not within > 0:
        return None
    return (between / (groups - 1)) / (within / (groups * (per_group - 1)))


def arrangement_tests(
    matrix: np.ndarray, rng: np.random.Generator, draws: int, *, spectrum: SpectrumSummary, implied_K_rms: float
) -> tuple[AuditTestResult, ...]:
    """Permutation tests of rows, columns, top singular value and bulk spectrum (none for one row or column)."""
    w = np.asarray(matrix, dtype=np.float64)
    if min(w.shape) < 2:
        return ()
    statistics = _Statistics(w, rng)
    observed = statistics(w[None])
    flat = w.ravel()
    null: dict[str, list[np.ndarray]] = {name: [] for name in ARRANGEMENT_TESTS}
    for b in _batches(draws, w.size):
        shuffled = np.tile(flat, (b, 1))
        rng.permuted(shuffled, axis=1, out=shuffled)
        shuffled = shuffled.reshape(b, *w.shape)
        for name, values in statistics(shuffled).items():
            null[name].append(values)
    tests = []
    for name in ARRANGEMENT_TESTS:
        result = monte_carlo_test(float(observed[name][0]), np.concatenate(null[name]))
        tests.append(
            AuditTestResult(
                name,
                "iid",
                result.statistic,
                result.pvalue,
                _METHODS[name],
                _effect(name, w, spectrum, implied_K_rms),
                result,
            )
        )
    return tuple(tests)


_METHODS = {
    "rows": "permutation: between-row share of the sums of squares of w and of w^2 (ANOVA location and scale)",
    "columns": "permutation: between-column share of the sums of squares of w and of w^2 (ANOVA location and scale)",
    "top_singular": f"permutation: {POWER_ITERATIONS} power iterations from a fixed start, "
    "normalised by ||W||_F^2 / d_min",
    "bulk_spectrum": "permutation: KS distance to Marchenko-Pastur, fixed random submatrix of at most "
    f"{BULK_SIDE}x{BULK_SIDE}",
}


def _effect(name: str, w: np.ndarray, spectrum: SpectrumSummary, implied_K_rms: float) -> dict:
    if name in ("rows", "columns"):
        axis = 1 if name == "rows" else 0
        rms = np.sqrt(np.mean(w * w, axis=axis))
        return {
            "f_location": _f_ratio(w, axis),
            "f_scale": _f_ratio(w * w, axis),
            "rms_max_over_min": float(rms.max() / rms.min()) if rms.min() > 0 else None,
        }
    if name == "top_singular":
        predicted = iid_top_singular(implied_K_rms, w.shape)
        return {"sigma_1": spectrum.top, "iid_prediction": predicted, "ratio": spectrum.top / predicted}
    return {"mp_ks_distance": spectrum.mp_ks_distance, "fraction_above_mp_edge": spectrum.fraction_above_edge}
