"""Shared setup of the formal property suite.

Hypothesis runs derandomised with no example database (profile `mbp-default` unless the
runner chose another), so every run is a deterministic function of the code and seed.
pytest-xdist workers get one BLAS thread each.
"""

import os

from hypothesis import settings

import mbp_verify.suite.plugin  # noqa: F401  (registers the mbp-* Hypothesis profiles)
from mbp_verify.suite import pin_blas_threads_for_children

pin_blas_threads_for_children()

if settings.get_current_profile_name() not in mbp_verify.suite.plugin.HYPOTHESIS_PROFILES:
    settings.load_profile(os.environ.get("MBP_HYPOTHESIS_PROFILE", "mbp-default"))
