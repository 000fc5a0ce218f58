"""Pruners that misbehave when called (module import itself is harmless)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

import numpy as np


def _correct(weights, n_prune):
    order = np.argsort(np.abs(np.asarray(weights, dtype=np.float64)).ravel(), kind="stable")
    keep = np.ones(weights.size, dtype=bool)
    keep[order[:n_prune]] = False
    return keep.reshape(weights.shape)


def exit_zero(weights, n_prune):
    sys.exit(0)


def exit_three(weights, n_prune):
    sys.exit(3)


def os_exit_zero(weights, n_prune):
    os._exit(0)


def kill_self(weights, n_prune):
    os.kill(os.getpid(), signal.SIGKILL)


def segfault(weights, n_prune):
    ctypes.string_at(0)


def base_exception(weights, n_prune):
    raise BaseException("not an Exception")


def block_alarm_and_sleep(weights, n_prune):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(3600)


def print_megabytes(weights, n_prune):
    chunk = "x" * (1 << 20)
    for _ in range(8):
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
    return _correct(weights, n_prune)


def return_list(weights, n_prune):
    return _correct(weights, n_prune).tolist()


def wrong_dtype(weights, n_prune):
    return _correct(weights, n_prune).astype(np.float32) * 0.5


def wrong_shape(weights, n_prune):
    return _correct(weights, n_prune).ravel()[:-1] if weights.size > 1 else np.ones(2, dtype=bool)


def correct(weights, n_prune):
    return _correct(weights, n_prune)


def segfault_when_one(weights, n_prune):
    if n_prune == 1:
        ctypes.string_at(0)
    return _correct(weights, n_prune)


def zero_in_place(weights, n_prune):
    mask = _correct(weights, n_prune)
    weights[~mask] = 0
    return mask


def layout(weights, n_prune):
    """Reports what arrived: strides (in items), writeable flag, and the values."""
    return np.array([s // weights.itemsize for s in weights.strides] + [int(weights.flags.writeable)])


class OddError(Exception):
    """An exception class only the pruner's module defines."""


def raise_odd(weights, n_prune):
    raise OddError("odd input")


def raise_value(weights, n_prune):
    raise ValueError("NaN weights are refused")


def return_object(weights, n_prune):
    return OddError("not a mask")


class Adapter:
    """An adapter object with declared rules and a hook the checker has never heard of."""

    name = "hostile adapter"
    rules = {"tie": "index", "nan": "raise"}

    def prune(self, weights, n_prune):
        return _correct(weights, n_prune)

    def custom_hook(self, a, b):
        return [a + b, os.getpid()]


def raise_on_nan(weights, n_prune):
    """Refuses NaN weights (declared: nan=raise), prunes everything else correctly."""
    if np.isnan(np.asarray(weights, dtype=np.float64)).any():
        raise ValueError("NaN weights are refused")
    return _correct(weights, n_prune)


raise_on_nan.mbp_rules = {"tie": "index", "nan": "raise"}


def raise_on_nan_declared_largest(weights, n_prune):
    """Refuses NaN weights although it declares that NaN ranks largest."""
    return raise_on_nan(weights, n_prune)


raise_on_nan_declared_largest.mbp_rules = {"tie": "index", "nan": "largest"}


def structured_mask(weights, n_prune):
    """A structured array: numpy cannot even cast it to bool."""
    return np.zeros(weights.shape, dtype=[("kept", np.int64), ("why", np.int64)])


def global_none(layers, total):
    """A global pruner that returns nothing."""
    return None


global_none.mbp_rules = {"scope": "global"}


def zero_in_place_reversed_ties(weights, n_prune):
    """Among tied magnitudes prunes the higher index first, and zeroes its whole input in place."""
    mags = np.abs(np.asarray(weights, dtype=np.float64)).ravel()
    keep = np.ones(weights.size, dtype=bool)
    keep[np.lexsort((-np.arange(mags.size), mags))[:n_prune]] = False
    if weights.flags.writeable:
        weights[...] = 0
    return keep.reshape(weights.shape)


def torch_mask(weights, n_prune, kind):
    """The correct mask as a torch tensor of one `kind`: bfloat16, sparse, or on the meta device."""
    import torch

    mask = torch.from_numpy(_correct(weights, n_prune).astype(np.float32))
    if kind == "bfloat16":
        return mask.to(torch.bfloat16)
    if kind == "sparse":
        return mask.to_sparse()
    return torch.empty(mask.shape, device="meta")


def torch_bfloat16_mask(weights, n_prune):
    return torch_mask(weights, n_prune, "bfloat16")


def torch_sparse_mask(weights, n_prune):
    return torch_mask(weights, n_prune, "sparse")


def torch_meta_mask(weights, n_prune):
    return torch_mask(weights, n_prune, "meta")


def object_array_of_arrays(weights, n_prune):
    """An object array holding the mask and None: numpy can neither cast it to bool nor view its bytes."""
    return np.array([_correct(weights, n_prune), None], dtype=object)


def timedelta_mask(weights, n_prune):
    """The correct 0/1 pattern as durations: numpy calls timedelta64 an integer, but it is no mask."""
    return _correct(weights, n_prune).astype("timedelta64[s]")


# ---------------------------------------------------------------- pruners that write into the checker's pipe


def _pipe():
    import gc
    from multiprocessing.connection import Connection

    return next(o for o in gc.get_objects() if isinstance(o, Connection))


class _ExitZero:
    def __reduce__(self):
        return (os._exit, (0,))


def _forge(message) -> None:
    import pickle

    _pipe().send_bytes(pickle.dumps(message, protocol=5))
    time.sleep(3600)


def forged_exit_pickle(weights, n_prune):
    """Sends an answer whose unpickling calls os._exit(0): the checker exited 0 (check-pruner exit 0)."""
    _forge(("ok", _ExitZero(), []))


def forged_system_exit(weights, n_prune):
    """Sends a raise of SystemExit(0), which the checker re-raised: check-pruner exited 0."""
    _forge(("raise", SystemExit(0), "SystemExit", "0", []))


def forged_change_of_no_argument(weights, n_prune):
    """Claims to have modified a 10th argument in place (the checker indexed it: exit 3)."""
    _forge(("ok", _correct(weights, n_prune), [((9,), np.ones(3))]))


def forged_malformed(weights, n_prune):
    _forge(("ok",))


def matrix_mask(weights, n_prune):
    """The correct mask as np.matrix (2-D weights only): a numpy subclass holding a valid answer."""
    keep = _correct(weights, n_prune)
    return np.matrix(keep) if keep.ndim == 2 else keep


def masked_array_mask(weights, n_prune):
    """The correct mask as a numpy masked array with nothing masked."""
    return np.ma.masked_array(_correct(weights, n_prune), mask=False)
