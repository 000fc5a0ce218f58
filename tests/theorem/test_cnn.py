"""CNN trials: the settings table, the cnn TrialSpec, channel profiles, sampling, counts and seeds."""

import math

import numpy as np
import pytest

from mbp_verify.engine import ConvNetwork, conv_half_width
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for
from mbp_verify.theorem import TrialSpec, channel_profile, run_trial, setting_for
from mbp_verify.theorem.trial import prune_trial_network, sample_trial_network


@pytest.mark.parametrize(
    "arch, pruning, theorem, kind, required",
    [
        ("fcn", "magnitude", "Theorem 1", "proved", True),
        ("fcn", "random", "Theorem 2", "proved", True),
        ("cnn", "random", "Theorem 3", "proved", True),
        ("cnn", "magnitude", None, "beyond", False),
        ("fcn", "largest", None, "negative control", True),
        ("cnn", "largest", None, "negative control", True),
        ("fcn", "review", None, "negative control", True),
    ],
)
def test_each_family_names_the_theorem_it_tests(arch, pruning, theorem, kind, required):
    setting = setting_for(arch, pruning)
    assert (setting.theorem, setting.kind, setting.required) == (theorem, kind, required)
    assert setting.to_dict() == {
        "arch": arch,
        "pruning": pruning,
        "theorem": theorem,
        "setting": kind,
        "required": required,
        "description": setting.description,
    }
    assert (theorem is None or setting.description.startswith(theorem)) and ("advisory" in setting.description) == (
        not required
    )


@pytest.mark.parametrize("arch, pruning", [("rnn", "random"), ("cnn", "smallest"), ("fcn", "")])
def test_unknown_settings_are_input_errors(arch, pruning):
    with pytest.raises(InputError):
        setting_for(arch, pruning)


def test_channel_profile_keeps_hypothesis_ii():
    assert channel_profile(8, 3) == (8, 8, 8, 8)
    assert channel_profile(16, 4, 3) == (3, 16, 16, 16, 3)
    with pytest.raises(InputError, match="exceed the width"):
        channel_profile(4, 3, 5)


def _cnn(**changes):
    spec = dict(width=6, alpha=0.3, eps=1.0, arch="cnn", pruning="random", kernel=3, image=5, in_channels=2)
    spec.update(changes)
    return TrialSpec(**spec)


@pytest.mark.parametrize(
    "change",
    [
        dict(arch="rnn"),
        dict(kernel=0),
        dict(kernel=6),  # larger than the 5x5 image
        dict(kernel=2.5),
        dict(image=0),
        dict(image="8"),
        dict(padding="valid"),
        dict(in_channels=7),  # more than the 6 hidden channels
        dict(in_channels=0),
        dict(depth=1),
        dict(weights="gaussian"),
        dict(shape="rectangular"),
        dict(arch="fcn", width=8),  # conv settings given to a dense spec
        dict(arch="fcn", width=8, kernel=3, image=8, in_channels=None, padding="circular"),
    ],
)
def test_bad_cnn_specs(change):
    with pytest.raises(InputError):
        _cnn(**change)


def test_the_cnn_network_is_the_documented_profile_at_the_conv_scale():
    spec = _cnn(padding="circular")
    net = sample_trial_network(spec, rng_for(1, spec.network_id, 0))
    assert isinstance(net, ConvNetwork) and net.input_shape == (2, 5, 5)
    assert [w.shape for w in net.weights] == [(6, 2, 3, 3), (6, 6, 3, 3), (2, 6, 3, 3)]
    assert all(layer.kind == "conv" and layer.padding == "circular" and layer.stride == 1 for layer in net.layers)
    for w in net.weights:
        half = conv_half_width(w.shape)
        assert np.abs(w).max() <= half and np.abs(w).max() > 0.8 * half  # U[-a, a], a = K / sqrt(max(c) k^2)


@pytest.mark.parametrize("rule", ["random", "magnitude", "largest"])
def test_every_rule_prunes_floor_d_to_the_one_minus_alpha_of_each_kernel(rule):
    spec = _cnn(pruning=rule)
    rng = rng_for(1, spec.network_id, 0)
    net = sample_trial_network(spec, rng)
    pair = prune_trial_network(spec, net, rng)
    for w, mask, count in zip(net.weights, pair.masks, pair.counts):
        d = w.size  # c_out * c_in * kh * kw
        assert count == math.floor(d ** (1 - 0.3)) and int(mask.size - mask.sum()) == count
    if rule == "magnitude":
        for w, mask in zip(net.weights, pair.masks):
            assert np.abs(w[~mask]).max() <= np.abs(w[mask]).min()


def test_random_and_magnitude_see_the_same_networks_and_random_differs_per_trial():
    spec = _cnn()
    assert spec.network_id == _cnn(pruning="magnitude", alpha=0.2, eps=9.0).network_id
    assert spec.network_id != _cnn(kernel=1).network_id != _cnn(padding="circular").network_id
    assert spec.network_id != TrialSpec(width=6, alpha=0.3, eps=1.0).network_id
    a, b = (sample_trial_network(spec, rng_for(1, spec.network_id, i)) for i in (0, 1))
    assert not np.array_equal(a.weights[0], b.weights[0])
    masks = []
    for seed in (1, 2):
        rng = rng_for(seed, spec.network_id, 0)
        masks.append(prune_trial_network(spec, sample_trial_network(spec, rng), rng).masks[1])
    assert not np.array_equal(*masks)


def test_a_cnn_trial_is_a_function_of_seed_spec_and_index():
    spec = _cnn(width=3, image=3, in_channels=1)
    first, again, other = run_trial(spec, 5, 0), run_trial(spec, 5, 0), run_trial(spec, 5, 1)
    assert first == again and first != other
    assert 0 < first.lower <= first.upper
    assert first.outcome == (
        "certified" if first.upper <= spec.eps else "violated" if first.lower > spec.eps else "unknown"
    )


def test_cnn_spec_records_its_conv_settings_and_a_dense_spec_does_not():
    record = _cnn().to_dict()
    assert {k: record[k] for k in ("arch", "kernel", "image", "in_channels", "padding", "widths")} == {
        "arch": "cnn",
        "kernel": 3,
        "image": 5,
        "in_channels": 2,
        "padding": "zeros",
        "widths": [2, 6, 6, 2],
    }
    dense = TrialSpec(width=8, alpha=0.3, eps=1.0).to_dict()
    assert dense["arch"] == "fcn" and not {"kernel", "image", "in_channels", "padding"} & set(dense)
