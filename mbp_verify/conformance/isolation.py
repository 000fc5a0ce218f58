"""The code under test runs in its own process: it can crash, exit or hang, never the checker.

`IsolatedAdapter` stands in the checker for a user's pruner or adapter that lives in a worker
process (multiprocessing, forkserver context; spawn where there is no fork server). The worker
imports the user's module itself, so a module that hangs or exits at import is caught too. Any hook
is called by name with its arguments (`adapter.prune(w, n)`, `adapter.call("reprune", w, 2, 3)`), so
new hooks need no change here. The checker owns the time limit: it waits on the pipe and kills the
worker when the limit is over (no SIGALRM inside the pruner's process, which the pruner could
block); after a crash or a timeout the next call starts a fresh worker.

What the checker sees: - a returned value, with torch tensors turned into numpy arrays and unknown
objects into arrays (the properties judge it); arrays the pruner modified in place are written back
into the caller's arrays, so "does not modify its input" is still observable; - an exception raised
by the pruner, re-raised with its type name and message; - `PrunerTimeout` (a `CodeUnderTestError`
for the property) when the call did not return: over the time limit, `sys.exit`, `os._exit`, a
signal (segfault), or a BaseException.

Arguments keep their memory layout (transposed, strided and reversed views arrive as such) and their
read-only flag. The worker's stdout and stderr go to /dev/null, so a pruner that prints megabytes
cannot fill a pipe."""

from __future__ import annotations

import copy
import ctypes
import io
import multiprocessing
import os
import pickle
import signal
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from ..errors import CodeUnderTestError, InputError
from ..lifeline import die_with_parent
from .protocol import is_tensor, tensor_as_numpy
from .rules import PrunerRules

__all__ = ["IsolatedAdapter", "PrunerTimeout", "describe_exit"]

_SAFE_MODULES = ("builtins", "numpy", "mbp_verify")
_byte_bounds = getattr(np.lib, "array_utils", np).byte_bounds  # moved in NumPy 2.0
_MESSAGE_LIMIT = 500
_BOOT_TIMEOUT_S = 300.0  # starting Python and numpy in the worker, before the user's module (a loaded machine is slow)


class PrunerTimeout(CodeUnderTestError):
    """The pruner under test did not return: over its time limit, its process ended
    (`sys.exit`, `os._exit`, a signal such as SIGSEGV) or it raised a BaseException."""


class _RemoteError(Exception):
    """Base of the stand-ins for exceptions whose class lives in the pruner's own modules."""


def describe_exit(exitcode: "int | None") -> str:
    """'exited with status 3' / 'was killed by SIGSEGV' for a worker's exit code."""
    if exitcode is None:
        return "ended"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


# ---------------------------------------------------------------- arrays across the pipe


def _pack(value: Any) -> Any:
    """Arrays as (layout-preserving) records; lists and tuples recursively."""
    if isinstance(value, np.ndarray):
        readonly = not value.flags.writeable
        if value.flags.c_contiguous or value.flags.f_contiguous or value.size == 0:
            return ("ndarray", np.array(value, order="K", copy=True), readonly)
        low, high = _byte_bounds(value)
        raw = ctypes.string_at(low, high - low)
        start = value.__array_interface__["data"][0]
        return ("view", raw, start - low, value.shape, value.strides, value.dtype.str, readonly)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_pack(v) for v in value])
    return ("value", value)


def _unpack(record: Any) -> Any:
    kind = record[0]
    if kind == "ndarray":
        array = record[1]
    elif kind == "view":
        _, raw, offset, shape, strides, dtype, _readonly = record
        array = np.ndarray(shape, np.dtype(dtype), buffer=bytearray(raw), offset=offset, strides=strides)
    elif kind in ("list", "tuple"):
        items = [_unpack(r) for r in record[1]]
        return items if kind == "list" else tuple(items)
    else:
        return record[1]
    if record[-1]:
        array.flags.writeable = False
    return array


def _arrays(value: Any, path: tuple = ()) -> list[tuple[tuple, np.ndarray]]:
    if isinstance(value, np.ndarray):
        return [(path, value)]
    if isinstance(value, (list, tuple)):
        return [found for i, v in enumerate(value) for found in _arrays(v, path + (i,))]
    return []


def _at(value: Any, path: tuple) -> Any:
    for index in path:
        value = value[index]
    return value


def _portable(value: Any) -> Any:
    """The pruner's result in types the checker can unpickle without importing user code."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return np.array([_portable(v) for v in value.ravel()], dtype=object).reshape(value.shape)
        return value if type(value) is np.ndarray else np.asarray(value)  # np.matrix, masked arrays: their values
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return value if type(value).__module__ in ("builtins", "numpy") else np.asarray(value)[()]
    if isinstance(value, (list, tuple)):
        items = [_portable(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {str(k): _portable(v) for k, v in value.items()}
    if is_tensor(value):
        try:
            return tensor_as_numpy(value)
        except Exception as exc:  # a "meta" tensor holds no values: an answer the properties judge, not a raise
            return f"a tensor without values ({type(exc).__name__}): {repr(value)[:_MESSAGE_LIMIT]}"
    if type(value).__module__ in ("fractions", "decimal"):  # exact numbers, e.g. a reported gamma
        return value
    try:
        array = np.asarray(value)
    except Exception:
        return repr(value)[:_MESSAGE_LIMIT]
    return repr(value)[:_MESSAGE_LIMIT] if array.dtype.hasobject else array


def _exception_record(exc: BaseException) -> tuple:
    message = str(exc)[:_MESSAGE_LIMIT]
    cls = type(exc)
    plain_args = all(isinstance(a, (str, int, float, bool, type(None))) for a in exc.args)
    if cls.__module__.split(".")[0] in _SAFE_MODULES and plain_args:
        try:
            pickle.loads(pickle.dumps(exc, protocol=5))
            return ("raise", exc, cls.__name__, message)
        except Exception:
            pass
    return ("raise", None, cls.__name__, message)


# ---------------------------------------------------------------- the worker process


def _send(conn: Connection, message: Any) -> None:
    conn.send_bytes(pickle.dumps(message, protocol=5))


def _recv(conn: Connection) -> Any:
    """A call from the checker (the worker's side: the checker is trusted)."""
    return pickle.loads(conn.recv_bytes())


# ---------------------------------------------------------------- what the checker accepts from the worker

_NUMPY_CALLABLES = {"_reconstruct", "scalar", "_frombuffer", "dtype", "ndarray"}
_PLAIN_BUILTINS = {"complex", "bytearray", "set", "frozenset", "slice", "range"}


class _AnswerUnpickler(pickle.Unpickler):
    """Unpickles what the worker sends with no global but data types: arrays, numpy scalars and dtypes,
    exact numbers, `PrunerRules` and `Exception` classes. The worker runs the pruner's code, which can
    write anything into the pipe; a plain `pickle.loads` would run any callable it names in the checker
    (`os._exit(0)`: the checker exits 0)."""

    def find_class(self, module: str, name: str) -> Any:
        refused = pickle.UnpicklingError(f"{module}.{name} is not an answer's data type")
        if module not in sys.modules and module not in ("fractions", "decimal"):
            raise refused  # importing a module the pickle names would run its code here
        found = super().find_class(module, name)
        top = module.split(".", 1)[0]
        allowed = (
            (module == "builtins" and (name in _PLAIN_BUILTINS or _is_exception_class(found)))
            or (top == "numpy" and (name in _NUMPY_CALLABLES or _is_exception_class(found)))
            or (module, name) in {("fractions", "Fraction"), ("decimal", "Decimal")}
            or (module, name) == ("mbp_verify.conformance.rules", "PrunerRules")
            or (top == "mbp_verify" and _is_exception_class(found))
        )
        if not allowed:
            raise refused
        return found


def _is_exception_class(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, Exception)


def _load_answer(conn: Connection) -> Any:
    """The worker's message, unpickled with `_AnswerUnpickler`; `ValueError` if it is not data."""
    try:
        return _AnswerUnpickler(io.BytesIO(conn.recv_bytes())).load()
    except (EOFError, OSError):
        raise
    except Exception as exc:  # anything a forged pickle makes the unpickler raise
        raise ValueError(f"{type(exc).__name__}: {str(exc)[:_MESSAGE_LIMIT]}") from None


def _valid_changes(changes: Any) -> bool:
    return isinstance(changes, list) and all(
        isinstance(c, tuple)
        and len(c) == 2
        and isinstance(c[0], tuple)
        and all(type(i) is int for i in c[0])
        and isinstance(c[1], np.ndarray)
        for c in changes
    )


def _valid_answer(message: Any) -> bool:
    """("ok", value, changes), ("raise", Exception or None, type name, message, changes) or ("fault", text,
    changes): an exception that is not an `Exception` (SystemExit, KeyboardInterrupt) is never re-raised."""
    if not isinstance(message, tuple) or not message or not _valid_changes(message[-1]):
        return False
    kind = message[0]
    if kind == "ok":
        return len(message) == 3
    if kind == "fault":
        return len(message) == 3 and isinstance(message[1], str)
    return (
        kind == "raise"
        and len(message) == 5
        and (message[1] is None or isinstance(message[1], Exception))
        and isinstance(message[2], str)
        and isinstance(message[3], str)
    )


def _valid_ready(message: Any) -> bool:
    if not isinstance(message, tuple) or not message:
        return False
    if message[0] in ("input_error", "fault"):
        return len(message) == 2 and isinstance(message[1], str)
    return (
        message[0] == "ready"
        and len(message) == 4
        and isinstance(message[1], PrunerRules)
        and isinstance(message[2], str)
        and isinstance(message[3], list)
        and all(isinstance(h, str) for h in message[3])
    )


def _silence_output() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    warnings.simplefilter("ignore")


def _release_fork_server() -> None:
    """Close the fork server's keep-alive pipe that multiprocessing hands every child it forks.

    The fork server exits when that pipe reaches EOF; a worker holding its write end (while it
    hangs in the pruner) would keep the server alive after the checker died, and the server
    would keep the worker alive in turn (the worker's parent-death signal is tied to it).
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        os.close(fd)
        server._forkserver_alive_fd = None


def _serve(conn: Connection, spec: str, rules: Any, global_scope: bool) -> None:
    """Worker entry point: load the adapter, then answer calls until the pipe closes."""
    die_with_parent()  # forked by the fork server, which itself ends with the checker...
    _release_fork_server()  # ...provided no worker keeps it alive
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the checker's to handle
    _silence_output()
    from .loader import load_in_process
    from .protocol import has_hook

    _send(conn, ("booted",))  # our own imports are done: the import time limit starts now
    try:
        adapter = load_in_process(spec, rules=rules, global_scope=global_scope)
        names = {n for n in dir(adapter) + dir(getattr(adapter, "_adapter", None)) if not n.startswith("_")}
        hooks = sorted(n for n in names if n not in ("rules", "name") and has_hook(adapter, n))
        ready = ("ready", adapter.rules, str(getattr(adapter, "name", spec)), hooks)
    except InputError as exc:
        ready = ("input_error", str(exc))
    except SystemExit as exc:
        ready = ("fault", f"the module exited with status {exc.code!r} at import (sys.exit)")
    except BaseException as exc:  # noqa: B902 - anything else the user's module raises
        ready = ("input_error", f"loading {spec!r} raised {type(exc).__name__}: {str(exc)[:_MESSAGE_LIMIT]}")
    _send(conn, ready)
    if ready[0] != "ready":
        return
    while True:
        try:
            hook, packed = _recv(conn)
        except (EOFError, OSError):
            return
        args = [_unpack(p) for p in packed]
        before = [(path, array.copy()) for path, array in _arrays(args)]
        try:
            result = ("ok", _portable(getattr(adapter, hook)(*args)))
        except SystemExit as exc:
            code = exc.code if exc.code is not None else 0
            result = ("fault", f"the pruner exited with status {code!r} (sys.exit)")
        except Exception as exc:
            result = _exception_record(exc)
        except BaseException as exc:  # noqa: B902 - KeyboardInterrupt, GeneratorExit, BaseException
            result = ("fault", f"the pruner raised {type(exc).__name__}: {str(exc)[:_MESSAGE_LIMIT]}")
        changed = [
            (path, np.array(_at(args, path))) for path, copy in before if copy.tobytes() != _at(args, path).tobytes()
        ]
        try:
            _send(conn, (*result, changed))
        except (pickle.PicklingError, TypeError, AttributeError, ValueError) as exc:
            _send(
                conn, ("fault", f"the pruner returned a value that cannot be sent back ({type(exc).__name__})", changed)
            )


# ---------------------------------------------------------------- the checker's side


def _context() -> Any:
    """The fork server (workers fork from a process with numpy and this module already
    imported: a restart after a crash costs milliseconds), or spawn where there is none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "mbp_verify.conformance.loader"])
    return context


@contextmanager
def _single_thread_blas() -> Iterator[None]:
    """BLAS pinned to one thread in the environment the fork server (or a spawned worker) starts with."""
    from .._environment import single_thread_env

    pinned = single_thread_env({})
    saved = {name: os.environ.get(name) for name in pinned}
    os.environ.update(pinned)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Worker:
    """One worker process hosting one loaded adapter; restarted after a crash or a timeout."""

    def __init__(self, spec: str, rules: Any, global_scope: bool) -> None:
        self.spec = spec
        self._load_args = (spec, rules, global_scope)
        self._process: "multiprocessing.process.BaseProcess | None" = None
        self._conn: "Connection | None" = None
        self._finalizer: "weakref.finalize | None" = None

    def start(self, timeout_s: float) -> tuple:
        """Start the process and load the adapter; `InputError` if that fails in any way."""
        context = _context()
        parent_conn, child_conn = context.Pipe(duplex=True)
        process = context.Process(
            target=_serve, args=(child_conn, *self._load_args), name="mbp-verify pruner", daemon=True
        )
        with _single_thread_blas():
            process.start()
        child_conn.close()
        self._process, self._conn = process, parent_conn
        self._finalizer = weakref.finalize(self, _stop, process, parent_conn)
        try:
            self._wait(_BOOT_TIMEOUT_S, f"the worker did not start within {_BOOT_TIMEOUT_S:g} s", ("booted",).__eq__)
            ready = self._wait(timeout_s, f"timed out after {timeout_s:g} s at import", _valid_ready)
        except PrunerTimeout as exc:
            raise InputError(f"cannot load {self.spec!r}: {exc}") from None
        if ready[0] != "ready":
            self.close()
            raise InputError(ready[1] if ready[0] == "input_error" else f"cannot load {self.spec!r}: {ready[1]}")
        return ready

    def call(self, hook: str, args: tuple, timeout_s: float) -> tuple:
        """The worker's answer to `hook(*args)`; `PrunerTimeout` if it does not come."""
        if self._process is None:
            try:
                self.start(timeout_s)
            except InputError as exc:
                raise PrunerTimeout(f"the pruner could not be reloaded after its last failure: {exc}") from None
        assert self._conn is not None
        try:
            _send(self._conn, (hook, [_pack(a) for a in args]))
        except OSError:
            raise PrunerTimeout(self._ended()) from None
        answer = self._wait(timeout_s, f"timed out after {timeout_s:g} s", _valid_answer)
        if answer[0] == "fault":
            self.close()
        return answer

    def close(self) -> None:
        """Stop the process (idempotent); the next call starts a fresh one."""
        if self._finalizer is not None:
            self._finalizer()
        self._process, self._conn, self._finalizer = None, None, None

    def _wait(self, timeout_s: float, timeout_text: str, valid: Callable[[Any], bool]) -> Any:
        """The worker's next message if it comes within `timeout_s` and is `valid`, else `PrunerTimeout`."""
        assert self._conn is not None
        try:
            if self._conn.poll(timeout_s):
                message = _load_answer(self._conn)
                if valid(message):
                    return message
                raise ValueError(f"a {type(message).__name__} of the wrong form")
        except (EOFError, OSError):
            raise PrunerTimeout(self._ended()) from None
        except ValueError as exc:
            self.close()
            raise PrunerTimeout(f"the pruner's process sent something that is not an answer ({exc})") from None
        self.close()
        raise PrunerTimeout(f"{timeout_text} (the pruner's process was killed)")

    def _ended(self) -> str:
        process = self._process
        if process is not None:
            process.join(5)
        code = process.exitcode if process is not None else None
        self.close()
        return f"the pruner's process {describe_exit(code)}"


def _stop(process: "multiprocessing.process.BaseProcess", conn: Connection) -> None:
    conn.close()
    if process.is_alive():
        process.kill()
    process.join(5)


class IsolatedAdapter:
    """A pruner adapter living in a worker process; any hook is forwarded by name."""

    def __init__(self, spec: str, *, rules: Any = None, global_scope: bool = False, timeout_s: float = 20.0) -> None:
        self.spec = spec
        self.timeout_s = float(timeout_s)
        self._worker = _Worker(spec, rules, global_scope)
        ready = self._worker.start(self.timeout_s)
        self.rules: PrunerRules = ready[1]
        self.name: str = ready[2]
        self.hooks: frozenset[str] = frozenset(ready[3])

    def __repr__(self) -> str:
        return f"IsolatedAdapter({self.spec!r})"

    def with_timeout(self, timeout_s: float) -> "IsolatedAdapter":
        """The same worker under another per-call time limit."""
        view = copy.copy(self)
        view.timeout_s = float(timeout_s)
        return view

    def describe(self) -> str:
        """Name, effective rules and hooks, computed here (no call into the pruner)."""
        hooks = sorted(self.hooks - {"prune", "describe"})
        return f"{self.name} (rules: {self.rules.to_text()}; hooks: {', '.join(hooks) or 'none'})"

    def __getattr__(self, hook: str) -> Callable[..., Any]:
        if hook.startswith("_") or hook not in self.__dict__.get("hooks", ()):
            raise AttributeError(hook)
        return lambda *args: self.call(hook, *args)

    def call(self, hook: str, *args: Any) -> Any:
        """`adapter.<hook>(*args)` in the worker, within `timeout_s`."""
        kind, *rest = self._worker.call(hook, args, self.timeout_s)
        try:
            for path, array in rest[-1]:  # the pruner modified these arguments in place: so do we
                target = _at(list(args), path)
                if isinstance(target, np.ndarray) and target.flags.writeable and target.shape == array.shape:
                    np.copyto(target, array, casting="unsafe")
            if kind == "raise" and rest[0] is None:
                rest[0] = type(rest[1], (_RemoteError,), {"__module__": "pruner under test"})(rest[2])
        except (IndexError, TypeError, ValueError) as exc:  # a change of no argument, an uncastable array
            self._worker.close()
            raise PrunerTimeout(f"the pruner's process sent something that is not an answer ({exc})") from None
        if kind == "ok":
            return rest[0]
        if kind == "fault":
            raise PrunerTimeout(rest[0])
        raise rest[0]

    def close(self) -> None:
        """Stop the worker process (a later call starts a fresh one)."""
        self._worker.close()
