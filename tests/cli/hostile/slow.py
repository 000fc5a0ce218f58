"""A correct pruner that takes 50 ms per call: a run long enough to be interrupted."""

import time

import numpy as np


def prune(weights, n_prune):
    time.sleep(0.05)
    order = np.argsort(np.abs(np.asarray(weights, dtype=np.float64)).ravel(), kind="stable")
    keep = np.ones(weights.size, dtype=bool)
    keep[order[:n_prune]] = False
    return keep.reshape(weights.shape)
