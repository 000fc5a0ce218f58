"""The pruner protocol and the adapters that bring a callable or library API to it.

Layerwise protocol (docs/design.md section 3): `prune(weights, n_prune) -> mask`, mask of the
weights' shape, truthy = kept; weights of any shape and float16/32/64. Global protocol:
`prune_global(list_of_arrays, total) -> list_of_masks`.

An adapter is any object with a `rules` attribute (`PrunerRules`) and a `prune` method; the
optional methods below let the suite check more of the declaration (a property whose hook
is missing is skipped with a reason):

- `prune_global(layers, total)` — global scope;
- `prune_fraction(weights, fraction)` — the library's own fraction API (count rule);
- `reprune(weights, first, second)` — prune twice through the library's own state (count base);
- `effective_weights(weights, n_prune)` — the weights the library leaves after pruning;
- `prune_with_gamma(weights, n_prune)` — `(mask, gamma)`, gamma as the library reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .rules import PrunerRules, coerce_rules

__all__ = [
    "PrunerAdapter",
    "FunctionPruner",
    "GlobalFunctionPruner",
    "OPTIONAL_HOOKS",
    "has_hook",
    "as_numpy",
    "is_tensor",
    "tensor_as_numpy",
]

OPTIONAL_HOOKS = ("prune_global", "prune_fraction", "reprune", "effective_weights", "prune_with_gamma")


class PrunerAdapter:
    """Base class for adapters: subclasses set `name`, `rules` and implement `prune`."""

    name: str = "pruner"
    rules: PrunerRules = PrunerRules()

    def prune(self, weights: np.ndarray, n_prune: int) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:
        hooks = [h for h in OPTIONAL_HOOKS if has_hook(self, h)]
        return f"{self.name} (rules: {self.rules.to_text()}; hooks: {', '.join(hooks) or 'none'})"


def has_hook(adapter: object, hook: str) -> bool:
    """Whether `adapter` implements the optional `hook` (a callable attribute, not None)."""
    return callable(getattr(adapter, hook, None))


class FunctionPruner(PrunerAdapter):
    """A plain layerwise callable `fn(weights, n_prune) -> mask` under declared rules."""

    def __init__(
        self,
        fn: Callable[[np.ndarray, int], Any],
        rules: "PrunerRules | dict | str | None" = None,
        name: "str | None" = None,
    ) -> None:
        self.fn = fn
        self.rules = coerce_rules(rules)
        self.name = name or getattr(fn, "__qualname__", repr(fn))

    def prune(self, weights: np.ndarray, n_prune: int) -> Any:
        return self.fn(weights, n_prune)


class GlobalFunctionPruner(PrunerAdapter):
    """A global callable `fn(layers, total) -> masks`; one layer alone is layerwise pruning."""

    def __init__(
        self, fn: Callable[[list, int], Any], rules: "PrunerRules | dict | str | None" = None, name: "str | None" = None
    ) -> None:
        self.fn = fn
        self.rules = coerce_rules({"scope": "global"}, base=coerce_rules(rules))
        self.name = name or getattr(fn, "__qualname__", repr(fn))

    def prune(self, weights: np.ndarray, n_prune: int) -> Any:
        masks = self.fn([weights], n_prune)
        if not isinstance(masks, (list, tuple)) or len(masks) != 1:
            raise TypeError(f"global pruner returned {type(masks).__name__} for one layer, expected a list of 1 mask")
        return masks[0]

    def prune_global(self, layers: Sequence[np.ndarray], total: int) -> Any:
        return self.fn(list(layers), total)


def as_numpy(result: Any) -> np.ndarray:
    """A pruner's mask as a numpy array (torch tensors and lists included), no validation."""
    if isinstance(result, np.ndarray):
        return result
    if is_tensor(result):
        return tensor_as_numpy(result)
    return np.asarray(result)


def is_tensor(value: Any) -> bool:
    """Whether `value` looks like a torch tensor (torch is never imported here)."""
    return hasattr(value, "detach") and hasattr(value, "cpu")


def tensor_as_numpy(tensor: Any) -> np.ndarray:
    """A tensor's values as a numpy array, exactly: sparse layouts made dense and bfloat16 widened to
    float32 (numpy has neither; a bfloat16 0/1 mask is a mask). A tensor without values on the CPU
    (device "meta") raises."""
    values = tensor.detach()
    if str(getattr(values, "layout", "torch.strided")) != "torch.strided":
        values = values.to_dense()
    values = values.cpu()
    if str(values.dtype) == "torch.bfloat16":
        values = values.float()
    return values.numpy()
