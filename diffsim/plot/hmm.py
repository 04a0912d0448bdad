"""Figures of the hidden-manifold studies (THEORY.md sections 4-7), drawn from study results.

* :func:`plot_phase_diagram`: ``t_C`` over ``(alpha, alpha_D)`` (Marchenko-Pastur theory) with the
  simulated points, and the collapse of ``alpha_D (exp(2 t_C) - 1)`` onto one curve of ``alpha / alpha_D``;
* :func:`plot_trap_fraction`: trap fraction vs t with ``t_o`` and ``t_C``, and the basin radius vs ``r_b(t)``;
* :func:`plot_basin_radius`: the basin radius panel alone;
* :func:`plot_rem_y2`: mean ``Y2`` vs t against ``1 - k_c(t)``, and ``(1/N) log Z`` vs the REM free energy;
* :func:`plot_generalization_time`: the generalization error curves and ``t_g``, ``t_C`` vs ``alpha_D``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffsim.plot._base import colormap, save_figure, subplots
from diffsim.theory.hmm import asymptotic_spectrum
from diffsim.theory.collapse import collapse_time_hmm_linear
from diffsim.theory.rem import free_energy, mean_y2
from diffsim.theory.traps import basin_radius

__all__ = ["plot_phase_diagram", "plot_trap_fraction", "plot_basin_radius", "plot_rem_y2", "plot_generalization_time"]

TIME_LABEL = "diffusion time t (OU clock)"


def _colors(k: int, cmap="viridis"):
    return colormap(cmap)(np.linspace(0.1, 0.85, max(k, 1)))


def plot_phase_diagram(results, path, *, estimator: str = "own") -> Path:
    """Left: MP collapse time ``t_C(alpha, alpha_D)`` (color map, contours) with the simulated linear-HMM
    points (``1/N``-extrapolated ``estimator``, spectrum-corrected) as colored dots. Right: the scaled
    collapse time ``alpha_D (exp(2 t_C) - 1)`` vs the latent load ``alpha / alpha_D``, theory curves for
    several ``alpha_D`` (and the ``alpha_D -> 0`` limit ``1 / (exp(2 r) - 1)``) with every measured point.
    ``results``: hmm-collapse results (points at several N are extrapolated)."""
    from diffsim.studies.hmm_collapse import extrapolate

    results = _as_list(results)
    fig, (ax, ax2) = subplots(1, 2, figsize=(11, 4.4))
    alpha_ds = np.linspace(0.05, 1.0, 40)
    alphas = np.linspace(0.02, 0.4, 40)
    grid = np.array([collapse_time_hmm_linear(alphas, ad) for ad in alpha_ds]).T  # [alpha, alpha_d]
    vmax = float(np.nanmax(grid))
    mesh = ax.pcolormesh(alpha_ds, alphas, grid, shading="auto", cmap="magma", vmin=0, vmax=vmax)
    cs = ax.contour(alpha_ds, alphas, grid, levels=[0.1, 0.2, 0.4, 0.6, 0.8, 1.0], colors="w", linewidths=0.6)
    ax.clabel(cs, fontsize=7)
    fig.colorbar(mesh, ax=ax, label="$t_C$ (Marchenko-Pastur theory)")
    for (alpha, alpha_d, model, name), (v, _) in extrapolate(results).items():
        if model == "linear" and name == f"{estimator}/spectrum_corrected":
            ax.scatter([alpha_d], [alpha], c=[v], cmap="magma", vmin=0, vmax=vmax, edgecolors="c", s=70, zorder=3)
    ax.set_xlabel("latent ratio $\\alpha_D = D/N$")
    ax.set_ylabel("load $\\alpha = \\log P / N$")
    ax.set_title("Collapse time of the linear HMM (dots: simulation, $1/N\\to 0$)")

    ratios = np.linspace(0.02, 1.5, 100)
    ax2.plot(ratios, 1.0 / np.expm1(2 * ratios), "k-", lw=1.5, label="$\\alpha_D\\to 0$: $1/(e^{2r}-1)$")
    for ad, color in zip((0.1, 0.5, 1.0), _colors(3, "cool")):
        t_c = collapse_time_hmm_linear(ratios * ad, ad)
        ax2.plot(ratios, ad * np.expm1(2 * t_c), "-", color=color, lw=1, label=f"theory $\\alpha_D$={ad}")
    markers = {"linear": "o", "tanh": "s", "relu": "^", "sign": "v", "gaussian": "x"}
    for r in results:
        c = r.config
        if c.model == "gaussian":
            continue
        v, s = r.estimates[estimator]
        scale = c.alpha_d * np.expm1(2 * v)
        ax2.errorbar([c.alpha / c.alpha_d], [scale], yerr=[c.alpha_d * 2 * np.exp(2 * v) * s], fmt=markers.get(c.model, "o"),
                     ms=4, alpha=0.7, label=f"{c.model} N={c.dim} ($\\alpha_D$={c.alpha_d})")
    ax2.set_yscale("log")
    ax2.set_xlabel("latent load $r = \\alpha/\\alpha_D = \\log P / D$")
    ax2.set_ylabel("$\\alpha_D\\,(e^{2 t_C}-1)$")
    ax2.set_title("One curve in $\\log P / D$ (finite $\\alpha_D$ shifts it)")
    ax2.legend(fontsize=6, ncol=2)
    return save_figure(fig, path)


def _basin_axes(results, ax) -> None:
    cfg = results[0].config
    spec = asymptotic_spectrum(cfg.data, cfg.alpha_d, cfg.nonlinearity)
    t_c, t_o = results[0].theory["t_collapse"], results[0].theory["t_onset"]
    dense = np.linspace(0.6 * t_c, 1.05 * t_o, 200)
    ax.plot(dense, basin_radius(dense, cfg.alpha, spec), "k-", lw=1.2, label="theory $r_b(t)$ ($N\\to\\infty$)")
    for res, color in zip(results, _colors(len(results))):
        c = res.measurement
        ax.errorbar(c.times, c.basin_radius, yerr=c.basin_radius_stderr, fmt="o", ms=4, color=color,
                    label=f"N={res.n}: median dominance radius")
        bound = c.basin_radius_is_bound
        if np.any(bound):
            ax.plot(c.times[bound], np.full(int(bound.sum()), c.r_max), "^", ms=5, color=color, mfc="none",
                    label=f"N={res.n}: lower bound (bisection limit)")
        if np.any(np.isfinite(c.attraction_radius)):
            ax.plot(c.times, c.attraction_radius, "s--", ms=3, color=color, lw=0.8, label=f"N={res.n}: attraction radius")
    for t, name in ((t_c, "$t_C$"), (t_o, "$t_o$")):
        ax.axvline(t, color="gray", ls=":")
        ax.text(t, ax.get_ylim()[1] * 0.95 if ax.get_ylim()[1] > 0 else 1.0, name, ha="center", fontsize=8)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("basin radius r (units of $\\sqrt{N\\Delta_t}$)")
    ax.set_title("Basin of a training point: measured vs $r_b(t)$")
    ax.legend(fontsize=7)


def plot_basin_radius(results, path) -> Path:
    """Median dominance (and attraction) radius per N vs the theoretical ``r_b(t)`` (section 6);
    ``results``: traps results at one or several N."""
    fig, ax = subplots(figsize=(6, 4))
    _basin_axes(_as_list(results), ax)
    return save_figure(fig, path)


def _as_list(results) -> list:
    return list(results) if isinstance(results, (list, tuple)) else [results]


def plot_trap_fraction(results, path) -> Path:
    """Left: fraction of training points owning a trap (mean-shift from ``m_t a_mu`` stays on mu, solid)
    and the fraction dominated at ``m_t a_mu`` itself (dashed) vs t, per N, with ``t_C`` and ``t_o``.
    Right: basin radius vs ``r_b(t)``. ``results``: traps results at one or several N."""
    results = _as_list(results)
    cfg = results[0].config
    theory = results[0].theory
    fig, (ax, ax2) = subplots(1, 2, figsize=(11, 4))
    for res, color in zip(results, _colors(len(results))):
        c = res.measurement
        ax.plot(c.times, c.trap_fraction, "o-", ms=3, color=color, label=f"N={res.n} (P={res.p}) trap")
        ax.plot(c.times, c.start_dominated, "--", color=color, lw=0.9, label=f"N={res.n} dominated at $m_t a_\\mu$")
    ax.axvline(theory["t_onset"], color="k", ls=":", label=f"theory $t_o$ = {theory['t_onset']:.3f}")
    ax.axvline(theory["t_collapse"], color="gray", ls="-.", label=f"theory $t_C$ = {theory['t_collapse']:.3f}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("fraction of training points")
    ax.set_title(f"Traps of $-\\log p_t^e$: {cfg.data} data, $\\alpha$ = {cfg.alpha}")
    ax.legend(fontsize=7)
    if any(np.any(np.isfinite(r.measurement.basin_radius)) or np.any(r.measurement.basin_radius_is_bound) for r in results):
        _basin_axes(results, ax2)
    else:
        ax2.set_axis_off()
    return save_figure(fig, path)


def plot_rem_y2(results, path) -> Path:
    """Left: mean ``Y2`` (fresh queries, filled; queries noised from training points, hollow) vs t per N
    against ``1 - k_c(t)`` (section 5). Right: ``(1/N) log Z`` vs the REM free energy. ``results``: REM
    results at one or several N."""
    results = _as_list(results)
    cfg = results[0].config
    spec = asymptotic_spectrum(cfg.data, cfg.alpha_d, cfg.nonlinearity)
    t_c = results[0].theory["t_collapse"]
    dense = np.linspace(0.5 * min(cfg.times), 1.05 * max(cfg.times), 200)
    fig, (ax, ax2) = subplots(1, 2, figsize=(11, 4))
    ax.plot(dense, mean_y2(dense, cfg.alpha, spec), "k-", lw=1.3, label="theory $1 - k_c(t)$")
    ax2.plot(dense, free_energy(dense, cfg.alpha, spec), "k-", lw=1.3, label="theory (REM free energy)")
    for res, color in zip(results, _colors(len(results))):
        for kind, c in res.measurement.curves.items():
            filled = kind == "fresh"
            kw = dict(color=color, mfc=color if filled else "none", ms=4)
            ax.errorbar(c.times, c.mean_y2, yerr=c.y2_stderr, fmt="o-" if filled else "s--", lw=0.8,
                        label=f"N={res.n} {kind}", **kw)
            if filled:
                ax2.errorbar(c.times, c.mean_log_z, yerr=c.log_z_stderr, fmt="o", label=f"N={res.n} fresh", **kw)
    for a in (ax, ax2):
        a.axvline(t_c, color="gray", ls=":", label=f"$t_C$ = {t_c:.3f}")
        a.set_xlabel(TIME_LABEL)
    ax.set_ylabel("mean participation $Y_2 = \\sum_\\mu w_\\mu^2$")
    ax.set_title(f"REM condensation: {cfg.data} data, $\\alpha$ = {cfg.alpha}")
    ax2.set_ylabel("$(1/N)\\log\\sum_\\mu e^{-E_\\mu}$ (fresh queries)")
    ax2.set_title("Log-partition function per dimension")
    ax.legend(fontsize=7)
    ax2.legend(fontsize=7)
    return save_figure(fig, path)


def plot_generalization_time(results, path) -> Path:
    """Left: generalization error ``KL(p_0 || q_t) / D`` vs t (points) and its REM theory (lines) per
    (alpha_D, N). Right: ``t_g`` (measured at the largest N, theory as ``N -> inf``) and ``t_C`` vs alpha_D.
    ``results``: generalization results (one per point)."""
    results = _as_list(results)
    fig, (ax, ax2) = subplots(1, 2, figsize=(11, 4))
    colors = _colors(len(results), "plasma")
    for r, color in zip(results, colors):
        c = r.measurement
        ax.errorbar(c.times, r.kl, yerr=c.cross_entropy_stderr, fmt="o", ms=3, color=color,
                    label=f"$\\alpha_D$={r.alpha_d} N={r.n}")
        ax.plot(c.times, r.kl_theory, "-", color=color, lw=0.8)
        ax.axvline(c.t_g.value, color=color, ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("$KL(p_0\\,\\|\\,q_t)/D$ on the latent subspace")
    ax.set_title("Generalization error (points: Monte Carlo, lines: REM theory)")
    ax.legend(fontsize=6)
    asymptotic = {r.alpha_d: (r.t_g_asymptotic, r.t_collapse_asymptotic) for r in results}
    ads = sorted(asymptotic)
    ax2.plot(ads, [asymptotic[a][0] for a in ads], "b-", label="$t_g$ theory ($N\\to\\infty$)")
    ax2.plot(ads, [asymptotic[a][1] for a in ads], "r-", label="$t_C$ theory ($N\\to\\infty$)")
    largest = max(r.n for r in results)
    for r in results:
        if r.n == largest:
            ax2.errorbar([r.alpha_d], [r.measurement.t_g.value], yerr=[r.measurement.t_g.stderr], fmt="bo", ms=5)
            ax2.plot([r.alpha_d], [r.measurement.t_g_sw.value], "c^", ms=5)
    ax2.plot([], [], "bo", label=f"$t_g$ measured (N={largest})")
    ax2.plot([], [], "c^", label="$t_g^{sw}$ ($\\hat x_0$, sliced $W_2$)")
    ax2.set_xlabel("latent ratio $\\alpha_D$")
    ax2.set_ylabel("time")
    ax2.set_title(f"$t_g$ and $t_C$ vs $\\alpha_D$ at $\\alpha$ = {results[0].config.alpha}")
    ax2.legend(fontsize=7)
    return save_figure(fig, path)
