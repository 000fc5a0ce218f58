"""Derivations in a worker process that the parent kills when it runs over its time limit.

sympy calls cannot be interrupted safely in the calling process (an alarm signal may land in a
weakref callback and be lost), so a derivation with a time limit runs in a `spawn` worker. The
worker sends the rigorous answer as soon as it has it, then the symbolically refined one; the
parent waits for the refinement at most `REFINE_SECONDS` more, and never past the limit. A
timeout before any answer raises `DerivationTimeout` (an InputError: exit 2 on the CLI).
Completed answers are cached in the parent.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from dataclasses import replace
from typing import Any

from ..errors import InputError
from .lipschitz import DerivationUndecided, LipschitzDerivation

__all__ = ["DerivationTimeout", "REFINE_SECONDS", "derive_in_worker"]

REFINE_SECONDS = 5.0
_CONTEXT = multiprocessing.get_context("spawn")
_ERRORS = {"InputError": InputError, "DerivationUndecided": DerivationUndecided}
_CACHE: dict[tuple, LipschitzDerivation] = {}


class DerivationTimeout(InputError):
    """The derivation gave no answer within its time limit."""


def _work(connection: Any, name: str, expr_text: "str | None", deadline: float) -> None:
    """Worker body: parse, derive, send ("proven", d), then ("final", d) or ("error", kind, text)."""
    from .lipschitz import derive_expression, derive_softmax
    from .registry import parse_expression, symbolic_activation

    try:
        if expr_text is None and name == "softmax":
            connection.send(("final", derive_softmax()))
            return
        if expr_text is None:
            spec, expr = symbolic_activation(name)
            name = str(spec)
        else:
            expr = parse_expression(expr_text)
        seconds = max(1.0, (deadline - time.time()) * 0.8)
        result = derive_expression(name, expr, seconds=seconds, report=lambda d: connection.send(("proven", d)))
        connection.send(("final", result))
    except InputError as exc:
        connection.send(("error", type(exc).__name__, str(exc)))
    except Exception as exc:  # a sympy or mpmath failure: reported, never a silent answer
        connection.send(("error", "DerivationUndecided", f"the derivation failed: {type(exc).__name__}: {exc}"))


def derive_in_worker(name: str, expr_text: "str | None", seconds: float) -> LipschitzDerivation:
    """Run one derivation in a worker process; at most `seconds` of wall time."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"the time limit must be a finite positive number of seconds, got {seconds!r}")
    key = (name, expr_text)
    if key in _CACHE:
        return _CACHE[key]
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    started = time.monotonic()
    process = _CONTEXT.Process(target=_work, args=(sender, name, expr_text, time.time() + seconds), daemon=True)
    process.start()
    sender.close()
    proven: "LipschitzDerivation | None" = None
    until = started + seconds
    try:
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0 or not receiver.poll(remaining):
                break
            try:
                message = receiver.recv()
            except EOFError:
                break
            if message[0] == "proven":
                proven = message[1]
                until = min(started + seconds, time.monotonic() + REFINE_SECONDS)
            elif message[0] == "final":
                _CACHE[key] = message[1]
                return message[1]
            else:
                raise _ERRORS.get(message[1], InputError)(message[2])
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    if proven is not None:
        note = "symbolic refinement stopped at the time limit: the proven values stand"
        return replace(proven, steps=(*proven.steps, note))
    if process.exitcode not in (0, None) and time.monotonic() - started < seconds:
        raise DerivationUndecided(f"the derivation worker ended with status {process.exitcode}")
    raise DerivationTimeout(f"the derivation gave no answer within the time limit of {seconds:g} s")
