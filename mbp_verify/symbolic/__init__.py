"""Symbolic layer: activation Lipschitz constants, the error-propagation bound, the width condition."""

from .lipschitz import DerivationUndecided, LipschitzDerivation, derive_lipschitz, derive_softmax, lipschitz_constant
from .propagation import PropagationBound, propagation_bound
from .registry import parse_expression, registered_names, symbolic_activation
from .width import solve_width_condition, width_condition, width_terms

__all__ = [
    "DerivationUndecided",
    "LipschitzDerivation",
    "derive_lipschitz",
    "derive_softmax",
    "lipschitz_constant",
    "PropagationBound",
    "propagation_bound",
    "parse_expression",
    "registered_names",
    "symbolic_activation",
    "solve_width_condition",
    "width_condition",
    "width_terms",
]
