"""Other libraries' activation names and parameter names map to ours, and compute the same function."""

from __future__ import annotations

import numpy as np
import pytest

from mbp_verify.engine.activations import parse_activation
from mbp_verify.errors import InputError

ALIASES = [
    ("ReLU", "relu"),
    ("Tanh", "tanh"),
    ("GELU", "gelu"),
    ("GELU(approximate='tanh')", "gelu_tanh"),
    ('gelu(approximate="none")', "gelu"),
    ("gelu_new", "gelu_tanh"),
    ("gelu_pytorch_tanh", "gelu_tanh"),
    ("Swish", "silu"),
    ("SiLU", "silu"),
    ("LeakyReLU(negative_slope=0.2)", "leaky_relu(a=0.2)"),
    ("leaky_relu(alpha=0.3)", "leaky_relu(a=0.3)"),
    ("ELU(alpha=2)", "elu(a=2.0)"),
    ("Hardswish", "hardswish"),
    ("hard_silu", "hardswish"),
    ("Hardsigmoid", "hardsigmoid"),
    ("hard_tanh", "hardtanh"),
    ("ReLU6", "relu6"),
    ("Softplus(beta=2)", "softplus(beta=2.0)"),
    ("linear", "identity"),
]


@pytest.mark.parametrize("alias, canonical", ALIASES)
def test_alias_is_reported_under_the_canonical_name(alias: str, canonical: str) -> None:
    assert str(parse_activation(alias)) == str(parse_activation(canonical))


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("hard_sigmoid", "Keras 3"),  # two libraries, two functions: refused, not guessed
        ("gelu(approximate=foo)", "'none' or 'tanh'"),
        ("gelu_tanh(approximate=none)", "at once"),
        ("leaky_relu(a=0.1, negative_slope=0.2)", "given twice"),
        ("tanhshrink", "unknown activation"),
        ("celu(a=0)", "a != 0"),
    ],
)
def test_ambiguous_or_conflicting_names_are_refused(spec: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_activation(spec)


def test_parameter_alias_also_applies_to_overrides() -> None:
    assert str(parse_activation("LeakyReLU", negative_slope=0.3)) == "leaky_relu(a=0.3)"


@pytest.mark.parametrize(
    "ours, build",
    [
        ("ReLU", lambda nn: nn.ReLU()),
        ("LeakyReLU(negative_slope=0.2)", lambda nn: nn.LeakyReLU(negative_slope=0.2)),
        ("ELU(alpha=2)", lambda nn: nn.ELU(alpha=2.0)),
        ("CELU(alpha=2)", lambda nn: nn.CELU(alpha=2.0)),
        ("CELU(alpha=0.3)", lambda nn: nn.CELU(alpha=0.3)),
        ("CELU", lambda nn: nn.CELU()),
        ("GELU", lambda nn: nn.GELU()),
        ("GELU(approximate='tanh')", lambda nn: nn.GELU(approximate="tanh")),
        ("SiLU", lambda nn: nn.SiLU()),
        ("Mish", lambda nn: nn.Mish()),
        ("Hardswish", lambda nn: nn.Hardswish()),
        ("Hardsigmoid", lambda nn: nn.Hardsigmoid()),
        ("Hardtanh", lambda nn: nn.Hardtanh()),
        ("ReLU6", lambda nn: nn.ReLU6()),
        ("Softplus(beta=2)", lambda nn: nn.Softplus(beta=2.0, threshold=1e9)),
        ("Softsign", lambda nn: nn.Softsign()),
        ("SELU", lambda nn: nn.SELU()),
    ],
)
def test_aliases_compute_what_torch_computes(ours: str, build) -> None:
    torch = pytest.importorskip("torch")
    x = np.linspace(-8.0, 8.0, 4001)
    expected = build(torch.nn)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(parse_activation(ours)(x), expected, rtol=1e-12, atol=1e-14)


def test_cli_takes_other_libraries_names(tmp_path, capsys) -> None:
    import json

    from mbp_verify.cli import main

    assert main(["lipschitz", "GELU(approximate='tanh')", "--json", str(tmp_path / "a.json")]) == 0
    assert main(["lipschitz", "gelu_tanh", "--json", str(tmp_path / "b.json")]) == 0
    first, second = (json.loads((tmp_path / name).read_text()) for name in ("a.json", "b.json"))
    assert first["name"] == "gelu_tanh" and first["lipschitz"] == second["lipschitz"]
    assert main(["lipschitz", "Softmax"]) == 0
    assert "K = 0.5" in capsys.readouterr().out
    assert main(["lipschitz", "hard_sigmoid"]) == 2
    assert "Keras 3" in capsys.readouterr().err
