"""Figures of the collapse and speciation studies (THEORY.md sections 3-4), drawn from study results."""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np

from diffsim.plot._base import colormap, save_figure, subplots

__all__ = ["plot_collapse", "plot_speciation"]


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
