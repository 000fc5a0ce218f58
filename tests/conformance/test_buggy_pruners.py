"""The suite finds bug X: every bundled buggy pruner fails its named required property.

Each property function of properties/pruner is called directly (Hypothesis runs it with the
derandomised `mbp-default` profile) against the buggy pruner; the outcome is classified
exactly as the pytest plugin classifies it, and must be `fail`. The same pruners go through
the real `mbp-verify check-pruner` CLI in tests/conformance/test_check_pruner_cli.py.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from hypothesis import Phase, settings

import mbp_verify.suite.plugin as plugin
import properties.pruner as pruner_properties
from mbp_verify.conformance import PrunerUnderTest, load_pruner, reference_pruner
from mbp_verify.conformance.counterexamples import Recorder

from .buggy_pruners import BUGS
from .correct_pruners import argpartition, full_sort  # noqa: F401  (importable by name below)


def _property_functions() -> dict[str, list]:
    found: dict[str, list] = {}
    for info in pkgutil.iter_modules(pruner_properties.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"properties.pruner.{info.name}")
        for name, fn in vars(module).items():
            marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "mbp_property"]
            if name.startswith("test_") and marks:
                found.setdefault(marks[0].kwargs["id"], []).append((fn, marks[0].kwargs))
    return found


PROPERTIES = _property_functions()


def _detect(profile: str) -> settings:
    """The examples check-pruner generates at `profile` (derandomised), without shrinking: here
    we only ask whether the property detects the bug; shrinking is exercised by the CLI tests."""
    return settings(settings.get_profile(profile), phases=(Phase.explicit, Phase.generate))


def _outcome(fn, pruner: PrunerUnderTest, profile: str = "mbp-default") -> str:
    if "request" in inspect.signature(fn).parameters:  # pruner.baseline_unchanged: needs a recorded file
        return "skip"
    kwargs = {
        "pruner_under_test": pruner,
        "counterexample": Recorder(None, "x", fn.__name__, pruner.spec),
        "mbp_evidence": {},
    }
    wanted = {k: v for k, v in kwargs.items() if k in inspect.signature(fn).parameters}
    previous = getattr(fn, "_hypothesis_internal_use_settings", None)
    if previous is not None:  # a @given property: same examples as check-pruner, no shrinking
        fn._hypothesis_internal_use_settings = _detect(profile)
    try:
        fn(**wanted)
    except pytest.skip.Exception:
        return "skip"
    except BaseException as exc:  # classified like the plugin does; a fail must be the property's assertion
        status = plugin._classify(pytest.ExceptionInfo.from_exception(exc))
        leaves = list(plugin._leaf_exceptions(exc))
        return (
            status if status != "fail" or all(type(e) is AssertionError for e in leaves) else "fail (not an assertion)"
        )
    finally:
        if previous is not None:
            fn._hypothesis_internal_use_settings = previous
    return "pass"


def test_bundle_size():
    assert len(BUGS) >= 15
    assert all(pid in PROPERTIES for _, _, pid in BUGS.values())


@pytest.mark.parametrize("profile", ["mbp-quick", "mbp-default"])
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_bug_is_caught_by_its_required_property(bug, profile):
    spec, extra, property_id = BUGS[bug]
    pruner = PrunerUnderTest(load_pruner(spec, global_scope="--global" in extra), spec=spec)
    functions = PROPERTIES[property_id]
    assert all(meta["tier"] == "required" for _, meta in functions)
    outcomes = [_outcome(fn, pruner, profile) for fn, _ in functions]
    assert "fail" in outcomes, f"{bug}: {property_id} gave {outcomes}"


# The two bug classes a real library showed (float16 squares in torch.ao's L2 norm; masks
# transposed on square matrices), as layerwise and as global pruners: each must fail the
# property named after its cause (magnitude order; one global threshold for global pruners).
BUG_CLASSES = [
    ("l2_norm_in_input_dtype", "pruner.magnitude_order"),
    ("transposed_on_square", "pruner.magnitude_order"),
    ("global_l2_norm_in_input_dtype", "pruner.magnitude_order"),
    ("global_transposed_on_square", "pruner.magnitude_order"),
    ("global_l2_norm_in_input_dtype", "pruner.global_threshold"),
    ("global_transposed_on_square", "pruner.global_threshold"),
]


@pytest.mark.parametrize("bug,property_id", BUG_CLASSES)
def test_bug_class_is_caught_by_the_property_named_after_its_cause(bug, property_id):
    """The pinned examples alone catch it (explicit phase only), so every profile does."""
    spec, extra, _ = BUGS[bug]
    pruner = PrunerUnderTest(load_pruner(spec, global_scope="--global" in extra), spec=spec)
    pinned = settings(settings.get_profile("mbp-quick"), phases=(Phase.explicit,))
    fn = next(fn for fn, _ in PROPERTIES[property_id] if hasattr(fn, "hypothesis"))
    previous = fn._hypothesis_internal_use_settings
    fn._hypothesis_internal_use_settings = pinned
    try:
        with pytest.raises(AssertionError):
            fn(pruner_under_test=pruner, counterexample=Recorder(None, "x", fn.__name__, spec))
    finally:
        fn._hypothesis_internal_use_settings = previous


@pytest.mark.parametrize("property_id", sorted(PROPERTIES))
def test_reference_engine_passes_every_property(property_id):
    pruner = PrunerUnderTest(reference_pruner())
    outcomes = [_outcome(fn, pruner) for fn, _ in PROPERTIES[property_id]]
    assert set(outcomes) <= {"pass", "skip"}, outcomes
