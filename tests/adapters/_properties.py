"""Calling one property of properties/pruner directly on an adapter (as check-pruner would)."""

from __future__ import annotations

import importlib
import inspect

import pytest
from hypothesis import Phase, settings

import mbp_verify.suite.plugin  # noqa: F401  (registers the mbp-* Hypothesis profiles)
from mbp_verify.conformance import PrunerUnderTest
from mbp_verify.conformance.counterexamples import Recorder

__all__ = ["run_property"]


def run_property(
    module: str, name: str, pruner: PrunerUnderTest, *, explicit_only: bool = False, profile: str = "mbp-quick"
) -> "BaseException | None":
    """The exception the property raised on `pruner` (None if it passed); skips propagate."""
    fn = getattr(importlib.import_module(f"properties.pruner.{module}"), name)
    kwargs = {"pruner_under_test": pruner, "counterexample": Recorder(None, "x", name, pruner.spec), "mbp_evidence": {}}
    wanted = {k: v for k, v in kwargs.items() if k in inspect.signature(fn).parameters}
    previous = getattr(fn, "_hypothesis_internal_use_settings", None)
    if previous is not None:
        phases = (Phase.explicit,) if explicit_only else (Phase.explicit, Phase.generate)
        fn._hypothesis_internal_use_settings = settings(settings.get_profile(profile), phases=phases)
    try:
        fn(**wanted)
    except pytest.skip.Exception:
        raise
    except BaseException as exc:  # noqa: BLE001 - the verdict is the caller's
        return exc
    finally:
        if previous is not None:
            fn._hypothesis_internal_use_settings = previous
    return None
