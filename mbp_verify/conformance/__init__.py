"""Conformance of external pruners to the spec of a correct magnitude pruner.

The pruner protocol (`prune(weights, n_prune) -> mask`, global `prune_global(layers,
total) -> masks`), declared rules, loading `MODULE:ATTR`, guarded calls, observed-rule
findings, regression baselines and replayable counterexamples. The properties themselves
live in `properties/pruner/` and run through `mbp-verify check-pruner` or
`pytest --mbp-pruner MODULE:ATTR`.
"""

from .baseline import BaselineDiff, compare_baseline, load_baseline, record_baseline
from .counterexamples import Counterexample, load_counterexample, replay
from .harness import PrunerUnderTest
from .loader import load_pruner
from .probe import Findings, observe_rules
from .protocol import FunctionPruner, GlobalFunctionPruner, PrunerAdapter
from .reference import ReferencePruner, reference_pruner
from .rules import PrunerRules, count_from_fraction, parse_rules

__all__ = [
    "BaselineDiff",
    "compare_baseline",
    "load_baseline",
    "record_baseline",
    "Counterexample",
    "load_counterexample",
    "replay",
    "PrunerUnderTest",
    "load_pruner",
    "Findings",
    "observe_rules",
    "FunctionPruner",
    "GlobalFunctionPruner",
    "PrunerAdapter",
    "ReferencePruner",
    "reference_pruner",
    "PrunerRules",
    "count_from_fraction",
    "parse_rules",
]
