"""Pruning a whole network: Theorem 1's magnitude pruning and random pruning of the same count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from ..errors import InputError
from ..seeding import as_generator
from .convnet import ConvNetwork
from .counts import prune_count_from_kept_fraction, review_kept_fraction, theorem_prune_count
from .masks import kept_fraction, magnitude_mask, network_compression_ratio, random_mask
from .network import Network

__all__ = ["PruningMethod", "NetworkPair", "prune_network", "apply_masks"]

PruningMethod = Literal["magnitude", "random", "largest", "review"]


@dataclass(frozen=True, eq=False)
class NetworkPair:
    """The pair (F, f) with the masks and per-layer counts that produced f."""

    original: "Network | ConvNetwork"
    pruned: "Network | ConvNetwork"
    masks: tuple[np.ndarray, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.original.widths != self.pruned.widths:
            raise InputError(f"F and f have different widths: {self.original.widths} vs {self.pruned.widths}")
        if self.original.activations != self.pruned.activations:
            raise InputError("F and f must use the same activations")
        if len(self.masks) != self.original.depth or len(self.counts) != self.original.depth:
            raise InputError(f"need one mask and one count per layer ({self.original.depth})")

    @property
    def kept_fractions(self) -> tuple[float, ...]:
        """Kept entries / D_l per layer (counted from the masks)."""
        return tuple(kept_fraction(m) for m in self.masks)

    @property
    def compression_ratio(self) -> float:
        """||vec(W~)||_0 over all weights."""
        return network_compression_ratio(self.pruned.weights)

    def error_matrices(self) -> tuple[np.ndarray, ...]:
        """E_l = W_l - W~_l (non-zero only at pruned positions)."""
        return tuple(w - p for w, p in zip(self.original.weights, self.pruned.weights))


def apply_masks(network: "Network | ConvNetwork", masks: Sequence[np.ndarray]) -> NetworkPair:
    """Build the pair (F, f) from user-given masks (True/1 = kept)."""
    pruned = network.masked(masks)
    bool_masks = tuple(np.asarray(m).astype(bool) for m in masks)
    counts = tuple(int(m.size - np.count_nonzero(m)) for m in bool_masks)
    return NetworkPair(network, pruned, bool_masks, counts)


def prune_network(
    network: "Network | ConvNetwork",
    alpha: "float | Fraction | str",
    *,
    method: PruningMethod = "magnitude",
    rng: "np.random.Generator | np.random.SeedSequence | int | None" = None,
) -> NetworkPair:
    """Prune floor(D_l^(1-alpha)) entries of every layer (D_l = c_out*c_in*kh*kw for a conv kernel).

    `magnitude` is Theorem 1's MBP; `random` prunes a uniform subset of the same count
    (needs `rng`: a Generator, a SeedSequence or a seed); `largest` removes the largest
    magnitudes (a negative control); `review` is the review's reading, keeping only
    floor(gamma D_l) entries with gamma = D_l^(-alpha) (kept and pruned swapped), pruned by
    magnitude.
    """
    masks = []
    counts = []
    if method == "random" and rng is not None:
        rng = as_generator(rng)  # once: a seed must not restart the stream at every layer
    for w in network.weights:
        if method == "review":
            count = prune_count_from_kept_fraction(w.size, review_kept_fraction(w.size, alpha))
        else:
            count = theorem_prune_count(w.size, alpha)
        if method in ("magnitude", "review"):
            mask = magnitude_mask(w, count)
        elif method == "largest":
            mask = ~magnitude_mask(w, w.size - count)
        elif method == "random":
            if rng is None:
                raise InputError("random pruning needs a numpy Generator (rng)")
            mask = random_mask(w.shape, count, rng)
        else:
            raise InputError(f"unknown pruning method {method!r}; use magnitude, random, largest or review")
        masks.append(mask)
        counts.append(count)
    return NetworkPair(network, network.masked(masks), tuple(masks), tuple(counts))
