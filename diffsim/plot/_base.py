"""The plumbing every figure shares: pyplot-free figures, colormaps, provenance and atomic saving.

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot: importing this module
selects no backend and keeps no global figure state, so it is safe in notebooks and GUI sessions.
Saved files carry their provenance (command line, diffsim version, git commit, config hash) in the
file's own metadata (PNG text chunks, PDF info dictionary, SVG description), not in a title.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.figure import Figure
from diffsim._version import SOURCE_ROOT, __version__

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType  # matplotlib >= 3.9

__all__ = ["save_figure", "subplots", "colormap", "provenance", "style", "STYLE", "MIN_FIT_POINTS"]

# A power law (or a 1/N extrapolation) is fitted and drawn as a fit only through at least this many
# distinct points; through two, a segment is drawn and labelled "2 points: slope, not a fit".
MIN_FIT_POINTS = 3

# The one style of every diffsim figure (matplotlib rcParams). Figure functions draw inside
# ``with style():`` so that text and lines made by their ``draw_*`` calls pick it up.
STYLE: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "errorbar.capsize": 2,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
}


def style():
    """A context manager applying :data:`STYLE` (``with style(): fig = ...``); it changes no
    global setting outside the ``with`` block."""
    return matplotlib.rc_context(STYLE)


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs):
    """``(Figure, axes)`` like ``pyplot.subplots`` but without pyplot (no backend, no global state),
    in the diffsim :data:`STYLE`."""
    with style():
        fig = Figure(figsize=figsize)
        return fig, fig.subplots(nrows, ncols, **kwargs)


def colormap(name: str):
    """The registered matplotlib colormap ``name`` (``"viridis"``, ``"plasma"``...)."""
    return matplotlib.colormaps[name]


def provenance(*, config_hash: str | None = None, command: str | None = None, commit: str | None = None,
               caption: str | None = None) -> dict:
    """What produced a figure: ``command`` (default: this process's command line), diffsim version,
    git ``commit`` (default: the checkout holding diffsim, where it is one), ``config_hash`` and a
    ``caption`` (what the figure shows and from which results: experiment, scale, seeds)."""
    from diffsim.results._provenance import _git_state

    if commit is None:
        head, dirty = _git_state(SOURCE_ROOT)
        commit = None if head is None else head + ("-dirty" if dirty else "")
    info = {"command": command if command is not None else " ".join(sys.argv), "diffsim": __version__,
            "git_commit": commit, "config_hash": config_hash, "caption": caption}
    return {k: v for k, v in info.items() if v}


def _file_metadata(info: dict, suffix: str) -> dict | None:
    """``savefig(metadata=...)`` for the format: free keys in PNG, the info dictionary in PDF, the
    Dublin Core fields in SVG; None for formats without metadata."""
    creator = f"diffsim {info.get('diffsim', '')}".strip()
    text = "; ".join(f"{k}: {v}" for k, v in info.items())
    if suffix == ".png":
        return {"Software": creator, **{k.replace("_", " ").title(): str(v) for k, v in info.items()}}
    if suffix == ".pdf":
        return {"Creator": creator, "Subject": text, "Keywords": f"config_hash={info.get('config_hash', '')}"}
    if suffix == ".svg":
        return {"Creator": creator, "Description": text}
    if suffix in (".eps", ".ps"):
        return {"Creator": creator}
    return None


def save_figure(fig, path, *, dpi: float = 150, metadata: dict | None = None) -> Path:
    """Write ``fig`` to ``path`` atomically (temp file + rename, the umask's file mode) with its
    provenance in the file's metadata (``metadata``: a :func:`provenance` dict, by default the
    command line and git commit). Returns the path. Figures from pyplot are closed afterwards."""
    from diffsim.results import atomic_file

    path = Path(path)
    info = provenance() if metadata is None else metadata
    with atomic_file(path) as tmp, style():
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", metadata=_file_metadata(info, path.suffix.lower()))
    if "matplotlib.pyplot" in sys.modules:  # a pyplot figure would otherwise stay open
        sys.modules["matplotlib.pyplot"].close(fig)
    return path
