"""The figure layer as a whole (issue 15): drawing only in ``diffsim/plot/``, no pyplot and no
backend switch there or in the scripts, every figure script is a thin ``*_figure`` + ``save``, and
no provenance in a title."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import diffsim.plot

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted((ROOT / "diffsim" / "plot").glob("*.py"))
SCRIPTS = sorted(p for p in (ROOT / "paper_figures").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("path", MODULES + SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_pyplot_no_backend_switch_no_provenance_title(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n and "pyplot" in n for n in names), f"{path.name}:{node.lineno} imports pyplot"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "use" and path.parent.name == "plot":
                assert False, f"{path.name}:{node.lineno} switches the backend at import"
            if node.func.attr == "suptitle":
                text = ast.unparse(node)
                assert "scale_note" not in text and "commit" not in text, f"{path.name}:{node.lineno}: {text}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_figure_script_is_a_diffsim_plot_figure_and_a_save(path):
    """The script's drawing is one ``diffsim.plot`` figure function; it draws no axes itself."""
    tree = ast.parse(path.read_text())
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("diffsim.plot") for a in node.names}
    figures = {n for n in imported if n.endswith("_figure")}
    assert figures, f"{path.name} uses no diffsim.plot *_figure function"
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert figures & called and "save" in called, path.name
    drawing = {"plot", "errorbar", "scatter", "fill_between", "axvline", "axhline", "bar", "subplots", "imshow"}
    own = [n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
           and n.func.attr in drawing]
    assert not own, f"{path.name} draws by itself: {own}"


def test_every_exported_figure_function_is_documented_and_returns_a_figure():
    for name in diffsim.plot.__all__:
        if name.endswith("_figure") and name != "save_figure":
            fn = getattr(diffsim.plot, name)
            assert fn.__doc__, name
            assert fn.__annotations__.get("return") in (Figure, "Figure"), name
