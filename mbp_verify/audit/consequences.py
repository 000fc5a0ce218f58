"""What violating (iii) costs: the pruned error of the real chain against two controls.

At Theorem 1's count for the chosen alpha, `bracket_sup_error` brackets sup ||f(x) - F(x)|| for
three networks with the same widths and activations:

- **real**: the audited weights;
- **surrogate**: iid U[-a_l, a_l] with a_l = sqrt(3) * RMS(W_l), i.e. the theorem's setting at the
  same shapes and the same Frobenius norms;
- **shuffled**: every W_l with its entries permuted at random: the same values (marginal), with
  any dependence or structure destroyed.

real / surrogate says how much of the iid prediction survives the real weights; it factors as
(real / shuffled) x (shuffled / surrogate): the cost of dependence and structure, and the cost
of the non-uniform marginal. Each ratio is given as an estimate (ratio of the replayed lower
bounds, found with the same search effort) and as a certified interval [lower / upper,
upper / lower].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bounds import ErrorBracket, bracket_sup_error
from ..engine import Network, NetworkPair, prune_network
from ..errors import InputError
from ..reports.atomic import json_ready
from ..seeding import rng_for

__all__ = ["RatioBracket", "ChainConsequences", "surrogate_network", "shuffled_network", "chain_consequences"]


@dataclass(frozen=True)
class RatioBracket:
    """A ratio of two sup errors: an estimate and a certified interval."""

    estimate: float
    low: float
    high: float

    @classmethod
    def of(cls, numerator: ErrorBracket, denominator: ErrorBracket) -> "RatioBracket":
        return cls(
            _divide(numerator.lower, denominator.lower),
            _divide(numerator.lower, denominator.upper),
            _divide(numerator.upper, denominator.lower),
        )

    def to_dict(self) -> dict[str, Any]:
        return json_ready({"estimate": self.estimate, "certified_interval": [self.low, self.high]})


def _divide(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


@dataclass(frozen=True, eq=False)
class ChainConsequences:
    """Brackets of the pruned error for the real chain, its iid-uniform surrogate and its shuffled copy."""

    alpha: float
    counts: tuple[int, ...]
    real: ErrorBracket
    surrogate: ErrorBracket
    shuffled: ErrorBracket

    @property
    def survival(self) -> RatioBracket:
        """real / surrogate: 1 means the real weights prune exactly as well as the theorem's setting."""
        return RatioBracket.of(self.real, self.surrogate)

    @property
    def dependence_cost(self) -> RatioBracket:
        """real / shuffled: what the arrangement (dependence, structure) of the values costs."""
        return RatioBracket.of(self.real, self.shuffled)

    @property
    def marginal_cost(self) -> RatioBracket:
        """shuffled / surrogate: what the non-uniform distribution of the values costs."""
        return RatioBracket.of(self.shuffled, self.surrogate)

    @property
    def costliest(self) -> str:
        """The violation whose estimated cost factor is larger ("dependence" or "marginal"); "neither"
        when neither raises the error (both estimates <= 1)."""
        dependence, marginal = self.dependence_cost.estimate, self.marginal_cost.estimate
        if max(dependence, marginal) <= 1.0:
            return "neither"
        return "dependence" if dependence >= marginal else "marginal"

    def summary(self) -> str:
        """One paragraph for terminals and reports."""
        s, d, m = self.survival, self.dependence_cost, self.marginal_cost
        return (
            f"alpha = {self.alpha:g} (counts {list(self.counts)}): sup||f - F|| real in [{self.real.lower:.4g}, "
            f"{self.real.upper:.4g}], iid-uniform surrogate in [{self.surrogate.lower:.4g}, "
            f"{self.surrogate.upper:.4g}], "
            f"shuffled in [{self.shuffled.lower:.4g}, {self.shuffled.upper:.4g}]. real/surrogate ~ {s.estimate:.3g} "
            f"(certified {s.low:.3g}..{s.high:.3g}) = dependence {d.estimate:.3g} x marginal {m.estimate:.3g}; "
            f"costliest: {self.costliest}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "counts": list(self.counts),
            "real": self.real.to_dict(),
            "surrogate": self.surrogate.to_dict(),
            "shuffled": self.shuffled.to_dict(),
            "survival": self.survival.to_dict(),
            "dependence_cost": self.dependence_cost.to_dict(),
            "marginal_cost": self.marginal_cost.to_dict(),
            "costliest": self.costliest,
        }


def _check_network(network: object) -> Network:
    if not isinstance(network, Network):
        raise InputError(f"need a Network, got {type(network).__name__}")
    return network


def surrogate_network(network: Network, rng: np.random.Generator) -> Network:
    """iid U[-a_l, a_l] layers with a_l = sqrt(3) RMS(W_l): same shapes, same expected ||W_l||_F."""
    network = _check_network(network)
    return network.with_weights([rng.uniform(-1.0, 1.0, w.shape) * (math.sqrt(3.0) * _rms(w)) for w in network.weights])


def _rms(w: np.ndarray) -> float:
    """sqrt(mean(w^2)), computed relative to max |w| so that w * w cannot under- or overflow."""
    top = float(np.max(np.abs(w)))
    return top * float(np.sqrt(np.mean(np.square(w / top)))) if top > 0 else 0.0


def shuffled_network(network: Network, rng: np.random.Generator) -> Network:
    """Every layer's entries permuted uniformly at random (values kept, arrangement destroyed)."""
    network = _check_network(network)
    return network.with_weights([rng.permutation(w.ravel()).reshape(w.shape) for w in network.weights])


def chain_consequences(network: Network, alpha: float, *, seed: int, effort: str = "default") -> ChainConsequences:
    """Bracket the sup error of MBP at floor(D_l^(1-alpha)) for the real, surrogate and shuffled chains."""
    _check_network(network)
    surrogate = surrogate_network(network, rng_for(seed, "audit.consequences.surrogate"))
    shuffled = shuffled_network(network, rng_for(seed, "audit.consequences.shuffled"))
    pairs: dict[str, NetworkPair] = {
        name: prune_network(net, alpha)
        for name, net in (("real", network), ("surrogate", surrogate), ("shuffled", shuffled))
    }
    brackets = {
        name: bracket_sup_error(pair, rng=rng_for(seed, f"audit.consequences.bracket.{name}"), effort=effort)
        for name, pair in pairs.items()
    }
    return ChainConsequences(
        float(alpha), pairs["real"].counts, brackets["real"], brackets["surrogate"], brackets["shuffled"]
    )
