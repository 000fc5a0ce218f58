"""The formal property suite: declaring properties, running them, collecting statuses."""

from .property import STATUSES, CodeUnderTestError, Inconclusive, mbp_property
from .results import ItemResult, PropertyResult, aggregate, combine_statuses, run_exit_code
from .runner import SuiteRun, pin_blas_threads_for_children, properties_dir, run_property_suite, single_thread_env

__all__ = [
    "STATUSES",
    "CodeUnderTestError",
    "Inconclusive",
    "mbp_property",
    "ItemResult",
    "PropertyResult",
    "aggregate",
    "combine_statuses",
    "run_exit_code",
    "SuiteRun",
    "pin_blas_threads_for_children",
    "properties_dir",
    "run_property_suite",
    "single_thread_env",
]
