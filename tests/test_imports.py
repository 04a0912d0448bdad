"""The diffsim package has no import cycle.

The module graph is read with ``ast`` from every ``diffsim/**/*.py`` (nothing is imported): an edge
``a -> b`` for each ``import b``, ``from b import name`` (to ``b.name`` when that is a module),
``from . import name`` and ``from .b import name`` (relative imports resolved against the package),
at module level *and* inside functions. Function-level imports count because moving an import into
a function is the usual way to hide a cycle from Python without removing it (``score/`` had one:
empirical -> fused -> sharded -> empirical); a lazy import that is not part of a cycle costs nothing
here. Each edge of a reported cycle says whether it is at module level or inside which function.

Not counted: imports under ``if TYPE_CHECKING:`` (never run), ``importlib.import_module`` with a
computed name, and the implicit import of a parent package when one of its submodules is imported
(Python starts the parent first, so a submodule importing a sibling by its full name is not a cycle
through the parent's ``__init__``).
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path
from typing import NamedTuple

import diffsim

PACKAGE_ROOT = Path(diffsim.__file__).resolve().parent


class Edge(NamedTuple):
    source: str
    target: str
    line: int
    function: str | None  # the enclosing function, None at module level


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under the package directory ``root``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name,) + path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """``(node, enclosing function name or None)`` for every import statement that can run."""
    stack = [(tree, None)]
    while stack:
        node, function = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, function
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = node.orelse
        else:
            children = list(ast.iter_child_nodes(node))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            function = getattr(node, "name", "<lambda>")
        stack.extend((child, function) for child in children)


def import_edges(root: Path = PACKAGE_ROOT) -> list[Edge]:
    """Every import between modules of the package at ``root``."""
    modules = module_files(root)
    edges = []

    def known(name: str) -> str | None:
        """The longest prefix of ``name`` that is a module of the package."""
        parts = name.split(".")
        for k in range(len(parts), 0, -1):
            if ".".join(parts[:k]) in modules:
                return ".".join(parts[:k])
        return None

    for source, path in modules.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node, function in _imports(ast.parse(path.read_text(), filename=str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names]
            else:
                if node.level:
                    base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else known(base))
            edges += [Edge(source, t, node.lineno, function) for t in targets if t is not None and t != source]
    return edges


def find_cycles(edges: list[Edge]) -> list[tuple[list[str], list[Edge]]]:
    """``(modules, cycle)`` per strongly connected component of more than one module: its modules
    (sorted) and its shortest cycle through the first of them, as edges."""
    graph: dict[str, dict[str, Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.source, {}).setdefault(edge.target, edge)
        graph.setdefault(edge.target, {})
    # Tarjan's strongly connected components, iterative.
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    cycles = []
    for component in components:
        start = min(component)
        parent, queue, closing = {start: None}, deque([start]), None
        while closing is None:  # breadth first: the shortest cycle through start
            node = queue.popleft()
            for child, edge in graph[node].items():
                if child == start:
                    closing = edge
                    break
                if child in component and child not in parent:
                    parent[child] = edge
                    queue.append(child)
        path = [closing]
        while path[0].source != start:
            path.insert(0, parent[path[0].source])
        cycles.append((sorted(component), path))
    return cycles


def describe(modules: list[str], cycle: list[Edge]) -> str:
    chain = " -> ".join([cycle[0].source] + [e.target for e in cycle])
    where = "\n".join(
        f"    {e.source} -> {e.target}  (line {e.line}, "
        + ("module level)" if e.function is None else f"inside function {e.function}())")
        for e in cycle
    )
    return f"  {chain}\n{where}\n    (modules importing each other, directly or not: {', '.join(modules)})"


def test_diffsim_has_no_import_cycle():
    edges = import_edges()
    assert any(e.source == "diffsim.score.sharded" and e.target == "diffsim.score.empirical" for e in edges)
    cycles = find_cycles(edges)
    message = "\n".join(describe(modules, cycle) for modules, cycle in cycles)
    assert not cycles, f"import cycles in diffsim (module-level and function-level imports):\n{message}"


def test_cycle_finder_sees_relative_and_function_level_imports(tmp_path):
    """The checker itself: a cycle closed by a relative import inside a function is found and
    printed; imports under TYPE_CHECKING and of a parent package's submodule are not edges."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg.sub import a\n")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.a import f\n")
    (pkg / "sub" / "a.py").write_text("from . import b\n\ndef f():\n    return b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub import c\n"
        "def g():\n    from .a import f\n    return f\n"
    )
    (pkg / "sub" / "c.py").write_text("import pkg.sub.b\n")
    edges = import_edges(pkg)
    assert ("pkg.sub.b", "pkg.sub.c") not in {(e.source, e.target) for e in edges}
    cycles = find_cycles(edges)
    assert [modules for modules, _ in cycles] == [["pkg.sub.a", "pkg.sub.b"]]
    message = describe(*cycles[0])
    assert "pkg.sub.a -> pkg.sub.b -> pkg.sub.a" in message
    assert "inside function g()" in message and "module level" in message


SCORE_LAYERS = ["_accumulator", "_queries", "_layout", "_xla", "_fused", "empirical", "sharded"]


def test_score_modules_import_downwards_only():
    """``diffsim.score``'s modules in the order of its docstring: each imports only earlier ones."""
    rank = {f"diffsim.score.{name}": k for k, name in enumerate(SCORE_LAYERS)}
    rank["diffsim.score"] = len(SCORE_LAYERS)
    assert set(rank) == {name for name in module_files(PACKAGE_ROOT) if name.startswith("diffsim.score")}
    upward = [e for e in import_edges() if e.source in rank and e.target in rank and rank[e.target] >= rank[e.source]]
    assert not upward, "\n".join(f"{e.source} imports {e.target} (line {e.line})" for e in upward)
