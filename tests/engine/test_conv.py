"""Conv layers, conv networks and their files against torch, the unfolded dense operator and exact counts."""

from __future__ import annotations

import json
import sys
from fractions import Fraction

import numpy as np
import pytest

from mbp_verify.engine import (
    ConvNetwork,
    Network,
    conv2d,
    conv2d_adjoint,
    conv_geometry,
    conv_half_width,
    conv_network_from_torch,
    load_any_network,
    load_conv_network,
    load_network,
    prune_network,
    sample_conv_network,
    save_conv_network,
    save_network,
    theorem_prune_count,
    unfold_conv,
)
from mbp_verify.engine.network import META_KEY
from mbp_verify.errors import InputError


@pytest.fixture
def torch():
    """torch, or a skip when the optional torch extra is not installed."""
    return pytest.importorskip("torch")


# (c_out, c_in, kh, kw, H, W, stride): odd, even and non-square kernels, kernels larger than the input
CASES = [
    (2, 3, 3, 3, 8, 8, 1),
    (3, 2, 2, 4, 5, 7, 2),
    (1, 1, 5, 5, 3, 2, 1),
    (4, 3, 1, 1, 6, 6, 2),
    (2, 2, 4, 3, 8, 5, 1),
    (1, 2, 5, 2, 1, 1, 2),
]


def _reference(torch, x, kernel, stride, padding):
    """torch conv2d of the explicitly padded input (numpy 'wrap' for circular)."""
    g = conv_geometry(kernel.shape, x.shape[1:], stride, padding)
    (top, bottom), (left, right) = g.pads
    mode = "wrap" if padding == "circular" else "constant"
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)
    return torch.nn.functional.conv2d(torch.from_numpy(padded), torch.from_numpy(kernel), stride=stride).numpy()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("padding", ["zeros", "circular", "valid"])
@pytest.mark.torch
def test_forward_matches_torch_and_output_rule(case, padding, torch):
    c_out, c_in, kh, kw, h, w, stride = case
    if padding == "valid" and (h < kh or w < kw):
        with pytest.raises(InputError, match="valid"):
            conv_geometry((c_out, c_in, kh, kw), (c_in, h, w), stride, padding)
        return
    rng = np.random.default_rng(sum(case))
    kernel = rng.standard_normal((c_out, c_in, kh, kw))
    x = rng.standard_normal((3, c_in, h, w))
    y = conv2d(x, kernel, stride, padding)
    expected = (
        (-(-h // stride), -(-w // stride)) if padding != "valid" else ((h - kh) // stride + 1, (w - kw) // stride + 1)
    )
    assert y.shape == (3, c_out) + expected
    np.testing.assert_allclose(y, _reference(torch, x, kernel, stride, padding), rtol=0, atol=1e-12)
    np.testing.assert_allclose(conv2d(x[1], kernel, stride, padding), y[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["zeros", "circular"])
@pytest.mark.torch
def test_odd_kernels_match_torch_modules(mode, torch):
    rng = np.random.default_rng(5)
    for k, stride in ((3, 1), (5, 2), (1, 1)):
        layer = torch.nn.Conv2d(2, 3, k, stride=stride, padding=(k - 1) // 2, padding_mode=mode, bias=False).double()
        x = rng.standard_normal((2, 2, 7, 6))
        with torch.no_grad():
            expected = layer(torch.from_numpy(x)).numpy()
        got = conv2d(x, layer.weight.detach().numpy(), stride, mode)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("padding", ["zeros", "circular"])
def test_adjoint_is_the_transpose(case, padding):
    c_out, c_in, kh, kw, h, w, stride = case
    rng = np.random.default_rng(7)
    kernel = rng.standard_normal((c_out, c_in, kh, kw))
    matrix = unfold_conv(kernel, (c_in, h, w), stride, padding)
    out_shape = conv_geometry(kernel.shape, (c_in, h, w), stride, padding).output_shape
    y = rng.standard_normal((2,) + out_shape)
    got = conv2d_adjoint(y, kernel, (c_in, h, w), stride, padding).reshape(2, -1)
    np.testing.assert_allclose(got, y.reshape(2, -1) @ matrix, rtol=0, atol=1e-12)


def test_bad_geometry_is_an_input_error():
    with pytest.raises(InputError, match="padding"):
        conv_geometry((1, 1, 3, 3), (1, 4, 4), 1, "same")
    with pytest.raises(InputError, match="input channels"):
        conv_geometry((1, 2, 3, 3), (1, 4, 4))
    with pytest.raises(InputError, match="stride"):
        conv_geometry((1, 1, 3, 3), (1, 4, 4), 0)
    with pytest.raises(InputError, match="shape"):
        conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3)))


def _net(seed=0, **kwargs):
    options = dict(kernel_size=[3, 2], stride=[1, 2], padding=["circular", "zeros"], dense=[5, 3])
    options.update(kwargs)
    return sample_conv_network((3, 8, 8), [4, 6], np.random.default_rng(seed), **options)


@pytest.mark.torch
def test_network_forward_matches_unfolding_and_torch(torch):
    net = _net()
    x = np.random.default_rng(1).standard_normal((4, 3, 8, 8))
    dense = net.to_dense()
    assert dense.widths == net.widths == (192, 256, 96, 5, 3)
    np.testing.assert_allclose(net.forward(x), dense.forward(x.reshape(4, -1)), rtol=0, atol=1e-12)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular", bias=False),
        torch.nn.ReLU(),
        torch.nn.ZeroPad2d((0, 1, 0, 1)),
        torch.nn.Conv2d(4, 6, 2, stride=2, bias=False),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(96, 5, bias=False),
        torch.nn.ReLU(),
        torch.nn.Linear(5, 3, bias=False),
    ).double()
    with torch.no_grad():
        for module, w in zip([model[0], model[3], model[6], model[8]], net.weights):
            module.weight.copy_(torch.from_numpy(w.copy()))
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net.forward(x), expected, rtol=0, atol=1e-12)


def test_network_validation():
    k = np.ones((2, 1, 3, 3))
    with pytest.raises(InputError, match="conv layers come first"):
        ConvNetwork([np.ones((3, 16)), k], ["dense", "conv"], (1, 4, 4))
    with pytest.raises(InputError, match="columns"):
        ConvNetwork([k, np.ones((3, 31))], ["conv", "dense"], (1, 4, 4))
    with pytest.raises(InputError, match="4-D conv kernel"):
        ConvNetwork([np.ones((2, 9))], ["conv"], (1, 4, 4))
    with pytest.raises(InputError, match="NaN"):
        ConvNetwork([np.full((2, 1, 3, 3), np.nan)], ["conv"], (1, 4, 4))
    with pytest.raises(InputError, match="2 weight arrays but 1"):
        ConvNetwork([k, np.ones((3, 32))], ["conv"], (1, 4, 4))
    with pytest.raises(InputError, match="unknown conv layer fields"):
        ConvNetwork([k], [{"kind": "conv", "dilation": 2}], (1, 4, 4))
    with pytest.raises(InputError, match="inputs must have shape"):
        ConvNetwork([k], ["conv"], (1, 4, 4)).forward(np.zeros((2, 1, 4, 5)))


def test_sampling_scale_and_counts():
    net = _net(3)
    kernel = net.weights[1]
    half = conv_half_width(kernel.shape, 1.0)
    assert half == 1 / np.sqrt(6 * 2 * 2) and np.abs(kernel).max() <= half
    assert np.abs(kernel).max() > 0.8 * half  # drawn at that scale, not smaller
    pair = prune_network(net, Fraction(3, 10))
    for w, mask, count in zip(net.weights, pair.masks, pair.counts):
        assert count == theorem_prune_count(w.size, "0.3") and w.size == int(np.prod(w.shape))
        assert int((~mask).sum()) == count
        assert np.abs(w[~mask]).max() <= np.abs(w[mask]).min()
    random_pair = prune_network(net, 0.3, method="random", rng=np.random.default_rng(0))
    assert random_pair.counts == pair.counts
    assert [int((~m).sum()) for m in random_pair.masks] == list(pair.counts)
    assert isinstance(pair.pruned, ConvNetwork) and pair.pruned.layers == net.layers


def test_file_round_trip_and_dense_files(tmp_path):
    net = _net(activation="leaky_relu(a=0.2)")
    path = tmp_path / "cnn.npz"
    save_conv_network(path, net)
    loaded = load_conv_network(path)
    assert loaded.layers == net.layers and loaded.input_shape == net.input_shape
    assert [str(a) for a in loaded.activations] == [str(a) for a in net.activations]
    assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, net.weights))
    assert isinstance(load_any_network(path), ConvNetwork)
    with pytest.raises(InputError, match="load_conv_network"):
        load_network(path)
    dense_path = tmp_path / "dense.npz"
    np.savez(dense_path, W1=np.ones((3, 2)), W2=np.ones((1, 3)))  # a file as written before metadata existed
    assert isinstance(load_any_network(dense_path), Network)
    assert load_network(dense_path).widths == (2, 3, 1)
    with pytest.raises(InputError, match="no layer metadata"):
        load_conv_network(dense_path)
    save_network(tmp_path / "again.npz", load_network(dense_path))
    assert load_any_network(tmp_path / "again.npz").widths == (2, 3, 1)


def test_bad_metadata_is_an_input_error(tmp_path):
    for meta, message in [
        ("{not json", "not valid JSON"),
        (json.dumps({"format": "x"}), "not an"),
        (json.dumps({"format": "mbp_verify.network", "version": 9}), "version"),
        (json.dumps({"format": "mbp_verify.network", "version": 1, "layers": []}), "input_shape"),
    ]:
        path = tmp_path / "bad.npz"
        np.savez(path, W1=np.ones((1, 1, 3, 3)), **{META_KEY: np.array(meta)})
        with pytest.raises(InputError, match=message):
            load_conv_network(path)


def _torch_model(torch):
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1, bias=False),
        torch.nn.ReLU(),
        torch.nn.Conv2d(3, 4, 3, stride=2, bias=False),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 2 * 2, 3, bias=False),
    ).double()


ARCH = {
    "input_shape": [2, 6, 6],
    "activation": "relu",
    "layers": [
        {"kind": "conv", "weight": "0.weight", "padding": 1},
        {"kind": "conv", "weight": "2.weight", "stride": 2, "padding": 0},
        {"kind": "dense", "weight": "5.weight"},
    ],
}


@pytest.mark.torch
def test_torch_state_dict_import(tmp_path, torch):
    model = _torch_model(torch)
    x = np.random.default_rng(2).standard_normal((3, 2, 6, 6))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    net = conv_network_from_torch(model.state_dict(), ARCH)
    assert [s.padding for s in net.layers[:2]] == ["zeros", "valid"]
    np.testing.assert_allclose(net.forward(x), expected, rtol=0, atol=1e-12)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    (tmp_path / "arch.json").write_text(json.dumps(ARCH))
    from_files = conv_network_from_torch(tmp_path / "model.pt", tmp_path / "arch.json")
    np.testing.assert_allclose(from_files.forward(x), expected, rtol=0, atol=1e-12)


@pytest.mark.torch
def test_torch_import_errors(tmp_path, monkeypatch, torch):
    state = _torch_model(torch).state_dict()
    state["0.bias"] = torch.ones(3)
    with pytest.raises(InputError, match="non-zero; networks here have no biases"):
        conv_network_from_torch(state, ARCH)
    bad = json.loads(json.dumps(ARCH))
    bad["layers"][0]["padding"] = 2
    with pytest.raises(InputError, match="torch padding 2"):
        conv_network_from_torch(_torch_model(torch).state_dict(), bad)
    bad["layers"][0]["weight"] = "9.weight"
    with pytest.raises(InputError, match="not in the state dict"):
        conv_network_from_torch(_torch_model(torch).state_dict(), bad)
    with pytest.raises(InputError, match="not valid JSON"):
        conv_network_from_torch(_torch_model(torch).state_dict(), "{oops")
    torch.save(_torch_model(torch).state_dict(), tmp_path / "model.pt")
    arrays = {k: v.numpy() for k, v in _torch_model(torch).state_dict().items()}
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(InputError, match="needs PyTorch"):
        conv_network_from_torch(tmp_path / "model.pt", ARCH)
    assert conv_network_from_torch(arrays, ARCH).widths == (72, 108, 16, 3)  # numpy arrays need no torch
