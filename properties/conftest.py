"""Shared setup of the formal property suite.

Hypothesis runs derandomised with no example database (profile `mbp-default` unless the
runner chose another), so every run is a deterministic function of the code and seed.
"""

import os

from hypothesis import settings

import mbp_verify.suite.plugin  # noqa: F401  (registers the mbp-* Hypothesis profiles)

if settings.get_current_profile_name() not in mbp_verify.suite.plugin.HYPOTHESIS_PROFILES:
    settings.load_profile(os.environ.get("MBP_HYPOTHESIS_PROFILE", "mbp-default"))
