"""Options every command shares: the seed is checked once for all, workers resolved once."""

import pytest

from mbp_verify.cli import main
from mbp_verify.cli._common import worker_count
from mbp_verify.errors import InputError


@pytest.mark.parametrize(
    "argv",
    [
        ["run"],
        ["check-pruner", "mbp_verify.engine:magnitude_mask"],
        ["lipschitz", "relu"],
        ["bound", "--sample", "2x4", "--alpha", "0.3"],
        ["theorem"],
        ["audit", "missing.npz"],
    ],
)
def test_negative_seed_is_a_usage_error_for_every_command(argv, capsys):
    assert main([*argv, "--seed", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mbp-verify {argv[0]}: error: --seed must be non-negative, got -1"]


def test_worker_count():
    assert worker_count(1) == 1 and worker_count(None) >= 1
    with pytest.raises(InputError, match="--workers must be at least 1"):
        worker_count(0)
