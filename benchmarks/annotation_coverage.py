"""Fraction of the public functions of ``diffsim`` whose signatures are fully annotated.

A function is public when neither its name nor the name of a class holding it starts with an
underscore (dunder methods other than ``__init__`` and ``__call__`` are skipped); nested functions
are skipped. It is fully annotated when its return and every parameter other than ``self`` and
``cls`` carry an annotation (``__init__`` needs no return annotation). Modules are read with
``ast``, nothing is imported.

    .venv/bin/python benchmarks/annotation_coverage.py [--json] [--missing] [PATH ...]

PATH (files or folders, default ``diffsim``) selects what is counted; ``--missing`` lists the
functions not fully annotated.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _public_functions(tree: ast.Module):
    """Yield ``(qualified name, def node)`` for the public functions and methods of a module."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        not item.name.startswith("_") or item.name in ("__init__", "__call__")):
                    yield f"{node.name}.{item.name}", item


def _fully_annotated(node: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> bool:
    args = node.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if method and params and params[0].arg in ("self", "cls"):
        params = params[1:]
    params += [a for a in (args.vararg, args.kwarg) if a is not None]
    returns_ok = node.returns is not None or node.name == "__init__"
    return returns_ok and all(p.annotation is not None for p in params)


def coverage(paths: list[Path]) -> dict[str, dict]:
    """Per module: ``{"total": n, "annotated": k, "missing": [names]}``."""
    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py"))})
    out = {}
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        funcs = list(_public_functions(tree))
        if not funcs:
            continue
        missing = [name for name, node in funcs if not _fully_annotated(node, "." in name)]
        out[str(path.resolve().relative_to(ROOT))] = {
            "total": len(funcs), "annotated": len(funcs) - len(missing), "missing": missing}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "diffsim"])
    parser.add_argument("--json", action="store_true", help="print the per-module counts as JSON")
    parser.add_argument("--missing", action="store_true", help="list the functions not fully annotated")
    args = parser.parse_args(argv)
    per_module = coverage(args.paths)
    total = sum(m["total"] for m in per_module.values())
    annotated = sum(m["annotated"] for m in per_module.values())
    if args.json:
        print(json.dumps({"total": total, "annotated": annotated, "modules": per_module}, indent=1))
        return 0
    for name, m in per_module.items():
        print(f"{m['annotated']:4d}/{m['total']:<4d} {name}")
        if args.missing:
            for fn in m["missing"]:
                print(f"            missing: {fn}")
    print(f"{annotated}/{total} public functions fully annotated ({annotated / max(total, 1):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
