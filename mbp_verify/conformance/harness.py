"""Calling the pruner under test safely: crashes and timeouts become `CodeUnderTestError`.

The properties, the findings probe, baselines and `--replay` never call a pruner directly.
`PrunerUnderTest` wraps an adapter so that an exception, a crash of its process or a call
exceeding the time limit is reported as status `error` for that property (and the suite
goes on), while a returned mask is handed back as a numpy array for the property to judge.

A user's pruner (`loader.load_pruner`) is an `IsolatedAdapter`: it runs in a worker process
and the time limit is enforced from here, by killing that process. The built-in reference
engine (trusted code) runs in-process under a SIGALRM limit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np

from ..errors import CodeUnderTestError
from ..timeouts import time_limit
from .isolation import IsolatedAdapter, PrunerTimeout
from .protocol import as_numpy, has_hook
from .rules import PrunerRules

__all__ = ["PrunerUnderTest", "PrunerTimeout", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 20.0


def _time_limit(seconds: float) -> "AbstractContextManager[None]":
    return time_limit(seconds, lambda: PrunerTimeout(f"timed out after {seconds:g} s"))


@contextmanager
def _quiet() -> Iterator[None]:
    """The pruner's own warnings (float16 overflow casts and the like) are not verdicts; under
    pytest's warning capture, thousands of them also cost seconds per property."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _mask_list(result: Any) -> list[np.ndarray]:
    """A global pruner's answer as a list of arrays; TypeError when it is not a list or tuple."""
    if not isinstance(result, (list, tuple)):
        raise TypeError(f"returned {type(result).__name__}, not a list of masks")
    return [as_numpy(m) for m in result]


class PrunerUnderTest:
    """An adapter with guarded calls; `raw_*` variants let an exception through (NaN policy)."""

    def __init__(self, adapter: Any, *, spec: str = "reference engine", timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._isolated = isinstance(adapter, IsolatedAdapter)
        self.adapter = adapter.with_timeout(timeout_s) if self._isolated else adapter
        self.spec = spec
        self.timeout_s = timeout_s

    def __repr__(self) -> str:  # shown in Hypothesis' falsifying examples: no memory addresses
        return f"PrunerUnderTest({self.spec!r})"

    @property
    def rules(self) -> PrunerRules:
        return self.adapter.rules

    @property
    def name(self) -> str:
        return getattr(self.adapter, "name", self.spec)

    def has(self, hook: str) -> bool:
        return has_hook(self.adapter, hook)

    def restart(self) -> bool:
        """Stop the pruner's own process, so that the next call is the first one of a fresh process
        (which imports the pruner's module again); False for an in-process pruner, which has none."""
        if not self._isolated:
            return False
        self.adapter.close()
        return True

    def _limited(self) -> "AbstractContextManager[None]":
        """The in-process time limit; an isolated pruner's limit is enforced by its worker's owner."""
        return _time_limit(0 if self._isolated else self.timeout_s)

    def _guarded(self, call: Callable[[], Any], what: str) -> Any:
        try:
            with self._limited(), _quiet():
                return call()
        except PrunerTimeout as exc:
            raise CodeUnderTestError(f"{what}: {exc}") from None
        except CodeUnderTestError:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except AssertionError as exc:  # an assert inside the pruner is its crash, not our verdict
            raise CodeUnderTestError(f"{what} raised AssertionError: {exc}") from exc
        except Exception as exc:
            raise CodeUnderTestError(f"{what} raised {type(exc).__name__}: {exc}") from exc

    def raw_prune(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        """Call without turning exceptions into `error` (used where raising is a declared policy)."""
        with self._limited(), _quiet():
            return as_numpy(self.adapter.prune(weights, int(n_prune)))

    def prune(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return self._guarded(lambda: as_numpy(self.adapter.prune(weights, int(n_prune))), "prune(weights, n_prune)")

    def prune_global(self, layers: Sequence[np.ndarray], total: int) -> list[np.ndarray]:
        return self._guarded(
            lambda: _mask_list(self.adapter.prune_global(list(layers), int(total))), "prune_global(layers, total)"
        )

    def prune_fraction(self, weights: np.ndarray, fraction: float) -> np.ndarray:
        return self._guarded(
            lambda: as_numpy(self.adapter.prune_fraction(weights, fraction)), "prune_fraction(weights, fraction)"
        )

    def reprune(self, weights: np.ndarray, first: int, second: int) -> np.ndarray:
        return self._guarded(
            lambda: as_numpy(self.adapter.reprune(weights, int(first), int(second))), "reprune(weights, first, second)"
        )

    def effective_weights(self, weights: np.ndarray, n_prune: int) -> np.ndarray:
        return self._guarded(
            lambda: as_numpy(self.adapter.effective_weights(weights, int(n_prune))),
            "effective_weights(weights, n_prune)",
        )

    def prune_with_gamma(self, weights: np.ndarray, n_prune: int) -> tuple[np.ndarray, Any]:
        mask, gamma = self._guarded(
            lambda: self.adapter.prune_with_gamma(weights, int(n_prune)), "prune_with_gamma(weights, n_prune)"
        )
        return as_numpy(mask), gamma
