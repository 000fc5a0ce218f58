"""Writing results to disk: atomic files, run folders, figures and JSON conversion.

The layer every job writes through (theorem, audit and conformance reports, the suite's run
report, the CLI's `--json`): it knows files, not the mathematics, so any layer may use it.
"""

from .atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, json_ready, json_text
from .folders import mark_latest, new_run_folder, staged_folder

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_text", "json_ready", "json_text", "mark_latest",
           "new_run_folder", "staged_folder"]
