"""Deterministic seeding: every random draw derives from (root seed, property id, trial).

Seeds never depend on worker ids, process ids or clocks, so results are identical for any
number of parallel workers (docs/design.md section 4).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .errors import InputError

__all__ = ["DEFAULT_ROOT_SEED", "stable_hash", "seed_sequence", "rng_for", "as_generator"]

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


def as_generator(rng: "np.random.Generator | np.random.SeedSequence | int | None") -> np.random.Generator:
    """A Generator from a Generator (used as is), a SeedSequence, a non-negative int, or None
    (seed 0: reproducible by default); anything else is an InputError."""
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (np.random.SeedSequence, int, np.integer)) and not isinstance(rng, bool):
        if isinstance(rng, (int, np.integer)) and rng < 0:
            raise InputError(f"a seed must be a non-negative integer, got {rng}")
        return np.random.default_rng(rng)
    raise InputError(f"rng must be a numpy Generator, SeedSequence, int or None, got {type(rng).__name__}")
