"""The library's exceptions, under one base class.

- `InputError`: the caller gave us something we cannot use (shape, dtype, value, file); the
  message names the problem and the CLI turns it into one line and exit code 2.
- `CodeUnderTestError`: the pruner or engine under test crashed, exited, was killed or timed
  out; a property reports it as status `error` and the suite goes on.
- `Inconclusive`: the evidence decides neither pass nor fail (status `inconclusive`).

Catch `MbpVerifyError` to catch all of them.
"""

from __future__ import annotations

__all__ = ["MbpVerifyError", "InputError", "CodeUnderTestError", "Inconclusive"]


class MbpVerifyError(Exception):
    """Base class of every exception mbp_verify raises on purpose."""


class InputError(MbpVerifyError, ValueError):
    """Bad input (shape, dtype, value, file): the message names the problem."""


class CodeUnderTestError(MbpVerifyError):
    """The pruner/engine under test crashed or timed out; reported as `error`."""


class Inconclusive(MbpVerifyError):
    """Raised by a property whose evidence decides neither pass nor fail."""
