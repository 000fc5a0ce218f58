"""mbp_verify: formal-property verification of magnitude-based pruning.

Public API: the reference engine (networks, exact counts, masks), seeding, and the property
suite's building blocks. Subpackages (`symbolic`, `bounds`, `statistics`, `theorem`,
`conformance`, `audit`) expose their own `__all__`.
"""

__version__ = "0.6.1"

from ._deprecation import renamed
from .engine import (
    ActivationSpec,
    Network,
    NetworkPair,
    apply_masks,
    compression_ratio,
    global_magnitude_masks,
    kept_fraction,
    load_network,
    magnitude_mask,
    network_compression_ratio,
    parse_activation,
    prune_count_from_kept_fraction,
    prune_count_from_pruned_fraction,
    prune_network,
    random_mask,
    sample_network,
    save_network,
    theorem_kept_fraction,
    theorem_prune_count,
)
from .errors import CodeUnderTestError, Inconclusive, InputError, MbpVerifyError
from .seeding import DEFAULT_ROOT_SEED, rng_for, seed_sequence, stable_hash

__all__ = [
    "__version__",
    "ActivationSpec",
    "Network",
    "NetworkPair",
    "apply_masks",
    "compression_ratio",
    "global_magnitude_masks",
    "kept_fraction",
    "load_network",
    "magnitude_mask",
    "network_compression_ratio",
    "parse_activation",
    "prune_count_from_kept_fraction",
    "prune_count_from_pruned_fraction",
    "prune_network",
    "random_mask",
    "sample_network",
    "save_network",
    "theorem_kept_fraction",
    "theorem_prune_count",
    "MbpVerifyError",
    "InputError",
    "CodeUnderTestError",
    "Inconclusive",
    "DEFAULT_ROOT_SEED",
    "rng_for",
    "seed_sequence",
    "stable_hash",
]

# Deprecated names (renamed in 0.2; removed in the next version).
__getattr__ = renamed(globals(), {"PrunedNetwork": "NetworkPair"})
