"""No module imports another module's private names.

A name that starts with one underscore is its module's own business; a helper two modules need is
public in its one home (``from x import helper``), never borrowed (``from x import _helper``). The
test reads every source file with ``ast`` (nothing is imported), so it runs in well under a second.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# source directory -> the package it installs as (None: scripts run from their directory)
SOURCES = {"cookbook_datasets": "cookbook_datasets", "builders": "cookbook_datasets.builders",
           "trainers": "cookbook_datasets.trainers", "eval": "cookbook_datasets.eval",
           "experiments": None, "benchmarks": None}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path, top: str) -> tuple[str, bool]:
    """(dotted module name, is a package) of ``path`` under source directory ``top``."""
    parts = list(path.relative_to(ROOT / top).with_suffix("").parts)
    package = parts[-1] == "__init__"
    if package:
        parts.pop()
    prefix = SOURCES[top]
    return ".".join(([prefix] if prefix else []) + parts), package


def _resolve(node: ast.ImportFrom, module: str, package: bool) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_submodule(source: str, name: str) -> bool:
    """Whether ``from source import name`` names a module file of this tree (``from . import _impl``)."""
    for top, prefix in SOURCES.items():
        if prefix and (source == prefix or source.startswith(prefix + ".")):
            folder = ROOT / top / Path(*source.split(".")[len(prefix.split(".")):])
            return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()
    return False


def private_imports() -> list[str]:
    """``file:line: module <- source.name`` for every private name imported from another module."""
    found = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "results" in path.relative_to(ROOT / top).parts:
                continue
            module, package = _module_name(path, top)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
                    continue
                source = _resolve(node, module, package)
                for alias in node.names:
                    if _private(alias.name) and not _is_submodule(source, alias.name):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {module} <- {source}.{alias.name}")
    return found


def test_the_import_walker_sees_private_names():
    tree = ast.parse("from .kcenter import _sq_distances, kcenter_greedy\nfrom __future__ import annotations\n")
    node = tree.body[0]
    assert _resolve(node, "cookbook_datasets.selection.kcenter_torch", False) == "cookbook_datasets.selection.kcenter"
    assert _resolve(node, "cookbook_datasets.selection", True) == "cookbook_datasets.selection.kcenter"
    assert [a.name for a in node.names if _private(a.name)] == ["_sq_distances"]
    assert not _private("__version__") and not _private("annotations") and _private("_norm")


def test_no_module_imports_another_modules_private_names():
    found = private_imports()
    if found:
        pytest.fail("private names imported from another module (make the helper public in its one home):\n"
                    + "\n".join(found))
