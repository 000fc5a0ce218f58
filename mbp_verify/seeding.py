"""Deterministic seeding: every random draw derives from (root seed, property id, trial).

Seeds never depend on worker ids, process ids or clocks, so results are identical for any
number of parallel workers (docs/design.md section 4).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .errors import InputError

__all__ = ["DEFAULT_ROOT_SEED", "stable_hash", "seed_sequence", "rng_for"]

DEFAULT_ROOT_SEED = 20210701


def stable_hash(text: str) -> int:
    """A 64-bit hash of `text` that is the same in every process and Python version."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def seed_sequence(root_seed: int, property_id: str, trial_index: int = 0) -> np.random.SeedSequence:
    """`SeedSequence([root_seed, stable_hash(property_id), trial_index])`."""
    if root_seed < 0 or trial_index < 0:
        raise InputError(
            f"seeds must be non-negative integers, got root seed {root_seed} and trial index {trial_index}"
        )
    return np.random.SeedSequence([int(root_seed), stable_hash(property_id), int(trial_index)])


def rng_for(root_seed: int, property_id: str, trial_index: int = 0) -> np.random.Generator:
    """A PCG64 generator seeded by `seed_sequence(root_seed, property_id, trial_index)`."""
    return np.random.default_rng(seed_sequence(root_seed, property_id, trial_index))
