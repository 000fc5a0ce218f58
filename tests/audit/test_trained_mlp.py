"""A real network, trained in the test: scikit-learn's MLPClassifier on the digits data set.

scikit-learn initialises with Glorot-uniform: every coefficient matrix is iid
U[-b, b] with b = sqrt(6 / (fan_in + fan_out)). So the audit must find, at initialisation:
(iii) consistent in every layer, an implied K = b sqrt(max(fan_in, fan_out)) that differs between
layers (the theorem's single K is rejected), and (ii) holding for 64 -> 64 -> 10. Training moves
the weights far from that: the first layer's (iii) must be rejected, among other reasons because
the digits data set has three pixels that are always 0, whose weight columns see only the L2
penalty and are driven to zero by Adam's normalised steps while the others grow (column
heterogeneity).

The initial weights are read from the estimator itself (a subclass records `coefs_` right after
scikit-learn's own `_initialize`), and are checked against the documented rule reproduced with
the same random_state.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from mbp_verify.audit import audit_weights  # noqa: E402

HIDDEN = 64
SEED = 0


class _RecordingMLP(MLPClassifier):
    """MLPClassifier that keeps a copy of the weights scikit-learn initialised."""

    def _initialize(self, y, layer_units, dtype):
        super()._initialize(y, layer_units, dtype)
        self.initial_coefs_ = [c.copy() for c in self.coefs_]


def _glorot_reproduction(layer_units: list[int]) -> list[np.ndarray]:
    """scikit-learn's documented rule: per layer, coef then intercept from RandomState(random_state)."""
    state = np.random.RandomState(SEED)
    coefs = []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        coefs.append(state.uniform(-bound, bound, (fan_in, fan_out)))
        state.uniform(-bound, bound, fan_out)
    return coefs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    x, y = load_digits(return_X_y=True)
    model = _RecordingMLP(hidden_layer_sizes=(HIDDEN,), random_state=SEED, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x / 16.0, y)
    folder = tmp_path_factory.mktemp("mlp")
    for name, coefs in (("init", model.initial_coefs_), ("trained", model.coefs_)):
        arrays = {f"coefs_{i}": c for i, c in enumerate(coefs)} | {
            f"intercepts_{i}": b for i, b in enumerate(model.intercepts_)
        }
        np.savez(folder / f"{name}.npz", **arrays)
    return model, folder


def test_recorded_init_is_scikit_learns_documented_glorot_uniform(trained):
    model, _ = trained
    for recorded, reproduced in zip(model.initial_coefs_, _glorot_reproduction([64, HIDDEN, 10])):
        assert np.array_equal(recorded, reproduced)
    assert model.score(load_digits(return_X_y=True)[0] / 16.0, load_digits(return_X_y=True)[1]) > 0.95


def test_audit_of_the_initial_weights(trained):
    _, folder = trained
    report = audit_weights(folder / "init.npz", alpha=None, seed=1)
    assert report.selection.layout == "in-out" and report.selection.widths == (64, HIDDEN, 10)
    assert [s.name for s in report.selection.skipped] == ["intercepts_0", "intercepts_1"]
    for audit, (fan_in, fan_out) in zip(report.layers, [(64, HIDDEN), (HIDDEN, 10)]):
        assert audit.status == "consistent", audit.to_dict()["pvalues"]
        glorot_K = math.sqrt(6.0 / (fan_in + fan_out)) * math.sqrt(max(fan_in, fan_out))
        low, high = audit.scale.implied_K_ci
        assert low <= glorot_K <= high
    assert report.common_K_status == "rejected"  # sqrt(3) = 1.73 for 64x64 against 2.28 for 64x10
    assert report.width.status == "consistent" and not report.rejected("i")


def test_audit_of_the_trained_weights_and_how_far_they_moved(trained):
    model, folder = trained
    report = audit_weights(folder / "trained.npz", compare=folder / "init.npz", alpha=0.3, seed=1, effort="fast")
    first = report.layers[0]
    assert first.status == "rejected"
    assert {"uniform_magnitudes", "columns"} <= set(first.rejected_tests)
    dead = [0, 32, 39]  # pixels that are 0 in every digit: their weights only see the L2 penalty
    w0, w = model.initial_coefs_[0], model.coefs_[0]
    assert np.abs(w[dead]).max() < 1e-3 * np.abs(w0[dead]).max()
    assert np.linalg.norm(np.delete(w, dead, axis=0)) > 1.5 * np.linalg.norm(np.delete(w0, dead, axis=0))
    for movement, start, end in zip(report.movement, model.initial_coefs_, model.coefs_):
        assert movement.relative_frobenius == pytest.approx(np.linalg.norm(end - start) / np.linalg.norm(start))
        assert movement.relative_frobenius > 0.5  # not "near the initialisation"
    assert [a.status for a in report.initial.layers] == ["consistent", "consistent"]
    c = report.consequences
    assert c.counts == (math.floor((64 * 64) ** 0.7), math.floor((64 * 10) ** 0.7))
    for bracket in (c.real, c.surrogate, c.shuffled):
        assert 0 < bracket.lower <= bracket.upper
    assert c.survival.low <= c.survival.estimate <= c.survival.high
