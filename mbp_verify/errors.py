"""Exceptions shared by the whole library.

`InputError` is the one exception that means "the caller gave us something we cannot
use": library functions raise it with a message naming the problem, and the CLI turns it
into a one-line message and exit code 2 (never a traceback).
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input (shape, dtype, value, file): the message names the problem."""
