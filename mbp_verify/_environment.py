"""The process environment the library runs in: BLAS threads and package versions.

Neutral ground for every layer: worker pools (theorem sweeps, pruner workers, the property
suite) pin BLAS to one thread per process, and reports and baselines record the versions of
the packages that produced them.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata

__all__ = [
    "BLAS_THREAD_VARIABLES",
    "single_thread_env",
    "pin_blas_threads_for_children",
    "package_versions",
    "distribution_versions",
]

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_CORE_DISTRIBUTIONS = ("mbp-verify", "numpy", "scipy", "sympy", "hypothesis", "pytest", "pytest-xdist", "torch")


def single_thread_env(base: "dict[str, str] | None" = None) -> dict[str, str]:
    """The environment with BLAS/OpenMP pinned to one thread per process."""
    env = dict(os.environ if base is None else base)
    for var in BLAS_THREAD_VARIABLES:
        env[var] = "1"
    return env


def pin_blas_threads_for_children() -> None:
    """Default BLAS/OpenMP to one thread in processes started from now on (e.g. xdist workers).

    A value the user exported is kept. Called by the suite's conftest files, which pytest loads
    before pytest-xdist starts its workers, so `python -m pytest -n 2` does not oversubscribe
    the cores with 2 x (number of cores) BLAS threads.
    """
    for var in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(var, "1")


def distribution_versions(names: "tuple[str, ...] | list[str]", missing: "str | None" = None) -> dict[str, str]:
    """Installed versions of the named distributions; a missing one maps to `missing` or is left out."""
    found: dict[str, str] = {}
    for name in dict.fromkeys(names):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if missing is not None:
                found[name] = missing
    return found


def package_versions() -> dict[str, str]:
    """Python and the core packages a run's numbers depend on (those installed)."""
    return {"python": platform.python_version(), **distribution_versions(_CORE_DISTRIBUTIONS)}
