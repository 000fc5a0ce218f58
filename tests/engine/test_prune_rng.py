"""Random pruning's rng argument: a Generator, a SeedSequence or a seed, anything else an InputError."""

import numpy as np
import pytest

from mbp_verify.engine import prune_network, random_mask, sample_network
from mbp_verify.errors import InputError


def test_a_seed_gives_the_same_masks_as_its_generator():
    net = sample_network([6, 8, 8, 3], 0)
    from_seed = prune_network(net, 0.3, method="random", rng=7)
    from_generator = prune_network(net, 0.3, method="random", rng=np.random.default_rng(7))
    assert all(np.array_equal(a, b) for a, b in zip(from_seed.masks, from_generator.masks))


def test_a_seed_does_not_restart_the_stream_at_every_layer():
    net = sample_network([8, 8, 8, 8], 0)  # equal shapes: a restarted stream would repeat the masks
    pair = prune_network(net, 0.3, method="random", rng=3)
    assert not np.array_equal(pair.masks[0], pair.masks[1])


@pytest.mark.parametrize("bad", ["seed", 1.5, -1])
def test_anything_else_is_an_input_error(bad):
    with pytest.raises(InputError, match="rng|seed"):
        prune_network(sample_network([3, 4, 2], 0), 0.3, method="random", rng=bad)
    with pytest.raises(InputError):
        random_mask((3, 4), 2, bad)
