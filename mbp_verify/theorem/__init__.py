"""The paper's pruning guarantees (Theorem 1: MBP on FCNs; 2, 3: random pruning on FCNs, CNNs) as
statistical tests: trials, verdicts, sweeps, scaling audit."""

from .cnn import CNN_PADDINGS, CONV_DEFAULTS, channel_profile
from .parallel import TrialPool
from .report import build_payload, format_tables, overall_status, write_theorem_folder
from .scaling import EXPECTED_EXPONENTS, AlphaAudit, ScalingAudit, expected_slope, scaling_audit
from .settings import ARCHITECTURES, Setting, setting_for
from .sweep import CellResult, SweepConfig, SweepResult, run_sweep
from .trial import (
    EFFORTS,
    PRUNING_RULES,
    SHAPES,
    WEIGHT_LAWS,
    TrialOutcome,
    TrialSpec,
    bracket_trial_pair,
    prune_trial_network,
    run_trial,
    sample_trial_network,
    width_profile,
)
from .verdict import CellVerdict, FamilyVerdict, TheoremDesign, decide_family, theorem_design

__all__ = [
    "CNN_PADDINGS",
    "CONV_DEFAULTS",
    "channel_profile",
    "ARCHITECTURES",
    "Setting",
    "setting_for",
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
    "bracket_trial_pair",
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
