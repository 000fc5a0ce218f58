"""The architecture's layers: a module may import only from its own layer or the layers below.

Order (docs/design.md section 5): the foundation (errors, validation, seeding, time limits,
process environment) -> reports (files) -> engine -> symbolic -> bounds -> statistics ->
theorem / audit / conformance -> adapters -> strategies -> suite -> cli. Only suite/ and cli/
import pytest. A lazy import inside a function counts the same as one at the top, so no two
layers import each other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mbp_verify"
FOUNDATION = ("errors", "_validation", "_deprecation", "_environment", "seeding", "timeouts", "lifeline")
LAYERS = {
    **{name: 0 for name in FOUNDATION},
    "reports": 1,
    "engine": 2,
    "symbolic": 3,
    "bounds": 4,
    "statistics": 5,
    "theorem": 6,
    "audit": 6,
    "conformance": 6,
    "adapters": 7,
    "strategies": 8,
    "suite": 9,
    "cli": 10,
    "__init__": 11,
    "__main__": 12,
}
PYTEST_ALLOWED = ("suite", "cli")


def _unit(module: Path) -> str:
    return module.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(module: Path) -> list[tuple[str, int]]:
    """(imported top-level name inside mbp_verify, or 'pytest'/'hypothesis'; line) for each import."""
    tree = ast.parse(module.read_text(), str(module))
    package_parts = module.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "mbp_verify" and len(parts) > 1:
                    found.append((parts[1], node.lineno))
                elif parts[0] == "pytest":
                    found.append(("pytest", node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package_parts[: len(package_parts) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = (node.module or "").split(".")
            if target[0] == "pytest":
                found.append(("pytest", node.lineno))
            elif target[0] == "mbp_verify":
                if len(target) > 1:
                    found.append((target[1], node.lineno))
                else:
                    found.extend((alias.name, node.lineno) for alias in node.names)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_imports(module):
    unit = _unit(module)
    assert unit in LAYERS, f"{unit} has no layer: add it to LAYERS and to docs/design.md section 5"
    for imported, line in _imports(module):
        if imported == "pytest":
            assert unit in PYTEST_ALLOWED, f"{module.name}:{line} imports pytest: only suite/ and cli/ may"
            continue
        if imported == unit or imported not in LAYERS:
            continue
        within_foundation = unit in FOUNDATION and imported in FOUNDATION  # errors is imported by the others
        assert LAYERS[imported] < LAYERS[unit] or within_foundation, (
            f"{module.relative_to(PACKAGE)}:{line} imports {imported} (layer {LAYERS[imported]}) from layer "
            f"{LAYERS[unit]}"
        )


def test_importing_the_library_loads_no_test_harness():
    code = (
        "import sys, mbp_verify, mbp_verify.theorem, mbp_verify.conformance, mbp_verify.audit, mbp_verify.bounds, "
        "mbp_verify.symbolic, mbp_verify.statistics, mbp_verify.reports; "
        "print(sorted(m for m in ('pytest', 'mbp_verify.suite', '_pytest') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
