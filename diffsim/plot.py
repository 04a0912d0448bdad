"""Figures drawn from study results (PNG, PDF or SVG by the path's suffix).

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot: importing this module
selects no backend and keeps no global figure state, so it is safe in notebooks and GUI sessions.
Saved files carry their provenance (command line, diffsim version, git commit, config hash) in the
file's own metadata (PNG text chunks, PDF info dictionary, SVG description), not in a title.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_collapse", "plot_speciation", "save_figure", "subplots", "colormap", "provenance"]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs):
    """``(Figure, axes)`` like ``pyplot.subplots`` but without pyplot (no backend, no global state)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def colormap(name: str):
    """The registered matplotlib colormap ``name`` (``"viridis"``, ``"plasma"``...)."""
    return matplotlib.colormaps[name]


def provenance(*, config_hash: str | None = None, command: str | None = None, commit: str | None = None) -> dict:
    """What produced a figure: ``command`` (default: this process's command line), diffsim version,
    git ``commit`` (default: the checkout holding diffsim, where it is one) and ``config_hash``."""
    import diffsim
    from diffsim.results import _git_state

    if commit is None:
        head, dirty = _git_state(Path(diffsim.__file__).resolve().parents[1])
        commit = None if head is None else head + ("-dirty" if dirty else "")
    info = {"command": command if command is not None else " ".join(sys.argv), "diffsim": diffsim.__version__,
            "git_commit": commit, "config_hash": config_hash}
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
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", metadata=_file_metadata(info, path.suffix.lower()))
    if "matplotlib.pyplot" in sys.modules:  # a pyplot figure would otherwise stay open
        sys.modules["matplotlib.pyplot"].close(fig)
    return path


def plot_collapse(results, path) -> Path:
    """Excess entropy f_e(t) (Monte Carlo vs Gaussian theory) and condensed fraction vs t, one
    curve per point (collapse results at several N), with the theoretical collapse time."""
    results = sorted(results, key=lambda r: r.measurement.dim)
    t_c = results[0].theory["t_collapse"]
    fig, (ax_f, ax_c) = subplots(1, 2, figsize=(10, 4))
    colors = colormap("viridis")(np.linspace(0.1, 0.9, len(results)))
    for r, color in zip(results, colors):
        d = r.measurement
        if d.entropy_mean.size:
            ax_f.errorbar(d.entropy_times, d.entropy_mean, yerr=d.entropy_stderr, fmt="o", ms=3, color=color,
                          label=f"N={d.dim} (P={d.n_points}) Monte Carlo")
            ax_f.plot(d.entropy_times, r.entropy_theory, "-", color=color, lw=1)
        ax_c.plot(d.record_times, d.condensed_fraction, "-", color=color, label=f"N={d.dim}")
        if d.clone_agreement.size:
            ax_c.plot(d.branch_times, d.clone_agreement, "s--", ms=3, color=color, lw=0.8)
    for ax in (ax_f, ax_c):
        ax.axvline(t_c, color="k", ls=":", label=f"theory $t_C$ = {t_c:.3f}")
        ax.set_xscale("log")
        ax.set_xlim(0.2 * t_c, 5.0 * t_c)
        ticks = [v for v in (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0) if 0.2 * t_c <= v <= 5.0 * t_c]
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("diffusion time t (OU clock, dimensionless)")
    ax_f.set_ylabel("excess entropy $f_e(t)$ per dimension (nats)")
    ax_f.set_title("Excess entropy\n(points: Monte Carlo, lines: Gaussian theory)", fontsize=10)
    ax_c.set_ylabel("fraction")
    ax_c.set_title("Condensed fraction (max weight > 1/2)\n(lines: trajectories, squares: clone agreement)", fontsize=10)
    ax_c.set_ylim(-0.02, 1.02)
    ax_f.legend(fontsize=7)
    ax_c.legend(fontsize=7)
    cfg = results[0].config
    fig.suptitle(f"Collapse of the empirical-score dynamics: {cfg.data} data, alpha = log(P)/N = {cfg.alpha}", y=1.04)
    return save_figure(fig, path)


def plot_speciation(results, path) -> Path:
    """Clone agreement phi(t) measured vs theory, one curve per point (N), with t_S = 0.5 log Lambda."""
    fig, ax = subplots(figsize=(6, 4))
    colors = colormap("plasma")(np.linspace(0.1, 0.8, len(results)))
    for r, color in zip(results, colors):
        m, n = r.measurement, r.measurement.dim
        ax.errorbar(m.branch_times, m.phi, yerr=m.phi_stderr, fmt="o", ms=3, color=color, label=f"N={n} measured")
        ax.plot(m.branch_times, r.phi_theory, "-", color=color, lw=1, label=f"N={n} theory")
        ax.axvline(r.t_speciation_theory, color=color, ls=":", lw=1)
    ax.set_xlabel("branch time t (OU clock); dotted: $t_S = \\frac{1}{2}\\log\\Lambda$")
    ax.set_ylabel("$\\phi(t)$: clone pairs ending in the same cluster")
    ax.set_title("Speciation in the two-cluster mixture")
    ax.legend(fontsize=7)
    return save_figure(fig, path)
