"""The import layers of docs/architecture.md hold: low layers never import high ones, no module
imports itself back through others, and ``import ganforge`` loads neither torch nor the registries.

The graph is read from the source (``ast``), function-level imports included: an import inside a
function still ties the two modules together. Two kinds of edges are left out on purpose: the
registry's own plugin loading (``registry._load_builtins``, which imports every registering module)
and ``if TYPE_CHECKING:`` blocks (annotations only, never executed).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import ganforge

SRC = Path(ganforge.__file__).resolve().parent.parent
LOW = ("nn", "losses", "regularizers", "augment", "models", "data", "metrics", "objectives")
HIGH = ("training", "tasks", "evaluation", "report", "api", "sweeps", "cli", "serve", "export", "synthetic")


def module_names() -> dict[str, Path]:
    names = {}
    for path in (SRC / "ganforge").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def skipped_nodes(module: str, tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        plugin_loading = module == "ganforge.registry" and getattr(node, "name", "") == "_load_builtins"
        type_only = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        if plugin_loading or type_only:
            skip |= {id(n) for n in ast.walk(node)}
    return skip


def imported(module: str, path: Path, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        return [source, *(f"{source}.{a.name}" for a in node.names)]
    return []


def import_graph() -> dict[str, set[str]]:
    """module -> the ganforge modules it imports (a name imported from a package that is itself a
    module counts as an import of that module)."""
    names = module_names()
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in names.items():
        tree = ast.parse(path.read_text())
        skip = skipped_nodes(module, tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            for target in imported(module, path, node):
                while target and target not in names:
                    target = target.rpartition(".")[0]
                if target.startswith("ganforge") and target != module:
                    edges[module].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_no_module_imports_itself_back() -> None:
    assert cycles(import_graph()) == []


def test_low_layers_never_import_high_ones() -> None:
    bad = [
        f"{m} -> {t}"
        for m, targets in import_graph().items()
        if layer(m) in LOW
        for t in targets
        if layer(t) in HIGH or t == "ganforge"
    ]
    assert bad == []


def test_training_never_imports_the_layers_above_it() -> None:
    above = ("tasks", "evaluation", "report", "api", "sweeps", "cli")
    bad = [f"{m} -> {t}" for m, ts in import_graph().items() if layer(m) == "training" for t in ts]
    assert [b for b in bad if layer(b.split(" -> ")[1]) in above] == []


def test_importing_ganforge_loads_neither_torch_nor_the_registries() -> None:
    code = (
        "import sys, ganforge, ganforge.errors;"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('ganforge')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert ast.literal_eval(out) == ["ganforge", "ganforge.errors", "ganforge.utils", "ganforge.utils.lazy"]


def test_the_lazy_names_are_the_public_api() -> None:
    assert callable(ganforge.train) and callable(ganforge.load) and ganforge.__version__
    assert set(ganforge.__all__) <= set(dir(ganforge))
