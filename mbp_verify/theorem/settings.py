"""Which result of Qian & Klabjan (ICML 2021) a sweep's (architecture, pruning rule) tests.

The paper proves three guarantees: magnitude-based pruning (MBP) of fully connected networks
(Theorem 1), random pruning of fully connected networks (here Theorem 2) and random pruning of
convolutional networks (here Theorem 3). There is no theorem for MBP on convolutional networks:
the sweep still tests it, on the same sampled networks, but its verdict is an advisory finding
that never makes a run fail. `largest` (prune the largest weights) and `review` (the review's
reading, keeping only D^-alpha) are negative controls: a run of them is expected to fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import InputError

__all__ = ["ARCHITECTURES", "Setting", "setting_for"]

ARCHITECTURES = ("fcn", "cnn")
Kind = Literal["proved", "beyond", "negative control"]


@dataclass(frozen=True)
class Setting:
    """What one (architecture, pruning rule) family tests and whether its verdict decides the run."""

    arch: str
    pruning: str
    theorem: "str | None"
    kind: Kind
    description: str

    @property
    def required(self) -> bool:
        """Whether the family's verdict counts towards the run's status and exit code."""
        return self.kind != "beyond"

    def to_dict(self) -> dict:
        return {
            "arch": self.arch,
            "pruning": self.pruning,
            "theorem": self.theorem,
            "setting": self.kind,
            "required": self.required,
            "description": self.description,
        }


_NAMES = {"fcn": "fully connected", "cnn": "convolutional"}
_PROVED = {("fcn", "magnitude"): "Theorem 1", ("fcn", "random"): "Theorem 2", ("cnn", "random"): "Theorem 3"}
_CONTROLS = {
    "largest": "negative control: the largest weights pruned (the guarantee must not be established)",
    "review": "negative control: the review's reading, keeping only D^-alpha of each layer",
}


def setting_for(arch: str, pruning: str) -> Setting:
    """The Setting of an architecture and a pruning rule (InputError for unknown names)."""
    if arch not in ARCHITECTURES:
        raise InputError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHITECTURES)}")
    name = _NAMES[arch]
    if (arch, pruning) in _PROVED:
        theorem = _PROVED[arch, pruning]
        rule = "magnitude-based" if pruning == "magnitude" else "random"
        return Setting(arch, pruning, theorem, "proved", f"{theorem}: {rule} pruning of {name} networks")
    if pruning == "magnitude":
        return Setting(
            arch,
            pruning,
            None,
            "beyond",
            f"tested beyond the theorems (advisory): magnitude-based pruning of {name} networks",
        )
    if pruning in _CONTROLS:
        return Setting(arch, pruning, None, "negative control", f"{_CONTROLS[pruning]}, {name} networks")
    raise InputError(f"unknown pruning rule {pruning!r}; use one of magnitude, random, largest, review")
