"""mkdocs hook: the "Studies" section of the nav is made from the study registry.

Each registered study names its page (``docs/studies/<page>.md``, by default its module's name); the
section lists those pages in registration order, each titled by the page's first heading. Adding a
study adds its page to the site without editing ``mkdocs.yml``.
"""

from __future__ import annotations

from pathlib import Path


def study_pages() -> list[dict[str, str]]:
    """``[{title: "studies/<page>.md"}, ...]`` for the registered studies' pages, without repeats."""
    from diffsim.studies import STUDIES

    docs = Path(__file__).resolve().parent
    pages = list(dict.fromkeys(s.page for s in STUDIES.values()))
    out = []
    for page in pages:
        path = docs / "studies" / f"{page}.md"
        first = next((line for line in path.read_text().splitlines() if line.startswith("# ")), f"# {page}")
        out.append({first[2:].strip(): f"studies/{page}.md"})
    return out


def on_config(config, **kwargs):
    for item in config["nav"]:
        if isinstance(item, dict) and "Studies" in item:
            item["Studies"] = study_pages()
    return config
