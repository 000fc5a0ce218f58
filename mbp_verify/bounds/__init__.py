"""Certified brackets of sup_{||x|| <= 1} ||f(x) - F(x)||: sound upper bounds and replayed witnesses.

`bracket_sup_error(pair)` is the entry point; the rest are its building blocks: certified
spectral norms (`spectral`), the layerwise, averaged-activation and ellipsoid upper bounds, the
batched lower-bound search (`ascent`), float64 replay of witnesses (`replay`), dense
plane grids for checking bounds (`grid`) and the power-of-two scaling that keeps every
certificate sound at any float64 scale (`scaling`; see docs/certificates.md).
"""

from .ascent import AscentResult, maximise_error
from .averaged import AveragedBound, averaged_bound
from .bracket import EFFORTS, Decision, Effort, ErrorBracket, bracket_sup_error
from .branch import BranchResult, branch_and_bound
from .constants import LayerConstants, layer_constants
from .conv_bracket import ConvLayerNorms, bracket_conv_sup_error, conv_layer_norms, conv_layerwise_bound
from .ellipsoid import Sectors, ellipsoid_bound, smallest_ellipsoid_bound
from .grid import GridSup, certified_grid_value, grid_sup
from .layerwise import LayerNorms, layer_norms, layerwise_bound
from .parts import PairParts, pair_parts
from .replay import Replay, replay_error, unit_ball_point
from .scaling import LayerScaling, scale_pair
from .spectral import SpectralBound, certified_spectral_norm

__all__ = [
    "AscentResult",
    "maximise_error",
    "AveragedBound",
    "BranchResult",
    "branch_and_bound",
    "averaged_bound",
    "EFFORTS",
    "Decision",
    "Effort",
    "ErrorBracket",
    "bracket_sup_error",
    "LayerConstants",
    "layer_constants",
    "Sectors",
    "ellipsoid_bound",
    "smallest_ellipsoid_bound",
    "GridSup",
    "certified_grid_value",
    "grid_sup",
    "LayerNorms",
    "layer_norms",
    "layerwise_bound",
    "PairParts",
    "pair_parts",
    "Replay",
    "replay_error",
    "unit_ball_point",
    "LayerScaling",
    "scale_pair",
    "SpectralBound",
    "certified_spectral_norm",
    "ConvLayerNorms",
    "bracket_conv_sup_error",
    "conv_layer_norms",
    "conv_layerwise_bound",
]
