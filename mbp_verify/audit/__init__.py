"""The assumption audit: Theorem 1's hypotheses tested on real weight files, and what failing them costs."""

from .._deprecation import renamed
from .batch import AuditSettings, FileAudit, audit_files, expand_weight_paths
from .consequences import ChainConsequences, RatioBracket, chain_consequences, shuffled_network, surrogate_network
from .hypotheses import HypothesisVerdict, activation_verdicts, parse_activations, width_verdict
from .layer_audit import DEFAULT_LEVEL, FAMILY, LayerAudit, audit_layer, check_draws, default_draws, exact_tests
from .marginal import ScaleEstimate, common_scale_test, estimate_scale
from .movement import LayerMovement, compare_selections, layer_movement
from .report import format_text, render_markdown, write_audit_folder
from .selection import LAYOUTS, AuditLayer, LayerSelection, SkippedTensor, select_layers
from .spectrum import SpectrumSummary, iid_top_singular, mp_cdf, mp_density, mp_edges, spectrum_summary
from .testresult import AuditTestResult
from .weight_files import FORMATS, StoredTensor, WeightFile, detect_format, load_weight_file
from .weights_audit import HYPOTHESES, AuditReport, audit_selection, audit_weights

__all__ = [
    "AuditSettings",
    "FileAudit",
    "audit_files",
    "expand_weight_paths",
    "ChainConsequences",
    "RatioBracket",
    "chain_consequences",
    "shuffled_network",
    "surrogate_network",
    "HypothesisVerdict",
    "activation_verdicts",
    "parse_activations",
    "width_verdict",
    "DEFAULT_LEVEL",
    "FAMILY",
    "LayerAudit",
    "audit_layer",
    "default_draws",
    "check_draws",
    "exact_tests",
    "ScaleEstimate",
    "common_scale_test",
    "estimate_scale",
    "LayerMovement",
    "compare_selections",
    "layer_movement",
    "format_text",
    "render_markdown",
    "write_audit_folder",
    "LAYOUTS",
    "AuditLayer",
    "LayerSelection",
    "SkippedTensor",
    "select_layers",
    "SpectrumSummary",
    "iid_top_singular",
    "mp_cdf",
    "mp_density",
    "mp_edges",
    "spectrum_summary",
    "AuditTestResult",
    "FORMATS",
    "StoredTensor",
    "WeightFile",
    "detect_format",
    "load_weight_file",
    "HYPOTHESES",
    "AuditReport",
    "audit_selection",
    "audit_weights",
]

# Deprecated names (renamed in 0.2; removed in the next version).
__getattr__ = renamed(globals(), {"AuditTest": "AuditTestResult"})
