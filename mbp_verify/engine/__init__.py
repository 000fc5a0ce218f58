"""Networks (dense and convolutional), activations, exact counts and masks: the reference MBP engine."""

from .._deprecation import renamed
from .activations import ActivationSpec, activation_names, apply_activation, parse_activation
from .conv import PADDINGS, ConvGeometry, conv2d, conv2d_adjoint, conv_geometry, unfold_conv
from .convfile import conv_network_from_torch, load_any_network, load_conv_network, save_conv_network
from .convnet import ConvNetwork, LayerSpec, conv_half_width, layer_spec, sample_conv_network
from .counts import (
    ROUNDING_RULES,
    prune_count_from_kept_fraction,
    prune_count_from_pruned_fraction,
    review_kept_fraction,
    theorem_kept_fraction,
    theorem_prune_count,
    validate_alpha,
    validate_count,
)
from .masks import (
    as_weight_array,
    compression_ratio,
    global_magnitude_masks,
    kept_count,
    kept_fraction,
    magnitude_mask,
    network_compression_ratio,
    pruned_count,
    random_mask,
)
from .network import (
    Network,
    load_layer_arrays,
    load_network,
    natural_layer_order,
    sample_network,
    save_network,
    uniform_half_width,
)
from .prune import NetworkPair, apply_masks, prune_network

__all__ = [
    "ActivationSpec",
    "activation_names",
    "apply_activation",
    "parse_activation",
    "ROUNDING_RULES",
    "prune_count_from_kept_fraction",
    "prune_count_from_pruned_fraction",
    "review_kept_fraction",
    "theorem_kept_fraction",
    "theorem_prune_count",
    "validate_alpha",
    "validate_count",
    "as_weight_array",
    "compression_ratio",
    "global_magnitude_masks",
    "kept_count",
    "kept_fraction",
    "magnitude_mask",
    "network_compression_ratio",
    "pruned_count",
    "random_mask",
    "PADDINGS",
    "ConvGeometry",
    "conv2d",
    "conv2d_adjoint",
    "conv_geometry",
    "unfold_conv",
    "conv_network_from_torch",
    "load_any_network",
    "load_conv_network",
    "save_conv_network",
    "ConvNetwork",
    "LayerSpec",
    "conv_half_width",
    "layer_spec",
    "sample_conv_network",
    "Network",
    "load_layer_arrays",
    "load_network",
    "natural_layer_order",
    "sample_network",
    "save_network",
    "uniform_half_width",
    "NetworkPair",
    "apply_masks",
    "prune_network",
]

# Deprecated names (renamed in 0.2; removed in the next version).
__getattr__ = renamed(globals(), {"PrunedNetwork": "NetworkPair"})
