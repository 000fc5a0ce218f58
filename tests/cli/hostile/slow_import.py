"""A correct pruner whose module takes 21 s to import (a heavy framework on a loaded machine):
longer than the default time limit, within a `--timeout 60`."""

import time

from .calls import correct as prune  # noqa: F401

time.sleep(21)
