"""Figures of the separation studies (THEORY.md section 10): the true score vs the empirical score.

Tables are :class:`diffsim.results.Table` objects of the experiments ``separation_loss_gap``,
``separation_pruning`` and ``separation_size``; seeds are averaged with combined standard errors.

Panels (``draw_*(ax, table, ...)``, each returns the artists it drew):
    :func:`draw_loss_gap` (loss gap of the true score x Delta_t / N vs t, one data model),
    :func:`draw_pruning` (one quantity after importance, random and no head pruning),
    :func:`draw_width_vs_size` (smallest width vs P with the power-law fits),
    :func:`draw_memorized_vs_width` (memorized fraction vs width, one line per P).
Figures (return a :class:`matplotlib.figure.Figure`):
    :func:`separation_loss_gap_figure`, :func:`separation_pruning_figure`, :func:`separation_size_figure`.

No power law is fitted through two points: :func:`draw_width_vs_size` draws a fit line only over at
least :data:`MIN_FIT_POINTS` distinct P; with two it joins them and labels the segment
"2 points: slope, not a fit"; with fewer it draws the points alone.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from diffsim.plot._base import MIN_FIT_POINTS, colormap, style, subplots
from diffsim.plot._seeds import seed_mean

__all__ = [
    "draw_loss_gap", "draw_pruning", "draw_width_vs_size", "draw_memorized_vs_width",
    "separation_loss_gap_figure", "separation_pruning_figure", "separation_size_figure",
    "MIN_FIT_POINTS",
]



def _viridis(n: int):
    return colormap("viridis")(np.linspace(0.0, 0.85, max(1, n)))


def _delta_over_n(t, n):
    """``Delta_t / N`` with ``Delta_t = 1 - exp(-2t)`` (unit-variance OU clock)."""
    return -np.expm1(-2.0 * np.asarray(t, dtype=float)) / n


# --------------------------------------------------------------------------- loss gap


def draw_loss_gap(ax, table, data: str) -> list:
    """Loss gap of the true score on the empirical DSM loss (filled markers, paired draws) and the
    Fisher divergence (open markers, independent draws), both x Delta_t / N, vs t for each P of
    data model ``data``; the collapse times t_C(P) (dotted verticals) and the condensed closed form
    ``<rho/(1+rho)>`` (dashed, the table's ``theory/loss_gap_condensed`` rows). Top axis: the
    paper's clock 2t."""
    table = table.where(model=data)  # the column of the axis data.model
    sizes = table.unique("P")
    artists = []
    for p, color in zip(sizes, _viridis(len(sizes))):
        rows = table.where(P=p)
        n = rows.rows[0]["N"]
        t, gap, err = seed_mean(rows.where(quantity="loss_gap"))
        d = _delta_over_n(t, n)
        artists.append(ax.errorbar(t, gap * d, yerr=err * d, fmt="o", ms=3.5, color=color, capsize=2, label=f"P = {p}"))
        t_f, fisher, _ = seed_mean(rows.where(quantity="fisher"))
        artists += ax.plot(t_f, fisher * _delta_over_n(t_f, n), "o", mfc="none", ms=6, color=color, lw=0)
        t_c = rows.where(quantity="theory/t_collapse").column("value")
        if t_c.size:
            artists.append(ax.axvline(float(np.mean(t_c)), color=color, ls=":", lw=1))
    cond = table.where(P=sizes[0], quantity="theory/loss_gap_condensed")
    t, c, _ = seed_mean(cond)
    n = cond.rows[0]["N"]
    artists += ax.plot(t, c * _delta_over_n(t, n), "k--", lw=1, label="condensed: <rho/(1+rho)>")
    ax.set_xscale("log")
    ax.set_xlabel("t (our clock; paper: 2t)")
    ax.set_ylabel("loss gap x $\\Delta_t$ / N")
    ax.set_title(f"{data}, N = {n}")
    top = ax.secondary_xaxis("top", functions=(lambda x: 2 * x, lambda s: s / 2))
    top.set_xlabel("paper time 2t", fontsize=8)
    ax.legend(fontsize=7, loc="lower left")
    return artists


def separation_loss_gap_figure(table) -> Figure:
    """One :func:`draw_loss_gap` panel per data model of the ``separation_loss_gap`` table."""
    models = table.unique("model")
    with style():
        fig, axes = subplots(1, len(models), figsize=(4.6 * len(models), 4.2), squeeze=False)
        for ax, name in zip(axes[0], models):
            draw_loss_gap(ax, table, name)
        fig.suptitle("Loss gap of the true score (filled) = Fisher divergence (open); t_C(P) dotted")
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- pruning

PRUNING_QUANTITIES = (("memorized_fraction", "memorized fraction (1/3 rule)"), ("score_error_true", "score error to s_true"),
                      ("sliced_wasserstein", "sliced W2 to fresh samples"))
PRUNING_ARMS = (("none", "tab:gray"), ("importance", "tab:blue"), ("random", "tab:orange"))
PRUNING_STAGES = ("pruned", "finetuned")


def draw_pruning(ax, table, quantity: str, *, ylabel: str | None = None, legend: bool = False) -> list:
    """Bars of ``quantity`` per (P, stage) group and pruning arm (none, importance, random): seed
    mean, error bar ``sqrt(sum stderr^2) / n`` (missing stderrs left out)."""
    sizes = sorted(table.unique("P"))
    width = 0.8 / len(PRUNING_ARMS)
    labels, artists = [], []
    for g, (p, stage) in enumerate((p, s) for p in sizes for s in PRUNING_STAGES):
        labels.append(f"P={p}\n{stage}")
        for j, (arm, color) in enumerate(PRUNING_ARMS):
            rows = table.where(P=p, stage=stage, arm=arm, quantity=quantity).rows
            vals = np.array([r["value"] for r in rows], dtype=float)
            if vals.size == 0:
                continue
            ses = np.array([np.nan if r.get("stderr") is None else r["stderr"] for r in rows], dtype=float)
            err = float(np.sqrt(np.nansum(ses**2)) / vals.size)
            artists.append(ax.bar(g + (j - 1) * width, vals.mean(), width, yerr=err, color=color, capsize=3,
                                  label=arm if g == 0 else None))
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel(ylabel or quantity)
    if legend:
        ax.margins(y=0.2)  # room above the bars for the legend
        ax.legend(title="pruning", fontsize=8, ncol=len(PRUNING_ARMS), loc="upper center")
    return artists


def separation_pruning_figure(table) -> Figure:
    """Memorized fraction, score error and sliced W2 (:func:`draw_pruning`) of the
    ``separation_pruning`` table."""
    with style():
        fig, axes = subplots(1, len(PRUNING_QUANTITIES), figsize=(13, 4.2))
        for k, (ax, (q, label)) in enumerate(zip(axes, PRUNING_QUANTITIES)):
            draw_pruning(ax, table, q, ylabel=label, legend=k == 0)
        fig.suptitle("Head pruning (20% of heads) then equal fine-tuning: importance vs random vs none")
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- width vs P

SIZE_STYLE = {"width_memorize": ("o", "tab:red", "memorizes"), "width_fit_empirical": ("s", "tab:blue", "fits s_e"),
              "width_fit_true": ("^", "tab:green", "fits s_true")}


def draw_width_vs_size(ax, table, fits: dict | None = None) -> list:
    """Smallest width vs P for each criterion of
    :data:`diffsim.studies.separation_size.WIDTH_CRITERIA`, with the log-log fit ``width ~ P^b``
    (dashed, exponent and 95% interval in the legend) where it rests on at least
    :data:`MIN_FIT_POINTS` distinct P; over exactly two P the points are joined by a dotted segment
    labelled "2 points: slope b, not a fit"; a single P is drawn alone. Open markers: not reached
    within the width grid (at the top) or already at its smallest width (at the bottom).

    Args:
        table: the ``separation_size`` table (``P``, ``quantity``, ``width``, ``value``).
        fits: :func:`diffsim.studies.separation_size.width_scaling_from_rows` of the table's rows
            (computed here when None).
    """
    from diffsim.studies.separation_size import WIDTH_CRITERIA, width_scaling_from_rows

    fits = width_scaling_from_rows(list(table.rows)) if fits is None else fits
    grid = table.unique("width")
    artists = []
    for name in WIDTH_CRITERIA:
        marker, color, label = SIZE_STYLE[name]
        fit = fits[name]
        p, w = np.array(fit["P"], dtype=float), np.array(fit["width"], dtype=float)
        n_points = len(set(p.tolist()))
        if n_points >= MIN_FIT_POINTS and fit["exponent"] is not None:
            lo, hi = fit["interval95"]
            label += f": P^{fit['exponent']:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")
            xs = np.geomspace(p.min(), p.max(), 20)
            artists += ax.plot(xs, fit["prefactor"] * xs ** fit["exponent"], "--", color=color, lw=1)
        elif n_points == 2:
            order = np.argsort(p)
            slope = math.log(w[order[1]] / w[order[0]]) / math.log(p[order[1]] / p[order[0]])
            artists += ax.plot(p[order], w[order], ":", color=color, lw=1,
                               label=f"{label}, 2 points: slope {slope:.2f}, not a fit")
        artists += ax.plot(p, w, marker, color=color, ls="none", label=label if n_points != 2 else None)
        for pm in fit["not_found_at_P"]:
            artists += ax.plot([pm], [max(grid)], marker, mfc="none", color=color, ms=9)
        for pm in fit["at_grid_floor_P"]:
            artists += ax.plot([pm], [min(grid)], marker, mfc="none", color=color, ms=9)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("P (training points)")
    ax.set_ylabel("smallest width")
    ax.set_title("open markers: not reached within the grid (top) / already at its smallest width (bottom)",
                 fontsize=8)
    ax.legend(fontsize=8)
    return artists


def draw_memorized_vs_width(ax, table, *, threshold: float = 0.5) -> list:
    """Memorized fraction (1/3 rule) vs network width, one line per P (seed means with errors), and
    the memorization ``threshold`` (dotted)."""
    sizes = table.unique("P")
    artists = []
    for p, color in zip(sizes, _viridis(len(sizes))):
        w, mem, err = seed_mean(table.where(P=p, quantity="memorized_fraction"), by="width")
        artists.append(ax.errorbar(w, mem, yerr=err, fmt="o-", ms=3, color=color, capsize=2, label=f"P = {p}"))
    artists.append(ax.axhline(threshold, color="k", ls=":", lw=1))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width")
    ax.set_ylabel("memorized fraction (1/3 rule)")
    ax.legend(fontsize=7)
    return artists


def separation_size_figure(table, *, fits: dict | None = None, mem_threshold: float = 0.5, title: str | None = None) -> Figure:
    """Smallest widths vs P with the fits (:func:`draw_width_vs_size`, left) and memorized fraction
    vs width (:func:`draw_memorized_vs_width`, right) of the ``separation_size`` table; ``title``: a
    short description of the experiment (no provenance)."""
    with style():
        fig, (ax_w, ax_m) = subplots(1, 2, figsize=(11, 4.4))
        draw_width_vs_size(ax_w, table, fits)
        draw_memorized_vs_width(ax_m, table, threshold=mem_threshold)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig
