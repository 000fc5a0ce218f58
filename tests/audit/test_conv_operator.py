"""Conv kernels audited as operators: the statistic against the unfolded operator, the permutation
p-value's calibration (with a structured negative control), and the wiring into `audit`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mbp_verify.audit import audit_weights
from mbp_verify.audit.conv_operator import (
    DEFAULT_CONV_INPUT,
    audit_conv_operator,
    circular_top_singular,
    geometry_hints,
)
from mbp_verify.audit.weight_files import WeightFile
from mbp_verify.cli import main
from mbp_verify.engine import sample_conv_network, save_conv_network, unfold_conv
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for

_CALIBRATION_KERNELS = 60
_CALIBRATION_LIMIT = 13  # P(Bin(60, 1/20) >= 13) = 6.8e-6: a correct p-value fails this once in ~150,000 seeds


def _structured(c_out: int, c_in: int, rng: np.random.Generator) -> np.ndarray:
    """K[o, c] = u_o v_c g: every channel pair applies the same filter, so one frequency matrix is
    rank one with a large norm; shuffling the entries destroys the alignment."""
    g = rng.uniform(0.5, 1.0, (3, 3))
    return np.einsum("o,c,ab->ocab", rng.choice([-1.0, 1.0], c_out), rng.choice([-1.0, 1.0], c_in), g)


@pytest.mark.parametrize("shape, image", [((4, 3, 3, 3), (3, 6, 6)), ((2, 5, 2, 4), (5, 4, 7))])
def test_statistic_is_the_circular_operator_norm(shape, image):
    kernel = rng_for(1, "tests.audit.conv.statistic", 0).standard_normal(shape)
    dense = np.linalg.norm(unfold_conv(kernel, image, 1, "circular"), 2)
    assert abs(circular_top_singular(kernel, image[1:]) - dense) <= 1e-12 * dense
    audit = audit_conv_operator(kernel, image, 1, "circular", draws=5)
    assert audit.exact and audit.sigma_1 >= dense * (1 - 1e-12) and abs(audit.statistic - dense) <= 1e-12 * dense


def test_zero_padding_sigma_is_certified_and_the_reshape_differs():
    kernel = np.ones((1, 1, 3, 3))
    audit = audit_conv_operator(kernel, (1, 4, 4), 1, "circular", draws=0)
    assert 9.0 <= audit.sigma_1 <= 9.0 * (1 + 1e-4) and abs(audit.reshape_sigma_1 - 3.0) < 1e-12  # slack 1e-5
    rng = rng_for(1, "tests.audit.conv.zeros", 0)
    kernel = rng.uniform(-1, 1, (4, 2, 3, 3))
    audit = audit_conv_operator(kernel, (2, 5, 5), 2, "zeros", draws=0)
    assert audit.sigma_1 >= np.linalg.norm(unfold_conv(kernel, (2, 5, 5), 2, "zeros"), 2) * (1 - 1e-12)
    assert audit.sigma_1_lower <= audit.sigma_1 and np.isnan(audit.pvalue)


def test_permutation_pvalue_is_calibrated_and_catches_aligned_filters():
    """iid kernels: #{p <= 0.05} over 60 kernels stays below the limit; negative control: aligned
    filters are rejected every time (p = 1/20, the smallest value 19 shuffles allow)."""
    small = 0
    for trial in range(_CALIBRATION_KERNELS):
        rng = rng_for(2, "tests.audit.conv.calibration", trial)
        audit = audit_conv_operator(
            rng.uniform(-1, 1, (4, 4, 3, 3)), (4, 6, 6), seed=rng.bit_generator.seed_seq, draws=19
        )
        small += audit.pvalue <= 0.05
    assert small < _CALIBRATION_LIMIT
    for trial in range(10):
        rng = rng_for(2, "tests.audit.conv.structured", trial)
        audit = audit_conv_operator(_structured(4, 4, rng), (4, 6, 6), seed=rng.bit_generator.seed_seq, draws=19)
        assert audit.pvalue == 1 / 20 and audit.ratio_to_iid > 1.5


def test_scale_free_and_seeded():
    kernel = rng_for(3, "tests.audit.conv.scale", 0).uniform(-1, 1, (3, 2, 3, 3))
    a = audit_conv_operator(kernel, (2, 5, 5), seed=7, draws=9)
    b = audit_conv_operator(kernel * 2.0**-600, (2, 5, 5), seed=7, draws=9)
    assert a.pvalue == b.pvalue and a.ratio_to_iid == pytest.approx(b.ratio_to_iid, rel=1e-12)
    assert b.sigma_1 == pytest.approx(a.sigma_1 * 2.0**-600, rel=1e-12)
    assert audit_conv_operator(kernel, (2, 5, 5), seed=7, draws=9).shuffled == a.shuffled
    with pytest.raises(InputError, match="4-D"):
        audit_conv_operator(kernel[0], (2, 5, 5))
    with pytest.raises(InputError, match="draws"):
        audit_conv_operator(kernel, (2, 5, 5), draws=-1)


def test_geometry_from_a_conv_file_else_assumed(tmp_path):
    net = sample_conv_network((3, 8, 8), [4, 5], 0, dense=[2], stride=[1, 2], padding=["circular", "zeros"])
    path = tmp_path / "cnn.npz"
    save_conv_network(path, net)
    report = audit_weights(path, alpha=None, draws=199)
    first, second = report.conv_operators
    assert (first.input_shape, first.stride, first.padding, first.assumed) == ((3, 8, 8), 1, "circular", False)
    assert (second.input_shape, second.stride, second.padding, second.assumed) == ((4, 8, 8), 2, "zeros", False)
    assert report.to_dict()["conv_operators"][1]["input_shape"] == [4, 8, 8]
    arrays = WeightFile.from_arrays({f"W{i + 1}": w for i, w in enumerate(net.weights)})
    report = audit_weights(arrays, alpha=None, draws=199)
    assert all(a.assumed and a.input_shape[1:] == DEFAULT_CONV_INPUT and a.stride == 1 for a in report.conv_operators)
    report = audit_weights(arrays, alpha=None, draws=199, conv_input=(6, 7))
    assert report.conv_operators[1].input_shape == (4, 6, 7)
    with pytest.raises(InputError, match="H, W"):
        geometry_hints(report.selection.layers, input_hw=(0, 3))


def test_cli_conv_input_flag(tmp_path, capsys):
    path = tmp_path / "k.npz"
    np.savez(path, conv=rng_for(4, "tests.audit.conv.cli", 0).uniform(-1, 1, (4, 3, 3, 3)))
    out = tmp_path / "a.json"
    args = ["audit", str(path), "--no-consequences", "--no-report", "--json", str(out)]
    assert main(args + ["--conv-input", "5,6"]) == 0
    operator = json.loads(out.read_text())["conv_operators"][0]
    assert operator["input_shape"] == [3, 5, 6] and operator["assumed_geometry"] is True
    assert "conv layers as operators" in capsys.readouterr().out
    assert main(args + ["--conv-input", "5"]) == 2
    assert "give H,W" in capsys.readouterr().err
