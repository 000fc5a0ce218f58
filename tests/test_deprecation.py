"""Renamed public names keep working for one version, with a DeprecationWarning naming the new one."""

import importlib

import pytest

RENAMED = [
    ("mbp_verify", "PrunedNetwork", "NetworkPair"),
    ("mbp_verify.engine", "PrunedNetwork", "NetworkPair"),
    ("mbp_verify.statistics", "MonteCarloTest", "MonteCarloResult"),
    ("mbp_verify.audit", "AuditTest", "AuditTestResult"),
]


@pytest.mark.parametrize("module, old, new", RENAMED)
def test_old_name_warns_and_is_the_new_object(module, old, new):
    namespace = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"use {new}"):
        assert getattr(namespace, old) is getattr(namespace, new)
    assert old not in namespace.__all__ and new in namespace.__all__


def test_unknown_names_still_raise_attribute_error():
    import mbp_verify

    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        mbp_verify.NoSuchThing  # noqa: B018
