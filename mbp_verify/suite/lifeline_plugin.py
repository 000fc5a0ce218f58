"""pytest plugin loaded by the suite runner: pytest-xdist workers die with their controller.

The runner's pytest subprocess already dies with the mbp-verify command; this makes each
xdist worker die with that subprocess, so a killed command leaves no worker behind.
"""

from __future__ import annotations

import pytest

from ..lifeline import die_with_parent

__all__ = ["pytest_configure"]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        die_with_parent()
