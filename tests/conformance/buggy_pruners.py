"""Buggy magnitude pruners, each a real mistake seen in pruning code, for the suite to catch.

`BUGS` maps each pruner's name to the required property that must fail on it (and, for
global or hook-based ones, how to load it). Every pruner is correct on "easy" inputs
(distinct positive magnitudes, C-contiguous float64) except where its bug bites, which is
what makes them worth catching.
"""

from __future__ import annotations

import numpy as np

from mbp_verify.conformance import PrunerAdapter, PrunerRules


def _stable_keep(keys: np.ndarray, n: int) -> np.ndarray:
    keep = np.ones(keys.size, dtype=bool)
    keep[np.argsort(keys, kind="stable")[:n]] = False
    return keep


def _mags(w) -> np.ndarray:
    return np.abs(np.asarray(w, dtype=np.float64)).ravel()


def wrong_order(w, n):
    """Sorts descending: prunes the largest magnitudes."""
    return _stable_keep(-_mags(w), n).reshape(np.shape(w))


def signed_values(w, n):
    """Ranks by the signed value instead of |w|."""
    return _stable_keep(np.asarray(w, dtype=np.float64).ravel(), n).reshape(np.shape(w))


def threshold_over_prunes_ties(w, n):
    """Prunes every |w| <= the n-th smallest: all entries tied at the threshold go."""
    a = _mags(w)
    if n == 0:
        return np.ones(np.shape(w), dtype=bool)
    return ~(a <= np.sort(a)[n - 1]).reshape(np.shape(w))


def threshold_under_prunes_ties(w, n):
    """Prunes |w| < the (n+1)-th smallest: entries tied at the threshold all stay."""
    a = _mags(w)
    if n == a.size:
        return np.zeros(np.shape(w), dtype=bool)
    return ~(a < np.sort(a)[n]).reshape(np.shape(w))


def off_by_one(w, n):
    """Prunes n - 1 entries (a range(1, n) loop)."""
    return _stable_keep(_mags(w), max(0, n - 1)).reshape(np.shape(w))


def float_round_trip_count(w, n):
    """Converts the count to a fraction and back: int((n / D) * D) is n - 1 for (1, 49)."""
    a = _mags(w)
    return _stable_keep(a, int((n / a.size) * a.size)).reshape(np.shape(w))


def inverted_mask(w, n):
    """Returns True = pruned instead of True = kept."""
    return ~_stable_keep(_mags(w), n).reshape(np.shape(w))


def mutates_input(w, n):
    """Applies the mask in place on the caller's array."""
    keep = _stable_keep(_mags(w), n).reshape(np.shape(w))
    np.putmask(w, ~keep, 0)
    return keep


def random_tie_breaking(w, n):
    """Shuffles before a stable sort, unseeded: ties are broken differently on every call."""
    a = _mags(w)
    order = np.random.default_rng().permutation(a.size)
    keep = np.ones(a.size, dtype=bool)
    keep[order[np.argsort(a[order], kind="stable")[:n]]] = False
    return keep.reshape(np.shape(w))


def low_precision_ranking(w, n):
    """Ranks in float16 (to save memory): values one ulp apart in float32/64 tie, large ones overflow."""
    return _stable_keep(np.abs(np.asarray(w).astype(np.float16)).astype(np.float64).ravel(), n).reshape(np.shape(w))


def memory_order_mixup(w, n):
    """Ranks the entries in memory order but writes the mask back in C order."""
    flat = np.abs(np.ravel(np.asarray(w), order="K")).astype(np.float64)
    return _stable_keep(flat, n).reshape(np.shape(w))


def per_row(w, n):
    """Prunes n / rows entries in every row instead of n over the whole layer."""
    array = np.asarray(w, dtype=np.float64)
    rows = array.reshape(array.shape[0], -1) if array.ndim > 1 else array.reshape(1, -1)
    share, extra = divmod(n, rows.shape[0])
    keep = np.vstack([_stable_keep(np.abs(row), share + (i < extra)) for i, row in enumerate(rows)])
    return keep.reshape(np.shape(w))


def zeros_as_already_pruned(w, n):
    """Counts exact zeros as already pruned and prunes only n - #zeros more (or all zeros)."""
    a = _mags(w)
    zero = a == 0
    keep = ~zero
    more = max(0, n - int(zero.sum()))
    keys = np.where(zero, np.inf, a)
    keep[np.argsort(keys, kind="stable")[:more]] = False
    return keep.reshape(np.shape(w))


def nan_threshold_collapse(w, n):
    """The reference algorithm without NaN handling: a NaN threshold prunes nothing."""
    a = _mags(w)
    if n == 0:
        return np.ones(np.shape(w), dtype=bool)
    threshold = np.partition(a, n - 1)[n - 1]
    pruned = a < threshold
    missing = n - int(pruned.sum())
    pruned[np.flatnonzero(a == threshold)[:missing]] = True
    return ~pruned.reshape(np.shape(w))


def fixed_threshold(w, n):
    """Ignores n: prunes every |w| < 0.1."""
    return np.abs(np.asarray(w, dtype=np.float64)) >= 0.1


def returns_pruned_weights(w, n):
    """Returns the pruned weights instead of the mask."""
    keep = _stable_keep(_mags(w), n).reshape(np.shape(w))
    return np.where(keep, w, 0)


def flat_mask(w, n):
    """Returns the mask flattened."""
    return _stable_keep(_mags(w), n)


def keeps_at_least_one(w, n):
    """Never prunes the last entry (JaxPruner-style) without declaring min_kept=1."""
    a = _mags(w)
    return _stable_keep(a, min(n, a.size - 1)).reshape(np.shape(w))


def float16_count(w, n):
    """Carries the count in the weights' dtype; float16(3001) is 3000."""
    count = int(np.asarray(n, dtype=np.float16)) if np.asarray(w).dtype == np.float16 else n
    return _stable_keep(_mags(w), min(count, np.size(w))).reshape(np.shape(w))


def nan_ranked_smallest(w, n):
    """Ranks NaN as the smallest magnitude (JaxPruner) under the default NaN rule."""
    a = _mags(w)
    return _stable_keep(np.where(np.isnan(a), -1.0, a), n).reshape(np.shape(w))


def l2_norm_in_input_dtype(w, n):
    """Ranks by w * w computed in the weights' dtype (torch.ao's default L2 norm): in float16
    every |w| >= 256 squares to inf and every |w| < 2.4e-4 to 0, so their order is lost."""
    a = np.asarray(w)
    with np.errstate(over="ignore", under="ignore"):
        keys = (a * a).astype(np.float64).ravel()
    return _stable_keep(keys, n).reshape(a.shape)


def transposed_on_square(w, n):
    """Works on w.T (weights stored (in, out)) and transposes the mask back only when the
    shapes differ: on a square matrix the mask lands transposed."""
    a = np.asarray(w)
    if a.ndim != 2:
        return _stable_keep(_mags(a), n).reshape(a.shape)
    keep = _stable_keep(_mags(a.T), n).reshape(a.T.shape)
    return keep.T if keep.shape != a.shape else keep


def global_l2_norm_in_input_dtype(layers, total):
    """Global pruning ranking every layer by w * w in its own dtype (float16 overflows)."""
    with np.errstate(over="ignore", under="ignore"):
        keys = np.concatenate([(np.asarray(w) * np.asarray(w)).astype(np.float64).ravel() for w in layers])
    return _split(_stable_keep(keys, total), layers)


def global_transposed_on_square(layers, total):
    """Global pruning that ranks square matrices transposed and writes their masks untransposed."""
    views = [np.asarray(w).T if np.ndim(w) == 2 else np.asarray(w) for w in layers]
    keep = _split(_stable_keep(np.concatenate([_mags(v) for v in views]), total), views)
    return [k.T if k.shape != np.shape(w) else k for k, w in zip(keep, layers)]


def _split(flat_keep: np.ndarray, layers) -> list[np.ndarray]:
    out, start = [], 0
    for w in layers:
        out.append(flat_keep[start : start + np.size(w)].reshape(np.shape(w)))
        start += np.size(w)
    return out


def global_masks_by_shape(layers, total):
    """Selects globally, then hands the masks back from a dict keyed by shape, each group in reverse:
    layers of one shape (stacked blocks) get each other's masks."""
    masks = _split(_stable_keep(np.concatenate([_mags(a) for a in layers]), total), layers)
    groups: dict[tuple, list[int]] = {}
    for i, layer in enumerate(layers):
        groups.setdefault(np.shape(layer), []).append(i)
    out = list(masks)
    for indices in groups.values():
        for slot, source in zip(indices, reversed(indices)):
            out[slot] = masks[source]
    return out


def global_per_layer(layers, total):
    """'Global' pruning that splits the total over layers by size: one threshold per layer."""
    sizes = np.array([np.size(w) for w in layers])
    shares = (total * sizes) // sizes.sum()
    shares[: total - shares.sum()] += 1
    return [_stable_keep(_mags(w), int(k)).reshape(np.shape(w)) for w, k in zip(layers, shares)]


class Float16GammaPruner(PrunerAdapter):
    """Reports gamma from a float16 sum of the mask: wrong above 2048 kept entries."""

    name = "float16 gamma"
    rules = PrunerRules(tie="index")

    def prune(self, weights, n_prune):
        return _stable_keep(_mags(weights), n_prune).reshape(np.shape(weights))

    def prune_with_gamma(self, weights, n_prune):
        keep = self.prune(weights, n_prune)
        return keep, float(keep.astype(np.float16).sum() / keep.size)


class TotalBasePruner(PrunerAdapter):
    """Re-pruning treats the second count as a total while declaring count_base=remaining."""

    name = "total count base"
    rules = PrunerRules(tie="index", count_base="remaining")

    def prune(self, weights, n_prune):
        return _stable_keep(_mags(weights), n_prune).reshape(np.shape(weights))

    def reprune(self, weights, first, second):
        return self.prune(weights, max(first, second)) & self.prune(weights, first)


class FloorFractionPruner(PrunerAdapter):
    """Floors fraction * D (NNI) while declaring torch's half-to-even."""

    name = "floor fraction"
    rules = PrunerRules(tie="index", count="float:half_even")

    def prune(self, weights, n_prune):
        return _stable_keep(_mags(weights), n_prune).reshape(np.shape(weights))

    def prune_fraction(self, weights, fraction):
        return self.prune(weights, int(fraction * np.size(weights)))


class WMaskEffective(PrunerAdapter):
    """Effective weights as w * mask computed in place-order mix: keeps pruned entries' sign bit and value."""

    name = "effective weights not zeroed"
    rules = PrunerRules(tie="index")

    def prune(self, weights, n_prune):
        return _stable_keep(_mags(weights), n_prune).reshape(np.shape(weights))

    def effective_weights(self, weights, n_prune):
        keep = self.prune(weights, n_prune)
        return np.where(keep, weights, np.asarray(weights) * 1e-30)  # "soft" pruning: tiny, not zero


def keeps_all_of_read_only_weights(w, n):
    """Prunes a scratch copy in place when it may, and gives up (keeps everything) on a read-only array
    (np.frombuffer, safetensors, np.load with mmap_mode='r'), which check-pruner never passed."""
    keep = _stable_keep(_mags(w), n).reshape(np.shape(w))
    return keep if np.asarray(w).flags.writeable else np.ones_like(keep)


def keeps_everything(w, n):
    """Never prunes, and declares a minimum of kept entries no array reaches: the count checks expect nothing."""
    return np.ones(np.shape(w), dtype=bool)


keeps_everything.mbp_rules = {"min_kept": 10**9}


def largest_declared_random(w, n):
    """Prunes the largest magnitudes and declares random ranking, which skips every magnitude property."""
    return wrong_order(w, n)


largest_declared_random.mbp_rules = {"ranking": "random"}


def sampled_threshold_on_large_layers(w, n):
    """Large layers take a fast path: the threshold is a quantile of a strided sample, so entries near
    it are pruned or kept by luck (the count stays exact). Small generated arrays never reach it."""
    mags = _mags(w)
    if mags.size <= 10_000 or n in (0, mags.size):
        return _stable_keep(mags, n).reshape(np.shape(w))
    sample = np.sort(mags[::97])
    threshold = sample[min(sample.size - 1, sample.size * n // mags.size)]
    order = np.concatenate([np.flatnonzero(mags <= threshold), np.flatnonzero(mags > threshold)])
    keep = np.ones(mags.size, dtype=bool)
    keep[order[:n]] = False
    return keep.reshape(np.shape(w))


def keeps_all_of_5d_kernels(w, n):
    """Handles 1-D to 4-D weights and returns a 5-D (Conv3d) kernel untouched."""
    keep = _stable_keep(_mags(w), n).reshape(np.shape(w))
    return np.ones_like(keep) if np.ndim(w) >= 5 else keep


_CALLS: list[int] = []


def wrong_on_its_first_call(w, n):
    """Set-up on the first call that answers before it is done: a process's first mask keeps everything.
    In check-pruner that first call went to pruner.magnitude_order, which an all-kept mask satisfies: exit 0."""
    _CALLS.append(n)
    keep = _stable_keep(_mags(w), n).reshape(np.shape(w))
    return np.ones_like(keep) if len(_CALLS) == 1 else keep


MODULE = __name__

# name -> (MODULE:ATTR, extra CLI args, the required property that must fail)
BUGS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "wrong_order": (f"{MODULE}:wrong_order", (), "pruner.magnitude_order"),
    "signed_values": (f"{MODULE}:signed_values", (), "pruner.magnitude_order"),
    "threshold_over_prunes_ties": (f"{MODULE}:threshold_over_prunes_ties", (), "pruner.exact_count"),
    "threshold_under_prunes_ties": (f"{MODULE}:threshold_under_prunes_ties", (), "pruner.exact_count"),
    "off_by_one": (f"{MODULE}:off_by_one", (), "pruner.exact_count"),
    "float_round_trip_count": (f"{MODULE}:float_round_trip_count", (), "pruner.exact_count"),
    "inverted_mask": (f"{MODULE}:inverted_mask", (), "pruner.exact_count"),
    "mutates_input": (f"{MODULE}:mutates_input", (), "pruner.no_mutation"),
    "random_tie_breaking": (f"{MODULE}:random_tie_breaking", (), "pruner.determinism"),
    "wrong_on_its_first_call": (f"{MODULE}:wrong_on_its_first_call", (), "pruner.determinism"),
    "keeps_everything": (f"{MODULE}:keeps_everything", (), "pruner.declared_rules_within_spec"),
    "sampled_threshold_on_large_layers": (f"{MODULE}:sampled_threshold_on_large_layers", (), "pruner.magnitude_order"),
    "keeps_all_of_5d_kernels": (f"{MODULE}:keeps_all_of_5d_kernels", (), "pruner.exact_count"),
    "largest_declared_random": (f"{MODULE}:largest_declared_random", (), "pruner.declared_rules_within_spec"),
    "low_precision_ranking": (f"{MODULE}:low_precision_ranking", (), "pruner.magnitude_order"),
    "memory_order_mixup": (f"{MODULE}:memory_order_mixup", (), "pruner.layout_independence"),
    "keeps_all_of_read_only_weights": (
        f"{MODULE}:keeps_all_of_read_only_weights",
        (),
        "pruner.layout_independence",
    ),
    "per_row": (f"{MODULE}:per_row", (), "pruner.magnitude_order"),
    "zeros_as_already_pruned": (f"{MODULE}:zeros_as_already_pruned", (), "pruner.exact_count"),
    "nan_threshold_collapse": (f"{MODULE}:nan_threshold_collapse", (), "pruner.nan_policy"),
    "fixed_threshold": (f"{MODULE}:fixed_threshold", (), "pruner.exact_count"),
    "returns_pruned_weights": (f"{MODULE}:returns_pruned_weights", (), "pruner.binary"),
    "flat_mask": (f"{MODULE}:flat_mask", (), "pruner.shape"),
    "keeps_at_least_one": (f"{MODULE}:keeps_at_least_one", (), "pruner.boundaries"),
    "float16_count": (f"{MODULE}:float16_count", (), "pruner.exact_count"),
    "nan_ranked_smallest": (f"{MODULE}:nan_ranked_smallest", (), "pruner.nan_policy"),
    "global_per_layer": (f"{MODULE}:global_per_layer", ("--global",), "pruner.global_threshold"),
    "global_masks_by_shape": (f"{MODULE}:global_masks_by_shape", ("--global",), "pruner.global_threshold"),
    "l2_norm_in_input_dtype": (f"{MODULE}:l2_norm_in_input_dtype", (), "pruner.magnitude_order"),
    "transposed_on_square": (f"{MODULE}:transposed_on_square", (), "pruner.magnitude_order"),
    "global_l2_norm_in_input_dtype": (
        f"{MODULE}:global_l2_norm_in_input_dtype",
        ("--global",),
        "pruner.magnitude_order",
    ),
    "global_transposed_on_square": (f"{MODULE}:global_transposed_on_square", ("--global",), "pruner.magnitude_order"),
    "float16_gamma": (f"{MODULE}:Float16GammaPruner", (), "pruner.gamma_reported"),
    "total_count_base": (f"{MODULE}:TotalBasePruner", (), "pruner.count_base"),
    "floor_fraction": (f"{MODULE}:FloorFractionPruner", (), "pruner.count_rule"),
    "effective_not_zero": (f"{MODULE}:WMaskEffective", (), "pruner.effective_zero"),
}
