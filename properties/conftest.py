"""Shared setup of the formal property suite.

Hypothesis runs derandomised with no example database (profile `mbp-default` unless the
runner chose another), so every run is a deterministic function of the code and seed.
pytest-xdist workers get one BLAS thread each. The false-failure shares that statistical
properties declare are read off every collected item before `-k`/`-m` deselection, so the
budget property (`suite.false_failure_budget`) bounds any selection of the suite.
"""

import os

import pytest
from hypothesis import settings

import mbp_verify.suite.plugin  # noqa: F401  (registers the mbp-* Hypothesis profiles)
from mbp_verify.suite import pin_blas_threads_for_children
from mbp_verify.suite.budget import record_collection

pin_blas_threads_for_children()

if settings.get_current_profile_name() not in mbp_verify.suite.plugin.HYPOTHESIS_PROFILES:
    settings.load_profile(os.environ.get("MBP_HYPOTHESIS_PROFILE", "mbp-default"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    record_collection(config, items)
