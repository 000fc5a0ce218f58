"""The pruner under test for properties/pruner.

With no `--mbp-pruner` option the properties check the reference engine
(`mbp_verify.engine.magnitude_mask` and `global_magnitude_masks`, declared rules in
`mbp_verify.conformance.reference`). With `--mbp-pruner MODULE:ATTR` (and optionally
`--mbp-rules`, `--mbp-global`, `--mbp-timeout`) they check that pruner instead; this is what
`mbp-verify check-pruner` and the pytest plugin do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mbp_verify.conformance.counterexamples import Recorder
from mbp_verify.conformance.harness import DEFAULT_TIMEOUT_S, PrunerUnderTest
from mbp_verify.conformance.loader import load_pruner
from mbp_verify.conformance.reference import reference_pruner


def _option(config: pytest.Config, name: str, default=None):
    try:
        value = config.getoption(name)
    except ValueError:  # the mbp_verify plugin is not registered
        return default
    return default if value is None else value


@pytest.fixture(scope="session")
def pruner_under_test(request: pytest.FixtureRequest) -> PrunerUnderTest:
    """The pruner the properties judge, its calls guarded (crash or timeout -> status error)."""
    config = request.config
    spec = _option(config, "mbp_pruner")
    timeout = float(_option(config, "mbp_timeout", DEFAULT_TIMEOUT_S))
    if spec is None:
        return PrunerUnderTest(reference_pruner(), spec="reference engine", timeout_s=timeout)
    adapter = load_pruner(  # --timeout bounds the import here too, as in check-pruner's own process
        spec,
        rules=_option(config, "mbp_rules"),
        global_scope=bool(_option(config, "mbp_global", False)),
        timeout_s=timeout,
    )
    return PrunerUnderTest(adapter, spec=spec, timeout_s=timeout)


@pytest.fixture
def counterexample(request: pytest.FixtureRequest, pruner_under_test: PrunerUnderTest) -> Recorder:
    """Saves the minimal failing input of this property as a replayable .npz (only with
    --mbp-counterexample-dir: nothing is written into the user's tree unless asked)."""
    config = request.config
    directory = _option(config, "mbp_counterexample_dir")
    marker = request.node.get_closest_marker("mbp_property")
    property_id = marker.kwargs["id"] if marker else request.node.name
    return Recorder(
        Path(directory) if directory else None,
        property_id,
        request.node.name,
        pruner_under_test.spec,
        label=_option(config, "mbp_counterexample_label"),
    )


@pytest.fixture
def rules(pruner_under_test: PrunerUnderTest):
    return pruner_under_test.rules
