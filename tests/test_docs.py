"""The documentation site (issue 15): ``mkdocs build --strict`` passes (every page, link, snippet and
API reference renders without a warning). Needs the ``docs`` extra (mkdocs-material and
mkdocstrings[python], also in the ``test`` extra); skipped with the reason when it is not installed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MISSING = [m for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
           if importlib.util.find_spec(m.split(".")[0]) is None]


@pytest.mark.skipif(bool(MISSING), reason=f"mkdocs docs dependencies not installed ({', '.join(MISSING)}): "
                                           "pip install -e '.[docs]'")
def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=REPO, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # the pages a reader expects, with the API reference rendered from the docstrings
    api = (site / "api" / "measure" / "index.html").read_text()
    assert "measure_collapse" in api
    assert "arxiv.org/abs/2402.18491" in (site / "THEORY" / "index.html").read_text()
    assert "seeds/" not in (REPO / "docs" / "THEORY.md").read_text()
    examples = (site / "examples" / "index.html").read_text()
    assert "TrainingSet" in examples  # the example scripts are included, not linked
    pages = sorted(p.stem for p in (REPO / "docs" / "studies").glob("*.md"))
    assert sorted(p.parent.name for p in (site / "studies").glob("*/index.html")) == pages
    # every registered study is documented: its page names it as `study = "<name>"`
    from diffsim.studies import STUDIES

    text = "\n".join((REPO / "docs" / "studies" / f"{p}.md").read_text() for p in pages)
    undocumented = [name for name in STUDIES if f'study = "{name}"' not in text]
    assert not undocumented, undocumented


def test_gallery_holds_every_figure_at_150_dpi():
    """Every figure script has its image in docs/gallery (the README and docs show them), drawn at
    >= 150 dpi (``make figures`` regenerates them from the quick-scale results)."""
    from PIL import Image

    scripts = sorted(p.stem for p in (REPO / "paper_figures").glob("*.py") if not p.stem.startswith("_"))
    missing, coarse = [], []
    for name in scripts:
        path = REPO / "docs" / "gallery" / f"{name}.png"
        if not path.exists():
            missing.append(name)
            continue
        dpi = Image.open(path).info.get("dpi", (0, 0))[0]
        if dpi < 149.5:
            coarse.append((name, dpi))
    assert not missing and not coarse, (missing, coarse)
