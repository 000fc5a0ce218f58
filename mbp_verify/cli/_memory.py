"""Size checks before any work: estimate the memory a command needs and refuse what cannot fit.

The rule (documented in docs/cli-contract.md): each command that takes a size (`bound --sample`,
`theorem --widths/--depth/--trials/--looks`, `audit --draws/--level`) estimates its peak memory
from the sizes alone, in integer arithmetic and before allocating anything, prints it as one
progress line, and refuses with exit 2 (an InputError naming the estimate) when the estimate
exceeds the machine's physical memory (MemTotal in /proc/meminfo, else
sysconf(SC_PHYS_PAGES) * SC_PAGE_SIZE). The check runs before the input is read; the line is
printed once the rest of the input is validated. When the estimate fits in total but not in
the memory available right now, the line says so and the work goes ahead.

The factors are upper estimates measured on the reference engine (tracemalloc of one bracket,
with a margin of at least 1.4): a dense bracket holds 4 float64 copies of the weights (the
network, the pruned network, the masks, search buffers) plus working matrices of the widest
layer d: 6 d^2 (a segment's 2d x 2d Gram and one layer), and 20 d^2 more while the ellipsoid
bound runs (2d <= 4096: its 2d x 2d map, Cholesky factor, inverse and residual). A conv bracket
is estimated at 16 copies of its weights and search batches. A fixed cost per layer covers the
array objects.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from ..bounds.ellipsoid import MAX_STATE
from ..errors import InputError

__all__ = [
    "MachineMemory",
    "machine_memory",
    "format_bytes",
    "weight_count",
    "bracket_bytes",
    "dense_bracket_bytes",
    "sequential_design_bytes",
    "monte_carlo_bytes",
    "check_memory",
]

BRACKET_COPIES = 16  # float64 copies of the weights and search batches a conv bracket holds at its peak
DENSE_COPIES = 4  # float64 copies of the weights a dense bracket holds (pair, masks, search buffers)
WORK_SQUARES = 6  # working matrices of a dense bracket, in (widest layer)^2 float64
ELLIPSOID_SQUARES = 20  # the ellipsoid bound's 2d x 2d arrays, in d^2 float64 (while 2d <= MAX_STATE)
LAYER_OVERHEAD = 4096  # bytes per layer: array headers, masks' objects, bookkeeping
DESIGN_COPIES = 5  # float64 arrays per entry of a group-sequential design's p-value table
MONTE_CARLO_STATISTICS = 5  # null statistics kept per draw: kurtosis and four arrangement tests
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


@dataclass(frozen=True)
class MachineMemory:
    """Physical memory and memory available now, in bytes (available is None when unknown)."""

    total: int
    available: "int | None"


def machine_memory() -> MachineMemory:
    """MemTotal / MemAvailable from /proc/meminfo, else the physical pages from sysconf."""
    fields: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    fields[name] = int(parts[0]) * 1024
    except OSError:
        pass
    if "MemTotal" in fields:
        return MachineMemory(fields["MemTotal"], fields.get("MemAvailable"))
    return MachineMemory(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), None)


def format_bytes(count: int) -> str:
    """1536 -> '1.5 KiB'; beyond EiB in scientific notation ('7.1e+21 B')."""
    value = float(count)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            break
        value /= 1024
    if value >= 1024:
        return f"{float(count):.2g} B"
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def weight_count(widths: Sequence[int]) -> int:
    """Number of weights of a network with these widths (d_0, ..., d_L)."""
    return sum(a * b for a, b in zip(widths, widths[1:]))


def bracket_bytes(entries: int, layers: int) -> int:
    """Peak memory of sampling, pruning and bracketing one conv network of `entries` weights and search batches."""
    return BRACKET_COPIES * 8 * entries + LAYER_OVERHEAD * layers


def dense_bracket_bytes(entries: int, layers: int, widest: int) -> int:
    """Peak memory of sampling, pruning and bracketing one dense network of `entries` weights whose
    widest layer has `widest` neurons (see the module docstring)."""
    squares = WORK_SQUARES + (ELLIPSOID_SQUARES if 2 * widest <= MAX_STATE else 0)
    return 8 * (DENSE_COPIES * entries + squares * widest * widest) + LAYER_OVERHEAD * layers


def sequential_design_bytes(trials: int, looks: int) -> int:
    """A group-sequential design's p-value tables: sum over the looks of (n_j + 1) entries, two designs."""
    looks = min(looks, trials)
    table = trials * (looks + 1) // 2 + 2 * looks  # >= sum_j (ceil(j T / K) + 1)
    return 2 * DESIGN_COPIES * 8 * table


def monte_carlo_bytes(draws: int, largest_layer: int) -> int:
    """Null statistics kept for every draw, plus one batch of shuffled copies of the largest layer."""
    return MONTE_CARLO_STATISTICS * 8 * draws + 2 * 8 * max(largest_layer, 1 << 20)


def check_memory(command: str, what: str, needed: int, *, machine: "MachineMemory | None" = None) -> str:
    """Refuse (InputError naming the estimate) above physical memory; else return the progress line
    that the command prints when its input has been validated, just before the work starts."""
    machine = machine or machine_memory()
    if needed > machine.total:
        raise InputError(
            f"{what} needs an estimated {format_bytes(needed)} of memory, more than this machine's "
            f"{format_bytes(machine.total)}; use smaller sizes"
        )
    note = ""
    if machine.available is not None and needed > machine.available:
        note = f"; only {format_bytes(machine.available)} available now"
    return (
        f"{command}: {what}: estimated peak memory {format_bytes(needed)} (machine {format_bytes(machine.total)}{note})"
    )
