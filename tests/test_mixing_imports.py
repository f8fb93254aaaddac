"""cookbook_datasets.mixing has no import circles: its modules' imports (those inside functions
included) form a graph without cycles, and each module imports on its own in a fresh interpreter."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cookbook_datasets.mixing

PACKAGE = "cookbook_datasets.mixing"
ROOT = Path(cookbook_datasets.mixing.__file__).parent


def _modules() -> dict:
    """module name -> its file, for every module under mixing/."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([PACKAGE, *parts])] = path
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, modules: dict) -> set:
    """The mixing modules ``module`` imports: named ones, the submodules ``from X import sub`` names, and
    the packages above an imported module that are not already above ``module`` (importing a.b.c
    runs a.b's __init__ first, unless the importer is inside a.b, whose __init__ has run)."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name in modules:
                targets.add(name)
            parts = name.split(".")
            for i in range(1, len(parts)):
                above = ".".join(parts[:i])
                if above in modules and not (module + ".").startswith(above + "."):
                    targets.add(above)
    targets.discard(module)
    return targets


def _cycle(graph: dict):
    """A cycle of ``graph`` as a list of modules, or None."""
    state: dict = {}
    stack: list = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_mixing_modules_import_each_other_without_a_circle():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    assert graph[f"{PACKAGE}.learner"] >= {f"{PACKAGE}.methods", f"{PACKAGE}.methods.base"}  # the graph sees imports
    cycle = _cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    modules = _modules()
    learner = _imports(f"{PACKAGE}.learner", modules[f"{PACKAGE}.learner"], modules)
    assert f"{PACKAGE}.methods" in learner and PACKAGE not in learner  # the package's own __init__ has run


@pytest.mark.parametrize("module", ["learn", "learner", "methods", "methods.auto", "methods.online", "online_run",
                                    "signals", "protect"])
def test_a_mixing_module_imports_alone_in_a_fresh_interpreter(module):
    done = subprocess.run([sys.executable, "-c", f"import {PACKAGE}.{module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
