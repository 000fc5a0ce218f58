"""Memory estimates: the refusal rule, the units, and that the estimates bound what they estimate."""

from __future__ import annotations

import os

import pytest

from mbp_verify.cli._memory import (
    MachineMemory,
    bracket_bytes,
    check_memory,
    dense_bracket_bytes,
    format_bytes,
    machine_memory,
    monte_carlo_bytes,
    sequential_design_bytes,
    weight_count,
)
from mbp_verify.errors import InputError
from mbp_verify.statistics.sequential import equally_spaced_looks


def test_machine_memory_is_the_physical_memory():
    machine = machine_memory()
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(machine.total - physical) <= 0.01 * physical  # MemTotal and sysconf agree on Linux
    assert machine.available is None or 0 < machine.available <= machine.total


def test_refusal_names_the_estimate_and_the_machine():
    machine = MachineMemory(total=8 << 30, available=2 << 30)
    with pytest.raises(
        InputError, match=r"--sample 9x9 needs an estimated 9\.0 GiB of memory, more than this machine's 8\.0 GiB"
    ):
        check_memory("bound", "--sample 9x9", 9 << 30, machine=machine)
    line = check_memory("bound", "--sample 2x2", 4 << 30, machine=machine)
    assert line == "bound: --sample 2x2: estimated peak memory 4.0 GiB (machine 8.0 GiB; only 2.0 GiB available now)"
    assert check_memory("bound", "x", 8 << 30, machine=machine).endswith(
        "(machine 8.0 GiB; only 2.0 GiB available now)"
    )
    assert (
        check_memory("bound", "x", 1024, machine=machine) == "bound: x: estimated peak memory 1.0 KiB (machine 8.0 GiB)"
    )


@pytest.mark.parametrize(
    "count, text",
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 << 40, "5.0 TiB"), (3 << 60, "3.0 EiB"), (10**23, "1e+23 B")],
)
def test_format_bytes(count, text):
    assert format_bytes(count) == text


def test_sizes_are_exact_integer_arithmetic():
    assert weight_count([4, 3, 2]) == 12 + 6
    assert bracket_bytes(10**16, 2) == 16 * 8 * 10**16 + 2 * 4096  # no float rounding at huge sizes
    assert dense_bracket_bytes(3 * 10**16, 3, 10**8) == 8 * (4 * 3 * 10**16 + 6 * 10**16) + 3 * 4096


def test_the_ellipsoid_term_applies_while_the_bound_runs():
    """The ellipsoid bound runs while 2 d <= MAX_STATE; beyond it the estimate drops its 20 d^2."""
    from mbp_verify.bounds.ellipsoid import MAX_STATE

    d = MAX_STATE // 2
    assert dense_bracket_bytes(3 * d * d, 3, d) - dense_bracket_bytes(3 * d * d, 3, d + 1) > 8 * 19 * d * d


@pytest.mark.parametrize(
    ("width", "depth", "shape"), [(64, 3, "square"), (96, 2, "square"), (48, 6, "square"), (40, 3, "rectangular")]
)
def test_the_dense_estimate_bounds_a_traced_trial(width, depth, shape):
    """The estimate the theorem and bound commands check is above the traced peak of a real trial
    (sampling, pruning, the bracket at effort fast with every bound that applies; the process's
    one-time caches, a few MiB, are not part of it)."""
    from mbp_verify.theorem.cost import traced_peak_bytes
    from mbp_verify.theorem.trial import TrialSpec

    spec = TrialSpec(width=width, depth=depth, alpha=0.2, eps=0.2, shape=shape)
    widest = width if shape == "square" else 2 * width
    entries = depth * width * width * (1 if shape == "square" else 4)
    traced_peak_bytes(spec, 20210701, 0)  # one-time caches (slope tables, constants) outside the trace
    assert traced_peak_bytes(spec, 20210701, 0) <= dense_bracket_bytes(entries, depth, widest)
    assert monte_carlo_bytes(10**13, 10) >= 5 * 8 * 10**13


@pytest.mark.parametrize("trials, looks", [(1, 1), (7, 3), (140, 2), (1000, 7), (999, 999), (10, 50)])
def test_the_design_estimate_bounds_the_tables_it_builds(trials, looks):
    schedule = equally_spaced_looks(trials, min(looks, trials))
    entries = sum(n + 1 for n in schedule)  # one float64 p-value per count k = 0..n_j at every look
    assert sequential_design_bytes(trials, looks) >= 2 * 5 * 8 * entries
