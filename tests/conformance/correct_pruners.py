"""Correct magnitude pruners written independently of the reference engine (no false alarms)."""

from __future__ import annotations

import numpy as np


def full_sort(w, n):
    """Stable full sort of |w|: ties by lower flat index, NaN last (= largest)."""
    a = np.abs(np.asarray(w, dtype=np.float64)).ravel()
    keep = np.ones(a.size, dtype=bool)
    keep[np.argsort(a, kind="stable")[:n]] = False
    return keep.reshape(np.shape(w))


full_sort.mbp_rules = {"tie": "index", "nan": "largest"}


def argpartition(w, n):
    """np.argpartition selection: ties in no particular order (tie=any), NaN ranks largest."""
    a = np.abs(np.asarray(w, dtype=np.float64)).ravel()
    keep = np.ones(a.size, dtype=bool)
    if n:
        keep[np.argpartition(a, n - 1)[:n]] = False
    return keep.reshape(np.shape(w))


argpartition.mbp_rules = {"tie": "any", "nan": "largest"}


def lexsort_global(layers, total):
    """Global pruning by one lexicographic sort of (|w|, layer, index) over all layers."""
    mags = np.concatenate([np.abs(np.asarray(w, dtype=np.float64)).ravel() for w in layers])
    keep = np.ones(mags.size, dtype=bool)
    keep[np.argsort(mags, kind="stable")[:total]] = False
    out, start = [], 0
    for w in layers:
        out.append(keep[start : start + np.size(w)].reshape(np.shape(w)))
        start += np.size(w)
    return out


lexsort_global.mbp_rules = {"tie": "index", "nan": "largest", "scope": "global"}
