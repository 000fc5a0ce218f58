"""One trial of a pruning guarantee: sample F, prune it, bracket sup ||f - F||, decide.

`arch="fcn"` samples a fully connected network at a width profile (Theorems 1 and 2),
`arch="cnn"` a convolutional one whose width is the channel count (`theorem.cnn`; Theorem 3,
and MBP beyond the theorems), bracketed by the conv bracket.

A trial's randomness comes only from `rng_for(root_seed, spec.network_id, index)`: the network,
a random mask (if any) and the bracket's search all draw from that one generator in a fixed
order, so the outcome is a function of (root seed, spec, index) and never of the worker.
The network id leaves out eps, alpha and the pruning rule, so every pruning rule and every
alpha of a sweep is applied to the same sampled networks (a paired comparison).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .._validation import validate_integer
from ..bounds import EFFORTS as BRACKET_EFFORTS
from ..bounds import Decision, ErrorBracket, bracket_sup_error
from ..bounds.conv_bracket import bracket_conv_sup_error
from ..engine import (
    ConvNetwork,
    Network,
    NetworkPair,
    parse_activation,
    prune_network,
    sample_network,
    validate_alpha,
)
from ..errors import InputError
from ..seeding import rng_for
from .cnn import CONV_DEFAULTS, channel_profile, check_cnn_geometry, sample_cnn
from .settings import ARCHITECTURES, Setting, setting_for

__all__ = [
    "Outcome",
    "WEIGHT_LAWS",
    "PRUNING_RULES",
    "SHAPES",
    "EFFORTS",
    "ARCHITECTURES",
    "TrialSpec",
    "TrialOutcome",
    "width_profile",
    "sample_trial_network",
    "prune_trial_network",
    "bracket_trial_pair",
    "run_trial",
]

Outcome = Decision  # the bracket's decision: certified, violated or unknown
WEIGHT_LAWS = ("uniform", "gaussian", "cauchy")
PRUNING_RULES = ("magnitude", "random", "largest", "review")
SHAPES = ("square", "rectangular")
EFFORTS = tuple(BRACKET_EFFORTS)


def width_profile(width: int, depth: int, shape: str = "square") -> tuple[int, ...]:
    """(d_0, ..., d_L) with min hidden width d = `width` and hypothesis (ii) satisfied.

    `square`: every width is d. `rectangular`: d_0 = d/2, hidden widths alternate d and 2d,
    d_L = d/4 (so d = min(d_1..d_{L-1}) >= max(d_0, d_L) still holds).
    """
    d = validate_integer(width, "width", 4)
    depth = validate_integer(depth, "depth (weight layers, one hidden layer at least)", 2)
    if shape == "square":
        return (d,) * (depth + 1)
    if shape == "rectangular":
        hidden = tuple(d if i % 2 == 0 else 2 * d for i in range(depth - 1))
        return (d // 2, *hidden, d // 4)
    raise InputError(f"unknown width profile {shape!r}; use one of {', '.join(SHAPES)}")


def _positive_finite(value: object, what: str) -> None:
    try:
        valid = not isinstance(value, bool) and math.isfinite(value) and value > 0  # type: ignore[arg-type, operator]
    except TypeError:
        valid = False
    if not valid:
        raise InputError(f"{what} must be a positive finite number, got {value!r}")


@dataclass(frozen=True)
class TrialSpec:
    """What one trial samples and checks (everything but the trial index and root seed)."""

    width: int
    alpha: float
    eps: float
    depth: int = 3
    activation: str = "relu"
    weights: str = "uniform"
    pruning: str = "magnitude"
    shape: str = "square"
    scale: float = 1.0
    effort: str = "fast"
    random_trials: int = 0
    arch: str = "fcn"
    kernel: int = CONV_DEFAULTS["kernel"]
    image: int = CONV_DEFAULTS["image"]
    in_channels: "int | None" = CONV_DEFAULTS["in_channels"]
    padding: str = CONV_DEFAULTS["padding"]

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise InputError(f"unknown architecture {self.arch!r}; use one of {', '.join(ARCHITECTURES)}")
        if self.arch == "fcn":
            width_profile(self.width, self.depth, self.shape)
            conv = {k: getattr(self, k) for k, v in CONV_DEFAULTS.items() if getattr(self, k) != v}
            if conv:
                raise InputError(f"{', '.join(conv)} apply to arch 'cnn' only, got {conv} with arch 'fcn'")
        else:
            channel_profile(self.width, self.depth, self.in_channels)
            check_cnn_geometry(self.kernel, self.image, self.padding)
            for name, value, only in (("width profile", self.shape, "square"), ("weight law", self.weights, "uniform")):
                if value != only:
                    raise InputError(f"a cnn sweep supports the {name} {only!r} only, got {value!r}")
        validate_alpha(self.alpha)
        parse_activation(self.activation)
        _positive_finite(self.eps, "eps")
        validate_integer(self.random_trials, "random_trials")
        _positive_finite(self.scale, "weight scale K")
        for value, allowed, what in (
            (self.weights, WEIGHT_LAWS, "weight law"),
            (self.pruning, PRUNING_RULES, "pruning rule"),
            (self.effort, EFFORTS, "bracket effort"),
        ):
            if value not in allowed:
                raise InputError(f"unknown {what} {value!r}; use one of {', '.join(allowed)}")

    @property
    def widths(self) -> tuple[int, ...]:
        """Layer widths (d_0, ..., d_L); for arch 'cnn' the channel counts (c_0, ..., c_L)."""
        if self.arch == "cnn":
            return channel_profile(self.width, self.depth, self.in_channels)
        return width_profile(self.width, self.depth, self.shape)

    @property
    def setting(self) -> Setting:
        """The theorem this cell tests (or that it is beyond the theorems, or a negative control)."""
        return setting_for(self.arch, self.pruning)

    @property
    def square_counts(self) -> bool:
        """Whether every D_l grows like width^2 (the scaling audit predicts slopes only then)."""
        return self.arch == "fcn" or self.in_channels is None

    @property
    def network_id(self) -> str:
        """Seed id of the sampled networks (independent of eps, alpha and the pruning rule)."""
        if self.arch == "cnn":
            return (
                f"theorem.trial/arch=cnn/channels={'x'.join(map(str, self.widths))}/kernel={self.kernel}/"
                f"image={self.image}/padding={self.padding}/act={self.activation}/weights={self.weights}/"
                f"K={self.scale!r}"
            )
        return (
            f"theorem.trial/widths={'x'.join(map(str, self.widths))}/act={self.activation}/"
            f"weights={self.weights}/K={self.scale!r}"
        )

    @property
    def label(self) -> str:
        return f"alpha={self.alpha:g} d={self.width}"

    def with_changes(self, **changes: object) -> "TrialSpec":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "widths": list(self.widths),
            "alpha": self.alpha,
            "eps": self.eps,
            "depth": self.depth,
            "activation": self.activation,
            "weights": self.weights,
            "pruning": self.pruning,
            "shape": self.shape,
            "scale": self.scale,
            "effort": self.effort,
            "arch": self.arch,
            **({k: getattr(self, k) for k in CONV_DEFAULTS} if self.arch == "cnn" else {}),
        }


@dataclass(frozen=True)
class TrialOutcome:
    """The decided outcome, the bracket [lower, upper] and random pruning's bracket on the same F
    (for trials with index < spec.random_trials, else None)."""

    index: int
    outcome: Outcome
    lower: float
    upper: float
    random_lower: "float | None" = None
    random_upper: "float | None" = None

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "outcome": self.outcome,
            "lower": self.lower,
            "upper": self.upper,
            "random_lower": self.random_lower,
            "random_upper": self.random_upper,
        }


def sample_trial_network(spec: TrialSpec, rng: np.random.Generator) -> "Network | ConvNetwork":
    """F under hypothesis (iii), Gaussian weights of the same variance, or Cauchy weights;
    for arch 'cnn' a convolutional network with kernels at (iii)'s conv scale (`theorem.cnn`)."""
    if spec.arch == "cnn":
        return sample_cnn(
            spec.width,
            spec.depth,
            spec.in_channels,
            spec.kernel,
            spec.image,
            spec.padding,
            rng,
            scale=spec.scale,
            activation=spec.activation,
        )
    return sample_network(spec.widths, rng, scale=spec.scale, activation=spec.activation, distribution=spec.weights)  # type: ignore[arg-type]


def prune_trial_network(spec: TrialSpec, network: "Network | ConvNetwork", rng: np.random.Generator) -> NetworkPair:
    """Theorem 1's count floor(D_l^(1-alpha)) with the spec's rule (D_l = c_out c_in kh kw for a
    kernel; `random` is a uniform subset of that count; `review` keeps only D^(-alpha))."""
    return prune_network(network, spec.alpha, method=spec.pruning, rng=rng)  # type: ignore[arg-type]


def bracket_trial_pair(pair: NetworkPair, rng: np.random.Generator, effort: str) -> ErrorBracket:
    """Bracket sup_{||x|| <= 1} ||f(x) - F(x)||: the dense bracket, or the conv bracket for a CNN."""
    if isinstance(pair.original, ConvNetwork):
        return bracket_conv_sup_error(pair.original, pair.pruned, effort=effort, rng=rng)  # type: ignore[arg-type]
    return bracket_sup_error(pair, rng=rng, effort=effort)  # type: ignore[arg-type]


def run_trial(spec: TrialSpec, root_seed: int, index: int) -> TrialOutcome:
    """Sample, prune, bracket and decide trial `index` of `spec` (module-level: picklable)."""
    if not isinstance(spec, TrialSpec):
        raise InputError(f"run_trial needs a TrialSpec, got {type(spec).__name__}")
    index = validate_integer(index, "trial index")
    rng = rng_for(validate_integer(root_seed, "root seed"), spec.network_id, index)
    network = sample_trial_network(spec, rng)
    pair = prune_trial_network(spec, network, rng)
    bracket = bracket_trial_pair(pair, rng, spec.effort)
    random_lower = random_upper = None
    if index < spec.random_trials:
        random_pair = prune_network(network, spec.alpha, method="random", rng=rng)
        random_bracket = bracket_trial_pair(random_pair, rng, spec.effort)
        random_lower, random_upper = float(random_bracket.lower), float(random_bracket.upper)
    return TrialOutcome(
        index, bracket.decide(spec.eps), float(bracket.lower), float(bracket.upper), random_lower, random_upper
    )
