"""Figures of the speciation study (THEORY.md section 3), drawn from result-table rows.

The drawers take the rows of a speciation table (a :class:`~diffsim.results.Table` or a list of
dicts with the columns of :meth:`diffsim.studies.speciation.SpeciationResult.rows` and a ``cell``
per point); seeds of one point are averaged.

* :func:`draw_phi`: clone agreement ``phi(t)`` measured vs theory per point, ``t_S`` dotted;
* :func:`draw_speciation_time`: measured ``t_S`` vs N against ``0.5 log Lambda``;
* :func:`speciation_figure`: both panels; :func:`plot_speciation`: the same from study results, saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from diffsim.plot._base import colormap, save_figure, style, subplots
from diffsim.plot._seeds import as_table, seed_mean

__all__ = ["draw_phi", "draw_speciation_time", "speciation_figure", "plot_speciation"]


def _cells(table) -> list:
    return table.unique("cell") or [None]


def _sub(table, cell):
    return table if cell is None else table.where(cell=cell)


def draw_phi(ax, rows, *, labels: Mapping[int, str] | None = None) -> list:
    """``phi(t)``, the fraction of clone pairs ending in the same class: seed-mean measurement
    (``phi`` rows, points) and theory (``phi_theory``, lines) per ``cell``, with each cell's theory
    ``t_S = 0.5 log Lambda`` (``t_speciation_theory``) dotted. ``labels``: cell -> legend label
    (default ``N=<N>``). Returns the artists drawn."""
    table = as_table(rows)
    cells = _cells(table)
    colors = colormap("plasma")(np.linspace(0.05, 0.8, len(cells)))
    artists = []
    for cell, color in zip(cells, colors):
        sub = _sub(table, cell)
        label = (labels or {}).get(cell) or f"N={sub.rows[0]['N']}"
        t, phi, err = seed_mean(sub.where(quantity="phi"))
        t_th, phi_th, _ = seed_mean(sub.where(quantity="theory/phi"))
        artists.append(ax.errorbar(t, phi, yerr=err, fmt="o", ms=3, capsize=1.5, color=color, label=f"{label}: clones"))
        artists += ax.plot(t_th, phi_th, "-", color=color, lw=1.2, label=f"{label}: theory")
        _, ts_th, _ = seed_mean(sub.where(quantity="theory/t_speciation"), by="N")
        artists.append(ax.axvline(ts_th[0], color=color, ls=":", lw=1))
    artists.append(ax.axhline(0.5, color="0.6", lw=0.6))
    ax.set_xlabel("branch time t (OU time, dimensionless); dotted: $t_S = \\frac{1}{2}\\log\\Lambda$")
    ax.set_ylabel("$\\phi(t)$: fraction of clone pairs in the same class")
    ax.set_ylim(0.4, 1.03)
    ax.legend()
    return artists


def draw_speciation_time(ax, rows) -> list:
    """Measured speciation time (``t_speciation`` rows, seed mean per cell) vs N, against the theory
    ``0.5 log(N mtilde^2 + sigma^2)`` (``theory/t_speciation``); no fit. Returns the artists drawn."""
    table = as_table(rows)
    dims, measured, errors, theory = [], [], [], []
    for cell in _cells(table):
        sub = _sub(table, cell)
        _, ts, ts_err = seed_mean(sub.where(quantity="t_speciation"), by="N")
        _, ts_th, _ = seed_mean(sub.where(quantity="theory/t_speciation"), by="N")
        dims.append(sub.rows[0]["N"])
        measured.append(ts[0])
        errors.append(ts_err[0])
        theory.append(ts_th[0])
    order = np.argsort(dims)
    d = np.array(dims, dtype=float)[order]
    artists = [ax.errorbar(d, np.array(measured)[order], yerr=np.array(errors)[order], fmt="o", color="tab:purple",
                           capsize=2, label="measured (clone protocol)")]
    artists += ax.plot(d, np.array(theory)[order], "k-", lw=1.2, label="theory $\\frac{1}{2}\\log(N\\tilde m^2 + \\sigma^2)$")
    ax.set_xscale("log")
    ax.set_xticks(d, [f"{v:g}" for v in d])  # the measured N, without overlapping minor labels
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("dimension N")
    ax.set_ylabel("speciation time $t_S$ (OU time, dimensionless)")
    ax.legend()
    return artists


def speciation_figure(rows, *, labels: Mapping[int, str] | None = None) -> Figure:
    """``phi(t)`` per point (:func:`draw_phi`, left) and ``t_S`` vs N (:func:`draw_speciation_time`)."""
    table = as_table(rows)
    with style():
        fig, (ax_phi, ax_ts) = subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1.6, 1]})
        draw_phi(ax_phi, table, labels=labels)
        draw_speciation_time(ax_ts, table)
        fig.suptitle("Speciation of the two-cluster mixture")
        fig.tight_layout()
    return fig


def plot_speciation(results, path) -> Path:
    """:func:`speciation_figure` of speciation study results (one per N), saved to ``path``."""
    rows = [{"cell": i, **row} for i, r in enumerate(results) for row in r.rows()]
    return save_figure(speciation_figure(rows), path)
