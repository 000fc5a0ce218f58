"""Certified brackets of sup_{||x|| <= 1} ||f(x) - F(x)||: sound upper bounds and replayed witnesses."""

from .ascent import AscentResult, maximise_error
from .bracket import EFFORTS, Decision, Effort, ErrorBracket, bracket_sup_error
from .constants import LayerConstants, layer_constants
from .layerwise import LayerNorms, layer_norms, layerwise_bound
from .replay import Replay, replay_error, unit_ball_point
from .spectral import SpectralBound, certified_spectral_norm

__all__ = [
    "AscentResult",
    "maximise_error",
    "EFFORTS",
    "Decision",
    "Effort",
    "ErrorBracket",
    "bracket_sup_error",
    "LayerConstants",
    "layer_constants",
    "LayerNorms",
    "layer_norms",
    "layerwise_bound",
    "Replay",
    "replay_error",
    "unit_ball_point",
    "SpectralBound",
    "certified_spectral_norm",
]
