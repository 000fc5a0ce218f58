"""Seeds derive from (root seed, property id, trial index) only."""

import numpy as np
import pytest

from mbp_verify.errors import InputError
from mbp_verify.seeding import as_generator, rng_for, seed_sequence, stable_hash


def test_same_triple_same_stream_and_any_change_another():
    draw = lambda *key: rng_for(*key).random(4)
    assert np.array_equal(draw(1, "a.b", 0), draw(1, "a.b", 0))
    assert not np.array_equal(draw(1, "a.b", 0), draw(1, "a.b", 1))
    assert not np.array_equal(draw(1, "a.b", 0), draw(2, "a.b", 0))
    assert not np.array_equal(draw(1, "a.b", 0), draw(1, "a.c", 0))
    assert stable_hash("a.b") == int.from_bytes(__import__("hashlib").sha256(b"a.b").digest()[:8], "little")


@pytest.mark.parametrize("root, trial", [(-1, 0), (0, -1)])
def test_negative_seeds_are_input_errors(root, trial):
    with pytest.raises(InputError, match="non-negative"):
        seed_sequence(root, "a.b", trial)


def test_as_generator_accepts_seeds_and_refuses_the_rest():
    g = np.random.default_rng(5)
    assert as_generator(g) is g
    assert as_generator(None).integers(1 << 30) == np.random.default_rng(0).integers(1 << 30)
    assert as_generator(np.int64(3)).integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)
    assert as_generator(np.random.SeedSequence(7)).integers(1 << 30) == np.random.default_rng(7).integers(1 << 30)
    for bad in (-1, True, 1.5, "3"):
        with pytest.raises(InputError):
            as_generator(bad)
