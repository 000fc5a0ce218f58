"""Theorem 1's probability guarantee as statistical tests: trials, verdicts, sweeps, scaling audit."""

from .parallel import TrialPool
from .report import build_payload, format_tables, overall_status, write_theorem_folder
from .scaling import EXPECTED_EXPONENTS, AlphaAudit, ScalingAudit, expected_slope, scaling_audit
from .sweep import CellResult, SweepConfig, SweepResult, run_sweep
from .trial import (
    EFFORTS,
    PRUNING_RULES,
    SHAPES,
    WEIGHT_LAWS,
    TrialOutcome,
    TrialSpec,
    prune_trial_network,
    run_trial,
    sample_trial_network,
    width_profile,
)
from .verdict import CellVerdict, FamilyVerdict, TheoremDesign, decide_family, theorem_design

__all__ = [
    "TrialPool",
    "build_payload",
    "format_tables",
    "overall_status",
    "write_theorem_folder",
    "EXPECTED_EXPONENTS",
    "AlphaAudit",
    "ScalingAudit",
    "expected_slope",
    "scaling_audit",
    "CellResult",
    "SweepConfig",
    "SweepResult",
    "run_sweep",
    "EFFORTS",
    "PRUNING_RULES",
    "SHAPES",
    "WEIGHT_LAWS",
    "TrialOutcome",
    "TrialSpec",
    "prune_trial_network",
    "run_trial",
    "sample_trial_network",
    "width_profile",
    "CellVerdict",
    "FamilyVerdict",
    "TheoremDesign",
    "decide_family",
    "theorem_design",
]
