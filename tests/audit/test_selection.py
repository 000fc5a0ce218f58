"""Choosing, ordering and orienting the matrices to audit; what is skipped and why."""

from __future__ import annotations

import numpy as np
import pytest

from mbp_verify.audit import WeightFile, select_layers
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for


@pytest.fixture
def rng():
    return rng_for(11, "tests.audit.selection")


def test_biases_scalars_and_integers_are_skipped_with_reasons(rng):
    weights = WeightFile.from_arrays(
        {
            "fc1.weight": rng.standard_normal((8, 4)),
            "fc1.bias": np.zeros(8),
            "step": np.array(3.0),
            "ids": np.arange(6).reshape(2, 3),
        }
    )
    selection = select_layers(weights)
    assert [layer.name for layer in selection.layers] == ["fc1.weight"]
    reasons = {s.name: s.reason for s in selection.skipped}
    assert "bias" in reasons["fc1.bias"] and "scalar" in reasons["step"] and "int64" in reasons["ids"]


def test_natural_order_and_regex_selection(rng):
    arrays = {f"W{i}": rng.standard_normal((5, 5)) for i in (10, 2, 1)}
    assert [layer.name for layer in select_layers(WeightFile.from_arrays(arrays)).layers] == ["W1", "W2", "W10"]
    picked = select_layers(WeightFile.from_arrays(arrays), r"W1\d*$")
    assert [layer.name for layer in picked.layers] == ["W1", "W10"]
    assert {s.name for s in picked.skipped} == {"W2"}


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("(", "not a valid regular expression"),
        ("nothing", "matches no tensor"),
        ("bias", "cannot be audited"),
        ("step", "scalar"),
    ],
)
def test_bad_selections_are_input_errors(rng, pattern, message):
    weights = WeightFile.from_arrays(
        {"fc.weight": rng.standard_normal((3, 3)), "fc.bias": np.zeros(3), "step": np.array(1.0)}
    )
    with pytest.raises(InputError, match=message):
        select_layers(weights, pattern)


def test_conv_kernels_become_out_by_in_times_kernel(rng):
    kernel = rng.standard_normal((16, 3, 3, 3))
    layer = select_layers(WeightFile.from_arrays({"conv.weight": kernel})).layers[0]
    assert layer.shape == (16, 27) and layer.reshaped and layer.stored_shape == (16, 3, 3, 3)
    assert np.array_equal(layer.matrix[5], kernel[5].ravel())


def test_scikit_learn_layout_is_detected_and_transposed(rng):
    coefs = {"coefs_0": rng.standard_normal((64, 32)), "coefs_1": rng.standard_normal((32, 10))}  # (in, out)
    selection = select_layers(WeightFile.from_arrays(coefs))
    assert selection.layout == "in-out" and selection.chains and selection.widths == (64, 32, 10)
    assert all(layer.transposed for layer in selection.layers)
    assert np.array_equal(selection.layers[0].matrix, coefs["coefs_0"].T)


def test_pytorch_layout_kept_and_ambiguous_square_chain_defaults_to_out_in(rng):
    torch_like = {"a": rng.standard_normal((32, 64)), "b": rng.standard_normal((10, 32))}
    assert select_layers(WeightFile.from_arrays(torch_like)).layout == "out-in"
    square = {"a": rng.standard_normal((8, 8)), "b": rng.standard_normal((8, 8))}
    selection = select_layers(WeightFile.from_arrays(square))
    assert selection.layout == "out-in" and "both orientations chain" in selection.layout_note
    assert select_layers(WeightFile.from_arrays(square), layout="in-out").layers[0].transposed


def test_layers_that_do_not_chain_are_audited_alone(rng):
    selection = select_layers(
        WeightFile.from_arrays({"a": rng.standard_normal((5, 7)), "b": rng.standard_normal((3, 4))})
    )
    assert not selection.chains and "needs 4 inputs" in selection.chain_break
    with pytest.raises(InputError, match="do not form a network"):
        selection.network()


def test_nan_weights_and_conv_with_in_out_layout_are_errors(rng):
    bad = rng.standard_normal((3, 3))
    bad[1, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        select_layers(WeightFile.from_arrays({"w": bad}))
    with pytest.raises(InputError, match="conv kernel"):
        select_layers(WeightFile.from_arrays({"c": rng.standard_normal((4, 2, 3, 3))}), layout="in-out")


def test_unknown_layout():
    with pytest.raises(InputError, match="unknown layout"):
        select_layers(WeightFile.from_arrays({"w": np.eye(2)}), layout="sideways")


def test_modules_named_fc_fc2_fc3_run_in_module_order_untransposed():
    # sorted as whole strings, fc.weight came last, and --layout auto transposed it so that the wrong
    # order chained: fc2, fc3, fc^T, audited (exit 0) as a network the file does not hold
    rng = np.random.default_rng(0)
    arrays = {"fc.weight": rng.normal(size=(64, 20)), "fc2.weight": rng.normal(size=(64, 64))}
    arrays["fc3.weight"] = rng.normal(size=(64, 64))
    selection = select_layers(WeightFile.from_arrays(arrays))
    assert [layer.name for layer in selection.layers] == ["fc.weight", "fc2.weight", "fc3.weight"]
    assert not any(layer.transposed for layer in selection.layers) and selection.widths == (20, 64, 64, 64)
