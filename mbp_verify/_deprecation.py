"""Old public names kept for one version: they still work and warn when used.

`renamed(module_globals, {"OldName": "NewName"})` returns a module-level `__getattr__` that
hands back the new object under the old name with a `DeprecationWarning` pointing at the caller.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["renamed"]


def renamed(namespace: Mapping[str, Any], aliases: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` resolving each deprecated alias to its new name in `namespace`."""
    module = namespace.get("__name__", "mbp_verify")

    def __getattr__(name: str) -> Any:
        if name in aliases:
            new = aliases[name]
            warnings.warn(
                f"{module}.{name} is deprecated and will be removed in the next version; use {new}",
                DeprecationWarning,
                stacklevel=2,
            )
            return namespace[new]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
