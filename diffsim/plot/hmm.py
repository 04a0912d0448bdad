"""Figures of the hidden-manifold studies (THEORY.md sections 4-7), drawn from result-table rows.

Every drawer takes the rows of one study's table (a :class:`~diffsim.results.Table` or a list of
dicts with the columns of that study's ``Result.rows()``; a sweep adds ``cell`` and ``seed``, and
seeds of one point are averaged). Parameters fixed over a sweep (load ``alpha``, data model,
``alpha_d``, ``nonlinearity``) are keyword options; the ``N -> inf`` theory curves are evaluated
here from :mod:`diffsim.theory`.

* :func:`draw_mean_y2`, :func:`draw_log_partition`, :func:`rem_y2_figure`: REM condensation, mean
  ``Y2`` against ``1 - k_c(t)`` and ``(1/N) log Z`` against the REM free energy;
* :func:`draw_trap_fraction`, :func:`draw_basin_radius`, :func:`trap_fraction_figure`,
  :func:`basin_radius_figure`: traps of ``-log p_t^e`` and the basin radius against ``r_b(t)``;
* :func:`draw_collapse_time_map`, :func:`draw_collapse_time_vs_alpha_d`, :func:`draw_scaled_collapse_time`,
  :func:`hmm_phase_diagram_figure`: ``t_C`` over ``(alpha, alpha_D)``
  (Marchenko-Pastur theory) with the ``1/N``-extrapolated simulation;
* :func:`draw_generalization_error`, :func:`draw_generalization_times`, :func:`generalization_time_figure`:
  ``KL(p_0 || q_t) / D`` and ``t_g`` beside ``t_C``;
* :func:`plot_phase_diagram`, :func:`plot_trap_fraction`, :func:`plot_rem_y2`,
  :func:`plot_generalization_time`: the figures of study results (the CLI's ``--figure``), saved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from diffsim.plot._base import MIN_FIT_POINTS, colormap, save_figure, style, subplots
from diffsim.plot._seeds import as_table, seed_mean
from diffsim.theory.collapse import collapse_time, collapse_time_hmm_linear
from diffsim.theory.generalization import generalization_time, latent_spectrum
from diffsim.theory.hmm import asymptotic_spectrum, hmm_collapse_theory
from diffsim.theory.rem import free_energy, mean_y2
from diffsim.theory.spectrum import Spectrum
from diffsim.theory.traps import basin_radius

__all__ = [
    "draw_mean_y2", "draw_log_partition", "rem_y2_figure",
    "draw_trap_fraction", "draw_basin_radius", "trap_fraction_figure", "basin_radius_figure",
    "draw_collapse_time_map", "draw_collapse_time_vs_alpha_d", "draw_scaled_collapse_time",
    "hmm_phase_diagram_figure",
    "draw_generalization_error", "draw_generalization_times", "generalization_time_figure",
    "plot_phase_diagram", "plot_trap_fraction", "plot_rem_y2", "plot_generalization_time",
    "MIN_FIT_POINTS",
]

TIME_LABEL = "diffusion time t (OU time, dimensionless)"
MARKERS = {"linear": "o", "tanh": "s", "relu": "^", "sign": "v", "gaussian": "x"}


def _colors(keys, cmap: str = "viridis", lo: float = 0.1, hi: float = 0.85) -> dict:
    return dict(zip(keys, colormap(cmap)(np.linspace(lo, hi, max(len(keys), 1)))))


def _rows(results, **extra) -> list[dict]:
    """The tidy rows of study ``results`` (one ``cell`` per result) for the table drawers."""
    return [{"cell": i, **extra, **row} for i, r in enumerate(results) for row in r.rows()]


def _as_list(results) -> list:
    return list(results) if isinstance(results, (list, tuple)) else [results]


# ----------------------------------------------------------------------------- REM (section 5)


def draw_mean_y2(ax, rows, *, alpha: float, spectrum: Spectrum) -> list:
    """Mean participation ``Y2`` vs t per N (``mean_y2``; fresh queries filled, queries noised from
    training points hollow) against ``1 - k_c(t)`` as ``N -> inf`` (black, :func:`~diffsim.theory.rem.mean_y2`
    of ``spectrum`` at ``alpha``) and at each N's finite spectrum (``theory_y2_spectrum``, dotted)."""
    table = as_table(rows)
    times = np.array(table.unique("t"), dtype=float)
    dense = np.linspace(0.5 * times.min(), 1.05 * times.max(), 200)
    artists = ax.plot(dense, mean_y2(dense, alpha, spectrum), "k-", lw=1.4, label="theory $1 - k_c(t)$ ($N\\to\\infty$)")
    dims = table.unique("N")
    colors = _colors(dims)
    for n in dims:
        p = table.where(N=n).rows[0]["P"]
        for kind, fmt, mfc in (("fresh", "o-", colors[n]), ("train", "s--", "none")):
            sub = table.where(N=n, query=kind)
            if not len(sub):
                continue
            t, y2, err = seed_mean(sub, column="mean_y2", stderr="mean_y2_stderr")
            label = f"N = {n} (P = {p}), {'fresh' if kind == 'fresh' else 'noised training point'} queries"
            artists.append(ax.errorbar(t, y2, yerr=err, fmt=fmt, color=colors[n], mfc=mfc, ms=4, lw=0.9, capsize=2, label=label))
            if kind == "fresh":
                t, th, _ = seed_mean(sub, column="theory/mean_y2_spectrum", stderr=None)
                artists += ax.plot(t, th, ":", color=colors[n], lw=1.1, label=f"N = {n}: $1 - k_c$, finite-N spectrum")
    t_c = table.rows[0]["theory/t_collapse"]
    artists.append(ax.axvline(t_c, color="gray", ls="-.", lw=1, label=f"theory $t_C$ = {t_c:.3f}"))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("mean participation $Y_2 = \\sum_\\mu w_\\mu^2$ (dimensionless)")
    return artists


def draw_log_partition(ax, rows, *, alpha: float, spectrum: Spectrum) -> list:
    """``(1/N) log Z`` of fresh queries per N (``log_z_per_dim``) against the REM free energy
    (:func:`~diffsim.theory.rem.free_energy`, black) and its finite-N spectrum value (dotted)."""
    table = as_table(rows)
    times = np.array(table.unique("t"), dtype=float)
    dense = np.linspace(0.5 * times.min(), 1.05 * times.max(), 200)
    artists = ax.plot(dense, free_energy(dense, alpha, spectrum), "k-", lw=1.4,
                      label="theory: REM free energy ($N\\to\\infty$)")
    dims = table.unique("N")
    colors = _colors(dims)
    for n in dims:
        sub = table.where(N=n, query="fresh")
        if not len(sub):
            continue
        p = sub.rows[0]["P"]
        t, lz, lz_err = seed_mean(sub, column="log_z_per_dim", stderr="log_z_per_dim_stderr")
        artists.append(ax.errorbar(t, lz, yerr=lz_err, fmt="o", color=colors[n], ms=4, capsize=2, label=f"N = {n} (P = {p}), fresh"))
        t, th, _ = seed_mean(sub, column="theory/log_z_per_dim_spectrum", stderr=None)
        artists += ax.plot(t, th, ":", color=colors[n], lw=1.1, label=f"N = {n}: finite-N spectrum theory")
    t_c = table.rows[0]["theory/t_collapse"]
    artists.append(ax.axvline(t_c, color="gray", ls="-.", lw=1, label=f"theory $t_C$ = {t_c:.3f}"))
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("$(1/N)\\log\\sum_\\mu e^{-E_\\mu}$ (per dimension)")
    return artists


def rem_y2_figure(rows, *, alpha: float, data: str = "gaussian", alpha_d: float = 0.5,
                  nonlinearity: str = "linear") -> Figure:
    """Mean ``Y2`` vs ``1 - k_c(t)`` (:func:`draw_mean_y2`, left) and ``(1/N) log Z`` vs the REM free
    energy (:func:`draw_log_partition`, right), theory on the ``N -> inf`` spectrum of the data model."""
    table = as_table(rows)
    spectrum = asymptotic_spectrum(data, alpha_d, nonlinearity)
    with style():
        fig, (ax, ax2) = subplots(1, 2, figsize=(12, 5.6))
        draw_mean_y2(ax, table, alpha=alpha, spectrum=spectrum)
        draw_log_partition(ax2, table, alpha=alpha, spectrum=spectrum)
        ax.set_title(f"REM condensation: {data} data, α = {alpha}, $\\alpha_D$ = {alpha_d}")
        ax2.set_title("Log-partition function per dimension, fresh queries")
        for a in (ax, ax2):
            a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
        fig.suptitle("Posterior weights as a random energy model")
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- traps (section 6)


def _is_bound(row) -> bool:
    return row.get("basin_radius_is_bound") in (True, "True", 1)


def draw_trap_fraction(ax, rows) -> list:
    """Fraction of probed training points owning a trap (``trap_fraction``, solid) and dominated at
    ``m_t a_mu`` itself (``start_dominated``, dashed) vs t per N, with the theory ``t_o`` and ``t_C``
    (``N -> inf``, lines) and each N's finite-spectrum ``t_o`` (dotted)."""
    table = as_table(rows)
    dims = table.unique("N")
    colors = _colors(dims)
    artists = []
    for n in dims:
        sub = table.where(N=n)
        p = sub.rows[0]["P"]
        t, frac, _ = seed_mean(sub, column="trap_fraction", stderr=None)
        artists += ax.plot(t, frac, "o-", ms=4, color=colors[n], label=f"N = {n} (P = {p}): owns a trap")
        t, dom, _ = seed_mean(sub, column="start_dominated", stderr=None)
        artists += ax.plot(t, dom, "--", color=colors[n], lw=0.9, label=f"N = {n}: dominated at $m_t a_\\mu$")
    first = table.rows[0]
    artists.append(ax.axvline(first["theory/t_onset"], color="k", ls="-", lw=1.2,
                              label=f"theory $t_o$ = {first['theory/t_onset']:.3f} ($N\\to\\infty$)"))
    artists.append(ax.axvline(first["theory/t_collapse"], color="gray", ls="-.", lw=1.0, label=f"theory $t_C$ = {first['theory/t_collapse']:.3f}"))
    for n in dims:
        artists.append(ax.axvline(table.where(N=n).rows[0]["theory/t_onset_spectrum"], color=colors[n], ls=":", lw=0.9))
    ax.plot([], [], "k:", lw=0.9, label="$t_o$ of each draw's finite-N spectrum")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("fraction of probed training points")
    ax.legend()
    return artists


def draw_basin_radius(ax, rows, *, alpha: float, spectrum: Spectrum) -> list:
    """Median dominance radius per N (``basin_radius``; hollow triangles where the median reached the
    bisection limit, a lower bound) and the attraction radius where measured, against ``r_b(t)``
    (:func:`~diffsim.theory.traps.basin_radius` of ``spectrum`` at ``alpha``, black; at each N's
    finite spectrum, dotted), with ``t_o`` and ``t_C``."""
    table = as_table(rows)
    first = table.rows[0]
    times = np.array(table.unique("t"), dtype=float)
    dense = np.linspace(min(times.min(), 0.6 * first["theory/t_collapse"]), first["theory/t_onset"], 200)
    artists = ax.plot(dense, basin_radius(dense, alpha, spectrum), "k-", lw=1.3, label="theory $r_b(t)$ ($N\\to\\infty$)")
    dims = table.unique("N")
    colors = _colors(dims)
    for n in dims:
        sub = table.where(N=n)
        t, r, err = seed_mean(sub, column="basin_radius", stderr="basin_radius_stderr")
        artists.append(ax.errorbar(t, r, yerr=err, fmt="o", ms=4, capsize=2, color=colors[n], label=f"N = {n}: median dominance radius"))
        bound = [row for row in sub.rows if _is_bound(row)]
        if bound:
            artists += ax.plot([row["t"] for row in bound], [row["basin_radius_lower_bound"] for row in bound], "^", ms=5,
                               color=colors[n], mfc="none", label=f"N = {n}: lower bound (bisection limit)")
        t, rb, _ = seed_mean(sub, column="theory/basin_radius_spectrum", stderr=None)
        artists += ax.plot(t, rb, ":", color=colors[n], lw=1, label=f"N = {n}: $r_b(t)$, finite-N spectrum")
        t, ra, _ = seed_mean(sub, column="attraction_radius", stderr=None)
        if np.any(np.isfinite(ra)):
            artists += ax.plot(t, ra, "s--", ms=3, color=colors[n], lw=0.8, label=f"N = {n}: attraction radius")
    artists.append(ax.axvline(first["theory/t_onset"], color="k", ls="-", lw=0.8))
    artists.append(ax.axvline(first["theory/t_collapse"], color="gray", ls="-.", lw=0.8))
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("basin radius r (units of $\\sqrt{N\\Delta_t}$)")
    ax.legend()
    return artists


def _has_basin(table) -> bool:
    return bool(np.any(np.isfinite(table.column("basin_radius")))) or any(_is_bound(r) for r in table.rows)


def trap_fraction_figure(rows, *, alpha: float, data: str = "hmm", alpha_d: float = 0.5,
                         nonlinearity: str = "linear") -> Figure:
    """Trap fraction vs t (:func:`draw_trap_fraction`) and, where the rows hold basin radii, the basin
    radius vs ``r_b(t)`` (:func:`draw_basin_radius`) on the ``N -> inf`` spectrum of the data model."""
    table = as_table(rows)
    has_basin = _has_basin(table)
    with style():
        fig, axes = subplots(1, 2 if has_basin else 1, figsize=(11.5 if has_basin else 6, 4.4), squeeze=False)
        draw_trap_fraction(axes[0, 0], table)
        axes[0, 0].set_title(f"Trap fraction: {data} data, α = {alpha}, $\\alpha_D$ = {alpha_d}")
        if has_basin:
            draw_basin_radius(axes[0, 1], table, alpha=alpha, spectrum=asymptotic_spectrum(data, alpha_d, nonlinearity))
            axes[0, 1].set_title("Basin of a training point vs $r_b(t)$ (vanishes at $t_o$)")
        fig.suptitle("Traps of $-\\log p_t^e$ on the Hidden Manifold Model")
        fig.tight_layout()
    return fig


def basin_radius_figure(rows, *, alpha: float, data: str = "hmm", alpha_d: float = 0.5,
                        nonlinearity: str = "linear") -> Figure:
    """The basin radius panel (:func:`draw_basin_radius`) alone."""
    with style():
        fig, ax = subplots(figsize=(6, 4))
        draw_basin_radius(ax, as_table(rows), alpha=alpha, spectrum=asymptotic_spectrum(data, alpha_d, nonlinearity))
        ax.set_title("Basin of a training point: measured vs $r_b(t)$")
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- collapse on the manifold (sections 2, 4)


def _extrapolated(table, model: str, estimator: str = "own") -> list[tuple[float, float, float, float, int]]:
    """``(alpha, alpha_d, mean t_C, stderr, n_dims)`` over seeds of ``model``'s spectrum-corrected
    ``1/N -> 0`` extrapolation of ``estimator`` (:func:`~diffsim.studies.hmm_collapse.extrapolated_rows`
    per (alpha, alpha_D, model, seed)); ``n_dims``: the distinct N it went through."""
    from diffsim.studies.hmm_collapse import extrapolated_rows

    rows = table.where(model=model).rows
    name = f"{estimator}/spectrum_corrected/extrapolated"
    groups: dict = {}
    for r in extrapolated_rows(list(rows)):
        if r["estimator"] == name:
            groups.setdefault((r["alpha"], r["alpha_d"]), []).append(r)
    out = []
    for (alpha, alpha_d), rs in sorted(groups.items()):
        vals = np.array([r["t_collapse"] for r in rs], dtype=float)
        errs = np.array([np.nan if r["stderr"] is None else r["stderr"] for r in rs], dtype=float)
        n_dims = len({r["N"] for r in rows if r["alpha"] == alpha and r["alpha_d"] == alpha_d
                      and r.get("N") is not None and r["estimator"] == estimator})
        out.append((alpha, alpha_d, float(np.mean(vals)), float(np.sqrt(np.sum(errs**2)) / len(rs)), n_dims))
    return out


def _two_point_note(n_dims: int) -> str:
    return "" if n_dims >= MIN_FIT_POINTS else " (line through 2 N, not a fit)"


def draw_collapse_time_map(ax, rows, *, estimator: str = "own") -> list:
    """The Marchenko-Pastur ``t_C(alpha, alpha_D)`` of the linear HMM (colour map, contours and
    colour bar; :func:`~diffsim.theory.collapse.collapse_time_hmm_linear`) with the linear-HMM
    simulation (spectrum-corrected ``1/N``-extrapolated ``estimator``) as dots on the same colour
    scale; an extrapolation through only 2 N is drawn with a grey edge and labelled as such."""
    table = as_table(rows)
    alphas = np.array(table.unique("alpha"), dtype=float)
    a_grid = np.linspace(0.02, max(0.4, 1.2 * alphas.max()) if alphas.size else 0.4, 60)
    ad_grid = np.linspace(0.05, 1.0, 60)
    t_c = np.array([collapse_time_hmm_linear(a_grid, ad) for ad in ad_grid]).T  # [alpha, alpha_d]
    vmax = float(np.nanmax(t_c))
    mesh = ax.pcolormesh(ad_grid, a_grid, t_c, shading="auto", cmap="magma", vmin=0, vmax=vmax)
    cs = ax.contour(ad_grid, a_grid, t_c, levels=[0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0], colors="w", linewidths=0.6)
    ax.clabel(cs, fmt="%.1f")
    ax.figure.colorbar(mesh, ax=ax, label="collapse time $t_C$ (OU time)")
    artists = [mesh, cs]
    points = _extrapolated(table, "linear", estimator)
    for fitted in (True, False):
        pts = [p for p in points if (p[4] >= MIN_FIT_POINTS) == fitted]
        if not pts:
            continue
        a, ad, t, _, _ = map(np.array, zip(*pts))
        label = "simulation (linear HMM, $1/N \\to 0$)" + ("" if fitted else _two_point_note(2))
        artists.append(ax.scatter(ad, a, c=t, cmap="magma", vmin=0, vmax=vmax, s=90, edgecolors="c" if fitted else "0.6",
                                  linewidths=1.5, zorder=3, label=label))
        for x, y, v in zip(ad, a, t):
            artists.append(ax.annotate(f"{v:.2f}", (x, y), textcoords="offset points", xytext=(6, 6), fontsize=7, color="c"))
    ax.set_xlim(ad_grid[0], 1.1)
    ax.set_xlabel("latent ratio $\\alpha_D = D/N$ (dimensionless)")
    ax.set_ylabel("load $\\alpha = \\log P / N$ (dimensionless)")
    if points:
        ax.legend(loc="upper right", frameon=True)  # on the colour map: a frame keeps it legible
    return artists


def draw_collapse_time_vs_alpha_d(ax, rows, *, estimator: str = "own") -> list:
    """``t_C`` vs ``alpha_D`` per load: Marchenko-Pastur theory of the linear HMM (solid), the
    Gaussian-equivalent theory of each nonlinear model (dashed), the isotropic reference (dotted) and
    the ``1/N``-extrapolated simulation per model (markers; through 2 N labelled as a line, not a fit)."""
    table = as_table(rows)
    alphas = table.unique("alpha")
    models = [m for m in MARKERS if m in table.unique("model")]
    colors = _colors(alphas, lo=0.1, hi=0.8)
    ad_dense = np.linspace(0.1, 1.0, 40)
    artists = []
    for alpha in alphas:
        color = colors[alpha]
        artists += ax.plot(ad_dense, [float(collapse_time_hmm_linear(alpha, ad)) for ad in ad_dense], "-", color=color,
                           lw=1.3, label=f"MP theory, linear, α = {alpha}")
        iso = hmm_collapse_theory(alpha, 0.5)["t_collapse_isotropic"]
        artists.append(ax.axhline(iso, color=color, ls=":", lw=1, label=f"isotropic N(0, I), α = {alpha}"))
        for model in models:
            if model not in ("linear", "gaussian"):
                ge = [hmm_collapse_theory(alpha, ad, model)["t_collapse_gaussian_equivalent"] for ad in ad_dense]
                artists += ax.plot(ad_dense, ge, "--", color=color, lw=0.9, label=f"Gaussian-equivalent theory, {model}, α = {alpha}")
            pts = [p for p in _extrapolated(table, model, estimator) if p[0] == alpha]
            for fitted in (True, False):
                sel = [p for p in pts if (p[4] >= MIN_FIT_POINTS) == fitted]
                if not sel:
                    continue
                _, ad, t, err, _ = map(np.array, zip(*sel))
                artists.append(ax.errorbar(ad, t, yerr=err, fmt=MARKERS[model], color=color, ms=6, capsize=2,
                                           mfc="none" if model != "linear" or not fitted else color,
                                           ls="none", label=f"simulation, {model}, α = {alpha}" + _two_point_note(2 if not fitted else 3)))
    ax.set_xlabel("latent ratio $\\alpha_D = D/N$ (dimensionless)")
    ax.set_ylabel("collapse time $t_C$ (OU time)")
    ax.legend()
    return artists


def draw_scaled_collapse_time(ax, rows, *, estimator: str = "own") -> list:
    """The scaled collapse time ``alpha_D (exp(2 t_C) - 1)`` vs the latent load ``alpha / alpha_D``:
    the ``alpha_D -> 0`` limit ``1 / (exp(2 r) - 1)`` (black), the Marchenko-Pastur theory at
    ``alpha_D`` = 0.1, 0.5, 1 and every measured point (``estimator`` at each N; Gaussian data left out)."""
    table = as_table(rows)
    ratios = np.linspace(0.02, 1.5, 100)
    artists = ax.plot(ratios, 1.0 / np.expm1(2 * ratios), "k-", lw=1.5, label="$\\alpha_D\\to 0$: $1/(e^{2r}-1)$")
    for ad, color in zip((0.1, 0.5, 1.0), colormap("cool")(np.linspace(0.1, 0.85, 3))):
        t_c = collapse_time_hmm_linear(ratios * ad, ad)
        artists += ax.plot(ratios, ad * np.expm1(2 * t_c), "-", color=color, lw=1, label=f"theory $\\alpha_D$={ad}")
    for r in table.where(estimator=estimator).rows:
        if r["model"] == "gaussian" or r.get("N") is None:
            continue
        v, s, ad = r["t_collapse"], r["stderr"], r["alpha_d"]
        artists.append(ax.errorbar([r["alpha"] / ad], [ad * np.expm1(2 * v)], yerr=[ad * 2 * np.exp(2 * v) * s],
                                   fmt=MARKERS.get(r["model"], "o"), ms=4, alpha=0.7,
                                   label=f"{r['model']} N={r['N']} ($\\alpha_D$={ad})"))
    ax.set_yscale("log")
    ax.set_xlabel("latent load $r = \\alpha/\\alpha_D = \\log P / D$")
    ax.set_ylabel("$\\alpha_D\\,(e^{2 t_C}-1)$")
    ax.legend(fontsize=6, ncol=2)
    return artists


def hmm_phase_diagram_figure(rows, *, estimator: str = "own") -> Figure:
    """The theory map with the simulated points (:func:`draw_collapse_time_map`, left) and ``t_C``
    vs ``alpha_D`` per load and model (:func:`draw_collapse_time_vs_alpha_d`, right)."""
    table = as_table(rows)
    with style():
        fig, (ax, ax2) = subplots(1, 2, figsize=(12, 4.8))
        draw_collapse_time_map(ax, table, estimator=estimator)
        ax.set_title("Linear HMM: colour = Marchenko-Pastur theory, dots = simulation")
        draw_collapse_time_vs_alpha_d(ax2, table, estimator=estimator)
        ax2.set_title("$t_C$ vs $\\alpha_D$: theory (lines) and $1/N$-extrapolated simulation (markers)")
        fig.suptitle("Collapse time of the Hidden Manifold Model")
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- generalization (section 7)


def _asymptotic_times(alpha: float, alpha_d: float, data: str) -> tuple[float, float]:
    """``(t_g, t_C)`` as ``N -> infinity`` on the latent subspace (load ``alpha / alpha_D``)."""
    lat = Spectrum.isotropic(1.0) if data == "gaussian" else latent_spectrum(Spectrum.marchenko_pastur(alpha_d))
    alpha_lat = alpha / alpha_d
    return generalization_time(alpha_lat, lat), float(collapse_time(alpha_lat, lat))


def draw_generalization_error(ax, rows, *, n: int | None = None) -> list:
    """``G(t) = KL(p_0 || q_t) / D`` per ``alpha_D`` at dimension ``n`` (default the largest):
    Monte Carlo (``kl_per_dim`` of the ``curve`` rows, points), REM theory (``kl_theory``, lines) and
    the measured ``t_g`` (dotted)."""
    table = as_table(rows)
    n = max(table.unique("N")) if n is None else n
    alpha_ds = table.unique("alpha_d")
    colors = _colors(alpha_ds, "plasma", 0.05, 0.8)
    artists = []
    for ad in alpha_ds:
        curve = table.where(N=n, alpha_d=ad, quantity="curve")
        t, g, err = seed_mean(curve, column="kl_per_dim", stderr="kl_per_dim_stderr")
        _, th, _ = seed_mean(curve, column="theory/kl_per_dim_spectrum", stderr=None)
        artists.append(ax.errorbar(t, g, yerr=err, fmt="o", ms=3.5, capsize=2, color=colors[ad], label=f"$\\alpha_D$ = {ad}: Monte Carlo"))
        artists += ax.plot(t, th, "-", color=colors[ad], lw=1, label=f"$\\alpha_D$ = {ad}: REM theory")
        _, t_g, _ = seed_mean(table.where(N=n, alpha_d=ad, quantity="t_g"), by="N", column="t_g", stderr=None)
        artists.append(ax.axvline(t_g[0], color=colors[ad], ls=":", lw=1))
    ax.plot([], [], "k:", lw=1, label="measured $t_g$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("$G(t) = KL(p_0\\,\\|\\,q_t)/D$ (nats per latent dimension)")
    ax.set_title(f"Generalization error at N = {n}")
    ax.legend()
    return artists


def draw_generalization_times(ax, rows, *, alpha: float, data: str = "hmm", n_theory: int = 24) -> list:
    """``t_g`` vs ``alpha_D`` measured at each N (``t_g`` rows), with the REM theory of ``t_g`` and
    ``t_C`` as ``N -> inf`` (lines, :func:`~diffsim.theory.generalization.generalization_time` and
    :func:`~diffsim.theory.collapse.collapse_time` on the latent spectrum at load ``alpha / alpha_D``),
    the finite-N theory (ticks) and the sliced-Wasserstein variant ``t_g^sw`` (hollow triangles).
    ``n_theory``: the theory curves' points in ``alpha_D`` (about 0.3 s each)."""
    table = as_table(rows)
    dims = table.unique("N")
    colors = _colors(dims, lo=0.1, hi=0.8)
    dense = np.linspace(0.15, 1.0, n_theory)
    theory = np.array([_asymptotic_times(alpha, ad, data) for ad in dense])
    artists = ax.plot(dense, theory[:, 0], "b-", lw=1.4, label="$t_g$ theory (REM, $N\\to\\infty$)")
    artists += ax.plot(dense, theory[:, 1], "r-", lw=1.4, label="$t_C$ theory ($N\\to\\infty$)")
    for k, n in enumerate(dims):
        summary = table.where(N=n, quantity="t_g")
        ads, tg, tg_err = seed_mean(summary, by="alpha_d", column="t_g", stderr="t_g_stderr")
        artists.append(ax.errorbar(ads, tg, yerr=tg_err, fmt="o", color=colors[n], ms=5, capsize=2, label=f"$t_g$ measured, N = {n}"))
        _, tg_fin, _ = seed_mean(summary, by="alpha_d", column="theory/t_g_spectrum", stderr=None)
        _, tc_fin, _ = seed_mean(summary, by="alpha_d", column="theory/t_collapse_spectrum", stderr=None)
        artists += ax.plot(ads, tg_fin, "_", color="b", ms=12, mew=1.5,
                           label="theory at finite N ($t_g$ blue, $t_C$ red)" if k == 0 else None)
        artists += ax.plot(ads, tc_fin, "_", color="r", ms=12, mew=1.5)
        _, sw, _ = seed_mean(summary, by="alpha_d", column="t_g/sw", stderr=None)
        if np.any(np.isfinite(sw)):
            artists += ax.plot(ads, sw, "^", color=colors[n], mfc="none", ms=5, label=f"$t_g^{{sw}}$ (sliced $W_2$), N = {n}")
    ax.set_xlabel("latent ratio $\\alpha_D = D/N$ (dimensionless)")
    ax.set_ylabel("time t (OU time)")
    ax.set_title(f"$t_g$ below $t_C$ at load α = {alpha}")
    # beside the panel: at paper scale the points fill the axes
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return artists


def generalization_time_figure(rows, *, data: str = "hmm", n_theory: int = 24) -> Figure:
    """``G(t)`` at the largest N (:func:`draw_generalization_error`, left) and ``t_g``, ``t_C`` vs
    ``alpha_D`` (:func:`draw_generalization_times`, right); the load is the rows' ``alpha``."""
    table = as_table(rows)
    alpha = float(table.unique("alpha")[0])
    with style():
        fig, (ax, ax2) = subplots(1, 2, figsize=(14, 4.6))
        draw_generalization_error(ax, table)
        draw_generalization_times(ax2, table, alpha=alpha, data=data, n_theory=n_theory)
        fig.suptitle(f"Generalization vs memorization on the Hidden Manifold Model ({data} data)")
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- figures of study results (CLI)


def _model_options(config) -> dict:
    d = config.data
    return {"alpha": d.alpha, "data": d.model, "alpha_d": d.alpha_d, "nonlinearity": d.nonlinearity}


def plot_phase_diagram(results, path, *, estimator: str = "own") -> Path:
    """:func:`hmm_phase_diagram_figure` of hidden-manifold collapse results (points at several N are
    extrapolated in ``1/N``), saved to ``path``."""
    return save_figure(hmm_phase_diagram_figure(_rows(_as_list(results)), estimator=estimator), path)


def plot_trap_fraction(results, path) -> Path:
    """:func:`trap_fraction_figure` of traps results at one or several N, saved to ``path``."""
    results = _as_list(results)
    return save_figure(trap_fraction_figure(_rows(results), **_model_options(results[0].config)), path)


def plot_rem_y2(results, path) -> Path:
    """:func:`rem_y2_figure` of REM results at one or several N, saved to ``path``."""
    results = _as_list(results)
    return save_figure(rem_y2_figure(_rows(results), **_model_options(results[0].config)), path)


def plot_generalization_time(results, path) -> Path:
    """:func:`generalization_time_figure` of generalization results (one per point), saved to ``path``."""
    results = _as_list(results)
    return save_figure(generalization_time_figure(_rows(results), data=results[0].config.data.model), path)
