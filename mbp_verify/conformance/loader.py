"""Loading the pruner under test from `MODULE:ATTR` (current directory or PYTHONPATH).

`ATTR` may be dotted (`pkg.mod:Class.method`). What it names decides the adapter:

- an object with a `prune` method (an adapter; a class is instantiated with no arguments);
- a plain callable: layerwise `fn(weights, n_prune)`, or global `fn(layers, total)` with
  `global_scope=True` (CLI `--global`) or a declared `scope=global`.

Rules come from the adapter's `rules`, else the callable's `mbp_rules` attribute, else the
defaults; `rules=` (CLI `--rules`) overrides them key by key. Anything that cannot be
loaded raises `InputError` with one clear line.

`load_pruner` never imports the user's module in the calling process: it checks the
spec's syntax here and loads it in a worker process (`isolation.IsolatedAdapter`), where a
module that exits, crashes or hangs at import cannot take the checker down.
`load_in_process` is what that worker runs.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from ..errors import InputError
from .protocol import FunctionPruner, GlobalFunctionPruner, has_hook
from .rules import PrunerRules, coerce_rules

__all__ = ["load_pruner", "load_in_process", "resolve_target", "split_spec", "PRUNER_ROOT_ENV"]

PRUNER_ROOT_ENV = "MBP_VERIFY_PRUNER_ROOT"


def split_spec(spec: str) -> tuple[str, str]:
    """('module', 'attr') of 'module:attr', validated."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise InputError(f"pruner must be given as MODULE:ATTR (e.g. mypkg.prune:magnitude), got {spec!r}")
    module, attr = (s.strip() for s in spec.split(":"))
    if not module or not attr or not all(p.isidentifier() for p in module.split(".") + attr.split(".")):
        raise InputError(f"pruner must be given as MODULE:ATTR with Python identifiers, got {spec!r}")
    return module, attr


def resolve_target(spec: str) -> Any:
    """Import `MODULE` (the user's current directory first, then PYTHONPATH) and return `ATTR`.

    The property suite runs in a subprocess whose working directory is the suite's own folder;
    `$MBP_VERIFY_PRUNER_ROOT` names the folder the user ran from, so that a pruner in the user's
    `tests` package is not looked up in the suite's `tests` package.
    """
    module_name, attr = split_spec(spec)
    root = os.environ.get(PRUNER_ROOT_ENV) or os.getcwd()
    if sys.path[:1] != [root]:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise InputError(f"cannot import module {module_name!r} for {spec!r}: {exc}") from None
    except Exception as exc:  # the module itself failed while importing
        raise InputError(f"importing module {module_name!r} raised {type(exc).__name__}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InputError(f"module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    return target


_LOADED: dict[tuple, Any] = {}


class _WithRules:
    """An adapter seen through overridden rules (everything else delegates)."""

    def __init__(self, adapter: Any, rules: PrunerRules) -> None:
        self._adapter = adapter
        self.rules = rules

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)


def load_pruner(
    spec: str, *, rules: "PrunerRules | dict | str | None" = None, global_scope: bool = False, timeout_s: float = 20.0
) -> Any:
    """The adapter for `spec` in its own worker process, declared rules and `rules` overrides applied.

    `timeout_s` bounds the import; a load that fails, exits, crashes or hangs raises `InputError`.
    """
    split_spec(spec)
    if rules:
        coerce_rules(rules)  # a malformed override is the caller's error: say so before starting a worker
    from .isolation import IsolatedAdapter

    key = (spec, rules if isinstance(rules, (str, type(None))) else repr(rules), bool(global_scope), os.getcwd())
    if key not in _LOADED:  # one long-lived worker per pruner and process (it restarts itself after a crash)
        _LOADED[key] = IsolatedAdapter(spec, rules=rules, global_scope=global_scope, timeout_s=timeout_s)
    return _LOADED[key].with_timeout(timeout_s)


def load_in_process(spec: str, *, rules: "PrunerRules | dict | str | None" = None, global_scope: bool = False) -> Any:
    """The adapter for `spec` imported into this process (the worker's side of `load_pruner`)."""
    target = resolve_target(spec)
    if isinstance(target, type):
        try:
            target = target()
        except Exception as exc:
            raise InputError(f"cannot instantiate {spec!r} with no arguments: {type(exc).__name__}: {exc}") from None
    if has_hook(target, "prune"):
        declared = coerce_rules(getattr(target, "rules", None))
        adapter: Any = target
        if global_scope and not has_hook(target, "prune_global"):
            raise InputError(f"--global given but {spec!r} has no prune_global(layers, total) method")
        if global_scope:
            declared = coerce_rules({"scope": "global"}, base=declared)
    elif callable(target):
        declared = coerce_rules(getattr(target, "mbp_rules", None))
        if global_scope or declared.scope == "global":
            adapter = GlobalFunctionPruner(target, declared, name=spec)
            declared = adapter.rules
        else:
            adapter = FunctionPruner(target, declared, name=spec)
    else:
        raise InputError(
            f"{spec!r} is a {type(target).__name__}, not a pruner (need a callable or an object with prune())"
        )
    final = coerce_rules(rules, base=declared) if rules else declared
    if final.scope == "global" and not has_hook(adapter, "prune_global"):
        raise InputError(f"rules declare scope=global but {spec!r} has no prune_global(layers, total)")
    if final is not getattr(adapter, "rules", None):
        adapter = _WithRules(adapter, final)
    return adapter
