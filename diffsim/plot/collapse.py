"""Figures of the collapse studies (THEORY.md section 4), drawn from result-table rows.

Every drawer takes the rows of a collapse table (a :class:`~diffsim.results.Table` or a list of
dicts with the columns of :meth:`diffsim.studies.collapse.CollapseResult.rows`, plus ``alpha`` and,
for a sweep, ``cell`` and ``seed``); seeds of one point are averaged.

* :func:`draw_excess_entropy`: ``f_e(t)`` per N (Monte Carlo points, Gaussian theory lines) and ``t_C``;
* :func:`draw_condensed_fraction`: the condensed fraction (lines) and clone agreement (squares) vs t;
* :func:`draw_collapse_vs_n`: the four ``t_C`` estimators vs ``1/N``, their ``1/N`` extrapolations
  (drawn only over at least 3 dimensions) and the theory (``N -> inf`` and finite-N spectrum);
* :func:`collapse_figure` (the ``diffsim collapse --figure`` figure: excess entropy and condensed
  fraction), :func:`collapse_vs_n_figure`, :func:`excess_entropy_figure` (the paper figures);
* :func:`plot_collapse`: :func:`collapse_figure` of study results, saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

from diffsim.plot._base import MIN_FIT_POINTS, colormap, save_figure, style, subplots
from diffsim.plot._seeds import as_table, seed_mean

__all__ = [
    "draw_excess_entropy", "draw_condensed_fraction", "draw_collapse_vs_n",
    "collapse_figure", "collapse_vs_n_figure", "excess_entropy_figure", "plot_collapse",
    "MIN_FIT_POINTS",
]

TIME_LABEL = "diffusion time t (OU time, dimensionless)"
ESTIMATOR_STYLE = {
    "condensation": ("o", "tab:blue"),
    "freezing": ("s", "tab:orange"),
    "clones": ("^", "tab:green"),
    "entropy": ("D", "tab:red"),
}
_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0)


def _theory_t_collapse(table) -> float:
    """The ``N -> inf`` collapse time of the table's ``theory/t_collapse`` rows (one value per load)."""
    return float(table.where(quantity="theory/t_collapse").rows[0]["value"])


def _log_time_axis(ax, lim=None) -> None:
    """Log time axis with plain-number ticks inside ``lim`` (default: the current limits)."""
    ax.set_xscale("log")
    if lim is not None:
        ax.set_xlim(*lim)
    lo, hi = ax.get_xlim()
    ax.xaxis.set_major_locator(FixedLocator([v for v in _TICKS if lo <= v <= hi]))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(TIME_LABEL)


def _dim_colors(dims):
    return dict(zip(dims, colormap("viridis")(np.linspace(0.05, 0.85, max(len(dims), 1)))))


def _by_dim(rows, alpha):
    """``(table, dims, colours)``: the rows at load ``alpha`` (every load if None), their N and a colour each."""
    table = as_table(rows)
    if alpha is not None:
        table = table.where(alpha=alpha)
    dims = table.unique("N")
    return table, dims, _dim_colors(dims)


def draw_excess_entropy(ax, rows, *, alpha: float | None = None) -> list:
    """Excess entropy ``f_e(t)`` per dimension: seed-mean Monte Carlo points (``excess_entropy``
    rows) and the Gaussian theory (``theory/excess_entropy`` rows) per N, with the theory ``t_C``
    (``theory/t_collapse``) as a dotted line. ``alpha``: the load to draw (rows of every load by
    default). Returns the artists drawn."""
    table, dims, colors = _by_dim(rows, alpha)
    artists = []
    for n in dims:
        sub = table.where(N=n)
        t, f, err = seed_mean(sub.where(quantity="excess_entropy"))
        t_th, f_th, _ = seed_mean(sub.where(quantity="theory/excess_entropy"))
        if t.size:
            p = sub.rows[0]["P"]
            artists.append(ax.errorbar(t, f, yerr=err, fmt="o", ms=3, color=colors[n], capsize=1.5,
                                       label=f"N={n}, P={p}: Monte Carlo"))
            artists += ax.plot(t_th, f_th, "-", color=colors[n], lw=1.2, label=f"N={n}: theory")
    t_c = _theory_t_collapse(table)
    artists.append(ax.axvline(t_c, color="k", ls=":", lw=1, label=f"theory $t_C$ (N → ∞) = {t_c:.3f}"))
    artists.append(ax.axhline(0.0, color="0.6", lw=0.6))
    _log_time_axis(ax)
    ax.set_ylabel("excess entropy $f_e(t)$ (nats per dimension)")
    ax.legend()
    return artists


def draw_condensed_fraction(ax, rows, *, alpha: float | None = None) -> list:
    """Fraction of trajectories whose largest posterior weight exceeds 1/2 (``condensed_fraction``,
    lines) and the clone agreement (``clone_agreement``, squares) vs t per N, with the theory
    ``t_C``. Returns the artists drawn."""
    table, dims, colors = _by_dim(rows, alpha)
    artists = []
    for n in dims:
        sub = table.where(N=n)
        t, frac, _ = seed_mean(sub.where(quantity="condensed_fraction"))
        artists += ax.plot(t, frac, "-", color=colors[n], label=f"N={n}")
        t, agree, _ = seed_mean(sub.where(quantity="clone_agreement"))
        if t.size:
            artists += ax.plot(t, agree, "s--", ms=3, color=colors[n], lw=0.8)
    t_c = _theory_t_collapse(table)
    artists.append(ax.axvline(t_c, color="k", ls=":", lw=1, label=f"theory $t_C$ = {t_c:.3f}"))
    _log_time_axis(ax, (0.2 * t_c, 5.0 * t_c))
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("fraction of trajectories")
    ax.legend()
    return artists


def draw_collapse_vs_n(ax, rows, *, alpha: float | None = None) -> list:
    """Collapse time vs ``1/N``: each estimator's seed mean per N (filled markers); its weighted
    ``a + b/N`` extrapolation (:func:`diffsim.studies.collapse.summarize`: dashed line and open marker
    at ``1/N = 0``) only where it has at least :data:`MIN_FIT_POINTS` dimensions; the theory
    ``N -> inf`` (black line) and at each N's finite spectrum (dotted, crosses). Returns the artists."""
    from diffsim.studies.collapse import ESTIMATORS, summarize

    table = as_table(rows)
    if alpha is not None:
        table = table.where(alpha=alpha)
    dims = np.array(table.unique("N"), dtype=float)
    x_fit = np.linspace(0.0, (1.0 / dims).max() * 1.05, 50)
    artists = []
    for name in ESTIMATORS:
        est = table.where(quantity=f"t_collapse/{name}")
        if not len(est):
            continue
        n, t, err = seed_mean(est, by="N")
        marker, color = ESTIMATOR_STYLE[name]
        artists.append(ax.errorbar(1.0 / n, t, yerr=err, fmt=marker, color=color, ms=4, capsize=2, label=name))
        ok = np.isfinite(t) & np.isfinite(err) & (err > 0)
        if len(set(n[ok])) >= MIN_FIT_POINTS:  # the study's own analysis over points, on the seed means
            means = [{"N": int(ni), "quantity": f"t_collapse/{name}", "value": ti, "stderr": ei}
                     for ni, ti, ei in zip(n[ok], t[ok], err[ok])]
            (fit,) = summarize(means)
            a, a_err, b = fit["value"], fit["stderr"], fit["slope"]
            artists += ax.plot(x_fit, a + b * x_fit, "--", color=color, lw=0.8)
            artists.append(ax.errorbar([0.0], [a], yerr=[a_err], fmt=marker, mfc="white", color=color, ms=5, capsize=2))
    t_inf = _theory_t_collapse(table)
    n_th, t_finite, _ = seed_mean(table.where(quantity="theory/t_collapse_spectrum"), by="N")
    artists.append(ax.axhline(t_inf, color="k", lw=1.2, label="theory, N → ∞"))
    artists += ax.plot(1.0 / n_th, t_finite, "k:", marker="x", ms=4, label="theory at finite N (spectrum, α = log P / N)")
    ax.set_xlim(-0.005, (1.0 / dims).max() * 1.08)
    ax.set_xlabel("inverse dimension 1/N")
    ax.set_ylabel("collapse time $t_C$ (OU time, dimensionless)")
    return artists


def collapse_vs_n_figure(tables: Mapping[str, object]) -> Figure:
    """Collapse time vs ``1/N`` (:func:`draw_collapse_vs_n`), one row of panels per data model
    (``tables``: data name -> rows of a collapse sweep with an ``alpha`` column), one column per load."""
    by_data = {name: as_table(rows) for name, rows in tables.items()}
    alphas = sorted({a for t in by_data.values() for a in t.unique("alpha")})
    with style():
        fig, axes = subplots(len(by_data), len(alphas), figsize=(4.2 * len(alphas), 3.6 * len(by_data)), squeeze=False)
        for i, (data, table) in enumerate(by_data.items()):
            for j, alpha in enumerate(alphas):
                draw_collapse_vs_n(axes[i, j], table, alpha=alpha)
                axes[i, j].set_title(f"{data} data, α = {alpha}")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.06))
        fig.suptitle("Collapse time vs 1/N: estimators (filled), 1/N extrapolations over ≥ "
                     f"{MIN_FIT_POINTS} N (open, dashed) and theory (black)")
        fig.tight_layout()
    return fig


def excess_entropy_figure(rows, *, data: str = "gaussian") -> Figure:
    """Excess entropy (:func:`draw_excess_entropy`), one panel per load ``alpha`` of ``rows``."""
    table = as_table(rows)
    alphas = table.unique("alpha")
    with style():
        fig, axes = subplots(1, len(alphas), figsize=(4.6 * len(alphas), 3.8), squeeze=False)
        for ax, alpha in zip(axes[0], alphas):
            draw_excess_entropy(ax, table, alpha=alpha)
            ax.set_title(f"{data.capitalize()} data, α = {alpha}")
        fig.suptitle("Excess entropy: points = Monte Carlo, lines = Gaussian theory")
        fig.tight_layout()
    return fig


def collapse_figure(rows, *, data: str = "gaussian") -> Figure:
    """Excess entropy (left) and condensed fraction (right) vs t of one load's points at several N,
    on the same time window around the theory ``t_C``."""
    table = as_table(rows)
    alpha = table.unique("alpha")[0] if table.unique("alpha") else None
    with style():
        fig, (ax_f, ax_c) = subplots(1, 2, figsize=(10, 4))
        draw_excess_entropy(ax_f, table, alpha=alpha)
        draw_condensed_fraction(ax_c, table, alpha=alpha)
        t_c = _theory_t_collapse(table)
        _log_time_axis(ax_f, (0.2 * t_c, 5.0 * t_c))
        ax_f.set_title("Excess entropy\n(points: Monte Carlo, lines: Gaussian theory)")
        ax_c.set_title("Condensed fraction (max weight > 1/2)\n(lines: trajectories, squares: clone agreement)")
        fig.suptitle(f"Collapse of the empirical-score dynamics: {data} data, α = log(P)/N = {alpha}")
        fig.tight_layout()
    return fig


def plot_collapse(results, path) -> Path:
    """:func:`collapse_figure` of collapse study results (one per N, one load), saved to ``path``."""
    rows = [{"alpha": r.config.data.alpha, **row} for r in results for row in r.rows()]
    return save_figure(collapse_figure(rows, data=results[0].config.data.model), path)
