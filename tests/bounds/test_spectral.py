"""Certified spectral norms: never below ||A||_2, close to it, for dense, sparse and extreme inputs."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse

from mbp_verify.bounds import certified_spectral_norm
from mbp_verify.bounds.spectral import _certify, _work_buffer, certified_norm_from_gram, in_safe_range
from mbp_verify.errors import InputError


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (5, 3), (3, 5), (40, 40), (300, 120)])
def test_bound_is_tight_and_above(shape):
    a = np.random.default_rng(sum(shape)).standard_normal(shape)
    exact = np.linalg.norm(a, 2)
    bound = certified_spectral_norm(a)
    assert exact <= bound.upper <= exact * (1 + 2e-5)
    assert bound.estimate <= exact * (1 + 1e-12)
    assert bound.right_vector.shape == (shape[1],)
    assert np.linalg.norm(a @ bound.right_vector) == pytest.approx(exact, rel=1e-4)


def test_sparse_equals_dense():
    a = scipy.sparse.random(80, 60, density=0.05, random_state=3, format="csr")
    assert certified_spectral_norm(a).upper == pytest.approx(certified_spectral_norm(a.toarray()).upper, rel=1e-9)
    assert certified_spectral_norm(a).upper >= np.linalg.norm(a.toarray(), 2)


@pytest.mark.parametrize("scale", [2.0**-1060, 1e-300, 1e300, 2.0**1000])
def test_extreme_magnitudes(scale):
    a = np.array([[3.0, 1.0], [0.0, 2.0]]) * scale
    exact = np.linalg.norm(np.array([[3.0, 1.0], [0.0, 2.0]]), 2) * scale
    upper = certified_spectral_norm(a).upper
    assert upper >= exact and upper <= exact * (1 + 1e-4) + 1e-320


def test_zero_matrix_is_exactly_zero():
    assert certified_spectral_norm(np.zeros((4, 3))).upper == 0.0
    assert certified_spectral_norm(scipy.sparse.csr_array((4, 3))).upper == 0.0


def _attempt(gram, tau):
    """One Cholesky attempt of the certificate on a copy of `gram`."""
    return _certify(_work_buffer(gram, overwrite=False), np.diag(gram).copy(), tau)


def test_cholesky_check_rejects_too_small_candidates():
    gram = np.diag([1.0, 2.0, 3.0])
    assert _attempt(gram, 2.9) is None
    assert _attempt(gram, 3.001) >= 3.001


def test_gram_shortcut_falls_back_outside_the_safe_range():
    a = np.full((3, 3), 1e200)
    assert not in_safe_range(a)
    with np.errstate(over="ignore"):
        gram = a.T @ a
    assert certified_norm_from_gram(a, gram, True).upper >= 3e200


@pytest.mark.parametrize(
    "bad, message", [(np.array([[np.nan]]), "NaN"), (np.ones(3), "2-D"), (np.ones((2, 2, 2)), "2-D")]
)
def test_bad_input(bad, message):
    with pytest.raises(InputError, match=message):
        certified_spectral_norm(bad)
    with pytest.raises(InputError, match="slack"):
        certified_spectral_norm(np.ones((2, 2)), slack=0.0)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_gram_shortcut_agrees_with_the_direct_certificate(shape):
    a = np.random.default_rng(7).standard_normal(shape)
    right = shape[0] >= shape[1]
    shortcut = certified_norm_from_gram(a, a.T @ a if right else a @ a.T, right)
    direct = certified_spectral_norm(a)
    assert shortcut.upper >= np.linalg.norm(a, 2) and shortcut.upper == pytest.approx(direct.upper, rel=1e-9)
    assert abs(shortcut.right_vector @ direct.right_vector) == pytest.approx(1.0)
    assert certified_norm_from_gram(np.zeros(shape), np.zeros((shape[1],) * 2), True).upper == 0.0


def _with_singular_values(values: np.ndarray, shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((shape[0], len(values))))
    v, _ = np.linalg.qr(rng.standard_normal((shape[1], len(values))))
    return (u * values) @ v.T


@pytest.mark.parametrize("exponent", [-500, -100, 0, 100, 500])
@pytest.mark.parametrize("kind", ["gaussian", "tied top", "near-tied top", "rank one", "sparse"])
def test_certificate_is_above_the_svd_norm(kind, exponent):
    # Near-degenerate top singular values (equal, or 1e-12 apart) leave Lanczos without a gap;
    # the Cholesky proof must still hold, at every scale (the certificate rescales internally).
    shape = (170, 200)  # above the dense-eigensolver size: the Lanczos path
    seed = abs(exponent) + len(kind)
    if kind == "gaussian":
        a = np.random.default_rng(seed).standard_normal(shape)
    elif kind == "sparse":
        a = scipy.sparse.random(*shape, density=0.03, random_state=seed, format="csr").toarray()
    else:
        tops = {"tied top": [1.0, 1.0, 1.0], "near-tied top": [1.0, 1.0 - 1e-12, 1.0 - 2e-12], "rank one": [1.0]}
        values = np.concatenate([tops[kind], np.linspace(0.9, 0.1, 30) if kind != "rank one" else []])
        a = _with_singular_values(values, shape, seed)
    a = np.ldexp(a, exponent)
    exact = np.linalg.norm(np.ldexp(a, -exponent), 2)  # at magnitude ~1, exponent restored below
    bound = certified_spectral_norm(a)
    assert bound.exact_upper >= Fraction(exact) * Fraction(2) ** exponent * Fraction(1 + 2**-40)
    assert float(bound.exact_upper / (Fraction(2) ** exponent)) <= exact * (1 + 1e-4)
    sparse = certified_spectral_norm(scipy.sparse.csr_array(a))
    assert sparse.exact_upper >= Fraction(exact) * Fraction(2) ** exponent * Fraction(1 + 2**-40)


def test_the_cholesky_margin_is_needed():
    # J = ones((n, n)) has lambda_max = n exactly. Cholesky of fl(tau I - J) succeeds at a tau one
    # rounding below n: a certificate without Rump's margin (T = tau) would be unsound; with it,
    # T >= n.
    n = 1000
    gram = np.ones((n, n))
    tau = n * (1 - 2.0**-53)
    assert tau < n
    bound = _attempt(gram, tau)
    assert bound is not None  # the float factorisation does not see that tau < lambda_max
    assert bound >= n
