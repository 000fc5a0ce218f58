"""Network model: validation, forward pass, sampling, .npz round trip and bad files."""

import numpy as np
import pytest

from mbp_verify.engine import (
    Network,
    activation_names,
    load_network,
    natural_layer_order,
    parse_activation,
    prune_network,
    sample_network,
    save_network,
)
from mbp_verify.errors import InputError


def test_forward_matches_hand_computation():
    w1 = np.array([[1.0, -2.0], [0.5, 1.0]])
    w2 = np.array([[1.0, 1.0]])
    net = Network([w1, w2], "relu")
    x = np.array([1.0, 1.0])
    assert net.forward(x).tolist() == [1.5]  # relu([-1, 1.5]) = [0, 1.5]
    assert net.forward(np.stack([x, -x])).shape == (2, 1)
    assert net.widths == (2, 2, 1) and net.depth == 2


def test_last_layer_is_linear_and_activation_per_layer():
    w = [np.eye(2), np.eye(2), -np.eye(2)]
    net = Network(w, ["identity", "relu"])
    assert net.forward(np.array([-1.0, 2.0])).tolist() == [0.0, -2.0]


def test_weights_are_read_only_copies():
    w = np.eye(3)
    net = Network([w])
    w[0, 0] = 5.0
    assert net.weights[0][0, 0] == 1.0
    with pytest.raises(ValueError):
        net.weights[0][0, 0] = 2.0


@pytest.mark.parametrize(
    "weights, match",
    [
        ([np.ones((3, 2)), np.ones((2, 4))], "do not chain"),
        ([np.ones(3)], "2-D"),
        ([np.array([[np.nan]])], "NaN"),
        ([np.array([[np.inf]])], "NaN or infinite"),
        ([np.array([["a"]])], "dtype"),
        ([], "non-empty"),
        ([np.zeros((0, 2))], "empty"),
    ],
)
def test_bad_networks(weights, match):
    with pytest.raises(InputError, match=match):
        Network(weights)


def test_activation_count_and_unknown_name():
    with pytest.raises(InputError, match="hidden activations"):
        Network([np.eye(2), np.eye(2)], ["relu", "relu"])
    with pytest.raises(InputError, match="unknown activation 'tanhshrink'"):
        Network([np.eye(2), np.eye(2)], "tanhshrink")


def test_parse_activation_parameters():
    spec = parse_activation("leaky_relu(a=0.2)")
    assert spec.param_dict == {"a": 0.2}
    assert spec(np.array([-1.0, 2.0])).tolist() == [-0.2, 2.0]
    assert str(spec) == "leaky_relu(a=0.2)"
    for bad, match in [
        ("leaky_relu(b=1)", "no parameter"),
        ("elu(a=x)", "not a number"),
        ("relu(", "cannot parse"),
        ("softplus(beta=-1)", "beta > 0"),
        ("elu(1)", "key=value"),
    ]:
        with pytest.raises(InputError, match=match):
            parse_activation(bad)


def test_every_registered_activation_is_finite_and_zero_preserving_where_expected():
    x = np.linspace(-50, 50, 1001)
    for name in activation_names():
        y = parse_activation(name)(x)
        assert np.isfinite(y).all(), name
    assert parse_activation("sigmoid")(np.array([0.0]))[0] == 0.5


def test_sampling_is_seeded_and_within_hypothesis_iii():
    a = sample_network([8, 16, 4], np.random.SeedSequence(5), scale=2.0)
    b = sample_network([8, 16, 4], np.random.SeedSequence(5), scale=2.0)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))
    assert np.abs(a.weights[0]).max() <= 2.0 / 4.0  # K / sqrt(max(16, 8))
    gaussian = sample_network([300, 300], np.random.SeedSequence(1), distribution="gaussian")
    assert gaussian.weights[0].std() == pytest.approx(1 / np.sqrt(300) / np.sqrt(3), rel=0.02)
    with pytest.raises(InputError, match="distribution"):
        sample_network([2, 2], 0, distribution="laplace")
    with pytest.raises(InputError, match="widths"):
        sample_network([3], 0)


def test_npz_round_trip_and_natural_order(tmp_path):
    net = sample_network([3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2], np.random.SeedSequence(0))
    path = tmp_path / "net.npz"
    save_network(path, net)
    loaded = load_network(path)
    assert loaded.widths == net.widths
    assert all(np.array_equal(x, y) for x, y in zip(loaded.weights, net.weights))
    assert natural_layer_order(["W10", "W2", "W1"]) == ["W1", "W2", "W10"]
    # PyTorch modules named fc, fc2, fc3: fc.weight sorted after fc3.weight, and an audit of square layers
    # chained them in the wrong order (exit 0, consequences of another network)
    names = ["fc3.weight", "fc.weight", "fc10.weight", "fc2.weight", "0.weight", "layers.10.weight", "layers.2.weight"]
    assert natural_layer_order(names) == [
        "0.weight",
        "fc.weight",
        "fc2.weight",
        "fc3.weight",
        "fc10.weight",
        "layers.2.weight",
        "layers.10.weight",
    ]


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_network(tmp_path / "missing.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a .npz network"):
        load_network(corrupt)
    text = tmp_path / "notes.npz"
    text.write_text("garbage")
    with pytest.raises(InputError, match="not a .npz network"):
        load_network(text)
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, W1=np.ones((3, 3)))
    truncated.write_bytes(truncated.read_bytes()[:-30])
    with pytest.raises(InputError, match="not a .npz network|cannot read"):
        load_network(truncated)
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, W1=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError):
        load_network(pickled)


def test_prune_network_methods():
    net = sample_network([10, 10, 10], np.random.SeedSequence(2))
    mbp = prune_network(net, 0.5)
    largest = prune_network(net, 0.5, method="largest")
    assert mbp.counts == largest.counts == (10, 10)
    w = net.weights[0]
    assert np.abs(w[~largest.masks[0]]).min() >= np.abs(w[largest.masks[0]]).max()
    with pytest.raises(InputError, match="rng"):
        prune_network(net, 0.5, method="random")
    with pytest.raises(InputError, match="method"):
        prune_network(net, 0.5, method="smallest")
    with pytest.raises(InputError, match="mask 1"):
        net.masked([np.ones((3, 3)), np.ones((10, 10))])
    with pytest.raises(InputError, match="mask 2 is not binary"):
        net.masked([np.ones((10, 10)), np.full((10, 10), 0.5)])
    with pytest.raises(InputError, match="1 masks given, the network has 2 layers"):
        net.masked([np.ones((10, 10))])
    assert np.array_equal(
        net.masked([np.ones((10, 10), np.int8), np.zeros((10, 10), bool)]).weights[1], np.zeros((10, 10))
    )


def test_a_pruned_pair_must_share_its_architecture():
    from mbp_verify.engine import NetworkPair

    net = sample_network([2, 3, 2], np.random.SeedSequence(0))
    with pytest.raises(InputError, match="different widths"):
        NetworkPair(net, sample_network([2, 4, 2], np.random.SeedSequence(0)), (), ())
    with pytest.raises(InputError, match="same activations"):
        NetworkPair(net, sample_network([2, 3, 2], np.random.SeedSequence(0), activation="tanh"), (), ())
    with pytest.raises(InputError, match="one mask and one count per layer"):
        NetworkPair(net, net, (), ())


def test_review_reading_keeps_only_d_to_the_minus_alpha_and_cauchy_weights_are_heavy_tailed():
    from mbp_verify.engine import review_kept_fraction

    net = sample_network([64, 64], np.random.SeedSequence(5), distribution="cauchy")
    w = net.weights[0]
    half = 1 / 8  # 1/sqrt(64)
    assert np.median(np.abs(w)) == pytest.approx(half / 2, rel=0.15) and np.abs(w).max() > 10 * half
    review = prune_network(net, 0.3, method="review")
    kept = int(np.count_nonzero(review.masks[0]))
    assert kept == int(np.floor(review_kept_fraction(w.size, 0.3) * w.size))
    assert kept < w.size - prune_network(net, 0.3).counts[0]
    assert np.abs(w[review.masks[0]]).min() >= np.abs(w[~review.masks[0]]).max()


def test_an_unreadable_network_file_is_named_as_such(tmp_path, monkeypatch):
    # it was reported as "not a .npz network (not a zip archive ...)": zipfile.is_zipfile swallows the OSError
    import os

    save_network(tmp_path / "net.npz", Network([np.ones((2, 2))]))
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if str(p).endswith("net.npz") else real(p, mode, **kw)
    )
    with pytest.raises(InputError, match=r"cannot read network file .*net\.npz': permission denied"):
        load_network(tmp_path / "net.npz")


@pytest.mark.parametrize(
    "weight, shown",
    [
        (np.array([[2**53 + 1, 1]], dtype=np.int64), "9007199254740993"),
        (np.array([[np.iinfo(np.int64).max, 1]], dtype=np.int64), "9223372036854775807"),
        (np.array([[np.longdouble(1) / 3, 1]], dtype=np.longdouble), "float64 cannot hold exactly"),
    ],
)
def test_weights_that_float64_would_round_are_refused(weight, shown):
    # int64 and float128 entries used to be rounded to float64 in silence: the result was about
    # another network than the one in the file
    if weight.dtype == np.longdouble and np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(InputError, match="cannot hold exactly") as error:
        Network([weight])
    assert shown in str(error.value)
    assert Network([np.array([[2**53, 1]], dtype=np.int64)]).weights[0][0, 0] == 2.0**53  # exact ones pass
