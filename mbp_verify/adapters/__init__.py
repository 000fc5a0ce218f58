"""Adapters that bring real pruning libraries to the pruner protocol (optional extras).

Importing this package imports no library; each adapter module imports its library lazily.
`mbp_verify.adapters.torch_prune` wraps `torch.nn.utils.prune` (extra `torch`).
"""

__all__: list[str] = []
