"""Figures of the geometric picture of memorization (THEORY.md section 8), drawn from result tables.

The danger zone ``[sigma_cov, sigma_w]``: the medium-noise window where the posterior is still
concentrated (W high) and the Gaussian shells of the training points already cover held-out data
(C high). Tables are :class:`diffsim.results.Table` objects of the geometry experiments
(``geometry_gaussian``, ``geometry_hmm``, ``geometry_swap``, ``geometry_net_swap``,
``geometry_mitigation``); seeds are averaged with combined standard errors.

Panels (``draw_*(ax, table, ...)``, each returns the artists it drew):
    :func:`draw_concentration_coverage` (W and C vs sigma, danger zone shaded),
    :func:`draw_width_vs_dim` (log-width vs N, measured and exact),
    :func:`draw_width_vs_alpha_d` (log-width vs alpha_D, linear hidden manifold),
    :func:`draw_linearity` (distance of the empirical denoiser to the Wiener and exact denoisers),
    :func:`draw_window_swap` (memorized fraction when one sigma window is swapped),
    :func:`draw_mitigation` (memorization vs quality when one window is undertrained).
Figures (return a :class:`matplotlib.figure.Figure`):
    :func:`geometry_figure`, :func:`geometry_swap_figure`, :func:`geometry_mitigation_figure`.
Theory and layout: :func:`isotropic_collapse_sigma`, :func:`exact_log_width`, :data:`EXACT_DIMS`,
:data:`SWAP_WINDOWS`, :data:`EXACT_SWAP_NAMES`.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from diffsim.data import points_at_load
from diffsim.plot._base import style, subplots
from diffsim.plot._seeds import is_empty, seed_mean
from diffsim.theory.geometry import collapse_sigma, coverage_edge_isotropic
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "draw_concentration_coverage", "draw_width_vs_dim", "draw_width_vs_alpha_d", "draw_linearity",
    "draw_window_swap", "draw_mitigation",
    "geometry_figure", "geometry_swap_figure", "geometry_mitigation_figure",
    "isotropic_collapse_sigma", "exact_log_width",
    "SWAP_WINDOWS", "EXACT_SWAP_NAMES", "EXACT_DIMS",
]

COLORS = ("C0", "C1", "C2", "C3", "C4", "C5")
MARKERS = ("o", "s", "^", "D")
EXACT_DIMS = (16, 20, 60, 200, 1000)  # the dimensions of the exact (simulation-free) log-width curve


# --------------------------------------------------------------------------- danger zone (geometry)


def _boundary(table, quantity: str) -> tuple[float, float, float | None]:
    """Seed mean and combined stderr of one boundary row (``sigma`` empty), and its theory value."""
    rows = table.where(quantity=quantity).rows
    vals = np.array([r["value"] for r in rows], dtype=float)
    ses = np.array([r["stderr"] for r in rows], dtype=float)
    theory = rows[0].get("theory")
    return (float(vals.mean()), float(math.sqrt(np.sum(ses**2)) / len(rows)),
            None if is_empty(theory) else float(theory))


def isotropic_collapse_sigma(alpha: float) -> float:
    """The collapse noise level sigma_C of isotropic unit-variance data at load ``alpha``."""
    return float(collapse_sigma(alpha, Spectrum.isotropic(1.0)))


def exact_log_width(dims, alpha: float) -> np.ndarray:
    """The exact ``log(sigma_C / sigma_cov)`` of isotropic data at ``P = round(exp(alpha N))`` for
    each N in ``dims`` (:func:`diffsim.theory.geometry.coverage_edge_isotropic`, no simulation)."""
    sc = isotropic_collapse_sigma(alpha)
    edges = np.array([coverage_edge_isotropic(points_at_load(alpha, n), n) for n in dims], dtype=float)
    return np.log(sc / edges)


def draw_concentration_coverage(ax, table, *, alpha: float) -> list:
    """W (solid) and C (dashed; exact expected coverage dotted) vs sigma, one colour per N, the
    danger zone ``[sigma_cov, sigma_w]`` shaded per N and sigma_C (isotropic, at ``alpha``) the
    black vertical line. ``table``: the isotropic geometry table."""
    artists = []
    for n, color in zip(sorted(table.unique("N")), COLORS):
        t = table.where(N=n)
        for q, ls in (("W", "-"), ("C", "--")):
            s, v, e = seed_mean(t.where(quantity=q), by="sigma")
            artists.append(ax.errorbar(s, v, e, color=color, ls=ls, label=f"{q}, N={n}"))
        first = t.rows[0]["seed"]
        theory = sorted((r["sigma"], r["theory"]) for r in t.where(quantity="C").rows if r["seed"] == first)
        artists += ax.plot([a for a, _ in theory], [b for _, b in theory], color=color, ls=":")
        lo, hi = _boundary(t, "sigma_cov")[0], _boundary(t, "sigma_w")[0]
        artists.append(ax.axvspan(lo, hi, color=color, alpha=0.08))
    artists.append(ax.axvline(isotropic_collapse_sigma(alpha), color="k", lw=0.8, label="$\\sigma_C$"))
    ax.set(xscale="log", xlabel="noise level $\\sigma$", ylabel="W (solid), C (dashed; exact: dotted)",
           title=f"isotropic, alpha = {alpha:g} (shaded: danger zone)")
    ax.legend(fontsize=6)
    return artists


def draw_width_vs_dim(ax, table, *, alpha: float, exact_dims=EXACT_DIMS) -> list:
    """Measured log-width ``log(sigma_w / sigma_cov)`` vs N (isotropic table) and the exact
    ``log(sigma_C / sigma_cov)`` at ``exact_dims`` (:func:`exact_log_width`)."""
    dims = sorted(table.unique("N"))
    widths = [_boundary(table.where(N=n), "log_width")[:2] for n in dims]
    artists = [ax.errorbar(dims, [w[0] for w in widths], [w[1] for w in widths], marker="o",
                           label="measured log($\\sigma_w / \\sigma_{cov}$)")]
    big = np.array(exact_dims)
    artists += ax.plot(big, exact_log_width(big, alpha), marker="s", label="exact log($\\sigma_C / \\sigma_{cov}$)")
    ax.set(xscale="log", xlabel="N", ylabel="log-width", title="the zone narrows with N (isotropic)")
    ax.legend(fontsize=7)
    return artists


def draw_width_vs_alpha_d(ax, table) -> list:
    """Measured log-width vs alpha_D, one marker per N (linear hidden-manifold table)."""
    artists = []
    for n, marker in zip(sorted(table.unique("N")), MARKERS):
        ads = sorted(table.where(N=n).unique("alpha_d"))
        vals = [_boundary(table.where(N=n, alpha_d=ad), "log_width")[:2] for ad in ads]
        artists.append(ax.errorbar(ads, [v[0] for v in vals], [v[1] for v in vals], marker=marker, label=f"N = {n}"))
    ax.set(xscale="log", xlabel="$\\alpha_D$", ylabel="log-width", title="linear HMM: log-width vs $\\alpha_D$")
    ax.legend(fontsize=7)
    return artists


def draw_linearity(ax, table, *, tolerance: float) -> list:
    """Relative rms distance of the empirical denoiser to the Wiener denoiser of the training moments
    (solid, with errors) and to the exact denoiser (dashed) vs sigma, one colour per N; the
    ``tolerance`` (dotted) and sigma_w (ticks at 0.02). ``table``: the isotropic geometry table."""
    artists = []
    for n, color in zip(sorted(table.unique("N")), COLORS):
        t = table.where(N=n)
        s, v, e = seed_mean(t.where(quantity="emp_lin"), by="sigma")
        artists.append(ax.errorbar(s, v, e, color=color, label=f"empirical vs Wiener, N={n}"))
        s, v, e = seed_mean(t.where(quantity="emp_exact"), by="sigma")
        artists += ax.plot(s, v, color=color, ls="--")
        artists += ax.plot([_boundary(t, "sigma_w")[0]], [0.02], marker="|", ms=14, color=color)
    artists.append(ax.axhline(tolerance, color="k", ls=":", lw=0.8, label=f"tolerance {tolerance:g}"))
    ax.set(xscale="log", yscale="log", xlabel="noise level $\\sigma$", ylabel="relative rms distance",
           title="linearity: emp vs Wiener (solid), vs exact (dashed)")
    ax.legend(fontsize=6)
    return artists


def geometry_figure(isotropic, hmm, *, alpha: float, tolerance: float, exact_dims=EXACT_DIMS) -> Figure:
    """The four-panel danger-zone figure: :func:`draw_concentration_coverage`,
    :func:`draw_width_vs_dim` (both from the ``isotropic`` table; the exact width at
    ``exact_dims``), :func:`draw_width_vs_alpha_d` (the ``hmm`` table) and :func:`draw_linearity`
    (isotropic, ``tolerance``); ``alpha``: the isotropic experiment's load log(P)/N."""
    with style():
        fig, axes = subplots(1, 4, figsize=(20, 4))
        draw_concentration_coverage(axes[0], isotropic, alpha=alpha)
        draw_width_vs_dim(axes[1], isotropic, alpha=alpha, exact_dims=exact_dims)
        draw_width_vs_alpha_d(axes[2], hmm)
        draw_linearity(axes[3], isotropic, tolerance=tolerance)
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- window swaps

SWAP_WINDOWS = ("small", "control_below", "medium", "control_above", "large")
SWAP_LABELS = ("small\n[0, s_cov]", "control\nbelow", "medium\n[s_cov, s_w]", "control\nabove", "large\n[s_w, inf)")
# the exact-score swap study's names for (memorizing-in-window, generalizing-in-window, baselines)
EXACT_SWAP_NAMES = {"mem_in_gen": "empirical_in_true", "gen_in_mem": "true_in_empirical",
                    "all_gen": "all_true", "all_mem": "all_empirical"}
NET_SWAP_NAMES = {k: k for k in EXACT_SWAP_NAMES}


def _pooled(rows, direction: str, window: str | None):
    """Seed mean, combined stderr ``sqrt(sum se^2) / n`` and the per-seed values of the rows of one
    (direction, window); ``window=None``: the unswapped baseline rows (window empty)."""
    sel = [r for r in rows if r["direction"] == direction
           and (is_empty(r["window"]) if window is None else r["window"] == window)]
    vals = np.array([r["value"] for r in sel], dtype=float)
    ses = np.array([0.0 if is_empty(r.get("stderr")) else r["stderr"] for r in sel], dtype=float)
    if not len(sel):
        return math.nan, math.nan, vals
    return float(vals.mean()), float(math.sqrt(np.sum(ses**2)) / len(sel)), vals


def draw_window_swap(ax, rows, *, names=NET_SWAP_NAMES, title: str = "") -> list:
    """Memorized fraction per swapped window (bars: seed mean, error bars 1.96 combined stderr, dots:
    single seeds). Red: the memorizing score inside the window, the generalizing one outside (dashed
    red: the all-generalizing baseline, 95% band); blue: the reverse (dashed blue: all-memorizing).

    Args:
        rows: the rows of one swap family (``direction``, ``window``, ``value``, ``stderr``).
        names: the rows' direction names for ``mem_in_gen``, ``gen_in_mem``, ``all_gen``, ``all_mem``
            (:data:`EXACT_SWAP_NAMES` for the exact-score study).
    """
    rows = list(getattr(rows, "rows", rows))
    x = np.arange(len(SWAP_WINDOWS))
    artists = []
    for direction, base, color, dx in (("mem_in_gen", "all_gen", "C3", -0.18), ("gen_in_mem", "all_mem", "C0", 0.18)):
        mean, err, _ = _pooled(rows, names[base], None)
        base_label = "baseline: all generalizing" if base == "all_gen" else "baseline: all memorizing"
        artists.append(ax.axhline(mean, color=color, ls="--", lw=1, label=base_label))
        artists.append(ax.axhspan(mean - 1.96 * err, mean + 1.96 * err, color=color, alpha=0.1))
        stats = [_pooled(rows, names[direction], w) for w in SWAP_WINDOWS]
        label = "memorizing score in the window" if direction == "mem_in_gen" else "generalizing score in the window"
        artists.append(ax.bar(x + dx, [s[0] for s in stats], width=0.34, color=color, alpha=0.6,
                              yerr=[1.96 * s[1] for s in stats], capsize=3, label=label))
        for xi, s in zip(x, stats):
            artists += ax.plot(np.full(len(s[2]), xi + dx), s[2], "k.", ms=3)
    ax.set_xticks(x, SWAP_LABELS, fontsize=7)
    ax.set(ylim=(-0.02, 1.05), ylabel="memorized fraction (1/3 rule)", title=title)
    return artists


def geometry_swap_figure(exact, nets) -> Figure:
    """Three panels of :func:`draw_window_swap`: exact scores (empirical vs true score) at the
    ``exact`` table's smallest N; exact scores and trained nets at the ``nets`` table's point
    (``family`` exact / nets, the smallest ``P_many``)."""
    with style():
        fig, axes = subplots(1, 3, figsize=(16, 4.4), sharey=True)
        n0 = sorted(exact.unique("N"))[0]
        ex_rows = exact.where(N=n0).rows
        draw_window_swap(axes[0], ex_rows, names=EXACT_SWAP_NAMES,
                         title=f"exact scores, isotropic N = {n0}, P = {ex_rows[0]['P']}")
        net_rows = nets.rows
        r0 = net_rows[0]
        p_many = sorted({r["P_many"] for r in net_rows})[0]
        for ax, family, title in ((axes[1], "exact", f"exact scores, N = {r0['N']}, P = {r0['P_few']}"),
                                  (axes[2], "nets", f"trained nets, N = {r0['N']}: P = {r0['P_few']} vs P = {p_many}")):
            draw_window_swap(ax, [r for r in net_rows if r["family"] == family and r["P_many"] == p_many],
                             names=NET_SWAP_NAMES, title=title)
        axes[0].legend(fontsize=7, loc="center left")
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- training-time mitigation

ZONE_COLORS = {"small": "C2", "control_below": "C1", "medium": "C3", "control_above": "C0", "large": "C4"}
VARIANTS = ("standard", "mitigated")


def _summary(rows, variant: str, quantity: str) -> tuple[float, float]:
    """Seed-pooled mean and stderr (the study's summary row, ``member`` empty) of one variant and quantity."""
    sel = [r for r in rows if r["variant"] == variant and r["quantity"] == quantity and is_empty(r.get("member"))]
    return sel[0]["value"], sel[0]["stderr"]


def draw_mitigation(ax, table, quantity: str, *, label: bool = True) -> list:
    """Memorized fraction vs ``quantity`` (``score_error_true`` or ``sliced_wasserstein``) of each
    paired schedule: standard DSM (black) joined by a line to the schedule with one window
    undertrained (colour: the window), 1.96 stderr bars, one marker per training-set size P. For
    ``sliced_wasserstein`` the floor between two fresh sample sets is the dotted vertical line.
    ``label``: put the schedules in the legend."""
    artists = []
    floor = None
    for p, marker in zip(sorted(table.unique("P")), MARKERS):
        for zone in table.where(P=p).unique("zone"):
            color = ZONE_COLORS.get(zone, "C7")
            for weight in table.where(P=p, zone=zone).unique("zone_weight"):
                rows = table.where(P=p, zone=zone, zone_weight=weight).rows
                mem = {v: _summary(rows, v, "memorized_fraction") for v in VARIANTS}
                xs = {v: _summary(rows, v, quantity) for v in VARIANTS}
                artists += ax.plot([xs[v][0] for v in VARIANTS], [mem[v][0] for v in VARIANTS], color=color, lw=0.8)
                for variant, c in (("standard", "k"), ("mitigated", color)):
                    artists.append(ax.errorbar(
                        xs[variant][0], mem[variant][0], yerr=1.96 * mem[variant][1], xerr=1.96 * xs[variant][1],
                        color=c, marker=marker, ms=6, capsize=2, ls="none",
                        label=f"{zone}, weight {weight:g}, P={p}" if label and variant == "mitigated" else None))
                fl = [r for r in rows if r["quantity"] == "sliced_wasserstein" and not is_empty(r.get("sw_floor"))]
                floor = fl[0]["sw_floor"] if fl else floor
    if quantity == "sliced_wasserstein" and floor is not None:
        artists.append(ax.axvline(floor, color="k", ls=":", lw=0.8, label="fresh-sample floor" if label else None))
    xlabel = {"score_error_true": "score error to the true score (noise units / dim)",
              "sliced_wasserstein": "sliced Wasserstein to fresh samples"}.get(quantity, quantity)
    ax.set(xlabel=xlabel, ylabel="memorized fraction (1/3 rule)")
    return artists


def geometry_mitigation_figure(table) -> Figure:
    """Memorization vs score error (left) and vs sliced Wasserstein (right) of the paired training
    schedules (:func:`draw_mitigation`), from the ``geometry_mitigation`` table."""
    with style():
        fig, axes = subplots(1, 2, figsize=(11, 4.2), sharey=True)
        draw_mitigation(axes[0], table, "score_error_true")
        draw_mitigation(axes[1], table, "sliced_wasserstein", label=False)
        axes[1].set_ylabel("")
        axes[0].set_title("undertrained window (colour) vs standard (black)")
        axes[1].set_title("quality (dotted: fresh-sample floor)")
        axes[0].legend(fontsize=6)
        fig.tight_layout()
    return fig
