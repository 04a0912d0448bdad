"""Collapse time of the Hidden Manifold Model over (alpha, alpha_D): simulation vs Marchenko-Pastur theory.

Paper claim (THEORY.md sections 2 and 4, [derived]): for data on a D = alpha_D N dimensional linear
manifold, the empirical-score dynamics collapses onto the P = exp(alpha N) training points at the t_C
solving alpha = 0.5 <log(1 + rho(t_C))> over the Marchenko-Pastur spectrum of F F^T / D; lower
alpha_D (a thinner manifold) collapses earlier than isotropic data at the same alpha would. For a
nonlinear phi the Gaussian-equivalent spectrum (mu1^2 lambda_MP + mu_*^2) is an approximation.

Left: theory t_C(alpha, alpha_D) as a colour map, measured linear-HMM t_C (1/N-extrapolated, spectrum-
corrected) as dots on the same colour scale. Right: t_C vs alpha_D per (alpha, model): theory curves,
extrapolated estimates with their bootstrap errors, and the isotropic reference.

Reads: results/hmm_collapse/<scale>/table.csv (estimator ``own``, extrapolated in 1/N here). Theory: diffsim.theory (no simulation).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note
from diffsim.studies.hmm_collapse import extrapolated_rows
from diffsim.theory.collapse import collapse_time_hmm_linear
from diffsim.theory.hmm import hmm_collapse_theory

EXPERIMENTS = ("hmm_collapse",)
ESTIMATE = "own/spectrum_corrected/extrapolated"
MARKERS = {"linear": "o", "tanh": "s", "relu": "^", "sign": "v", "gaussian": "x"}


def _estimates(table, model: str) -> list[tuple[float, float, float, float]]:
    """``(alpha, alpha_d, mean t_C, stderr)`` over seeds for ``model``'s extrapolated estimate (the
    ``1/N`` extrapolation of each (alpha, alpha_D, model, seed) over the table's points)."""
    rows = [r for r in extrapolated_rows(table.where(model=model).rows) if r["estimator"] == ESTIMATE]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["alpha"], r["alpha_d"]), []).append(r)
    out = []
    for (alpha, alpha_d), rs in sorted(groups.items()):
        vals = np.array([r["t_collapse"] for r in rs], dtype=float)
        errs = np.array([np.nan if r["stderr"] is None else r["stderr"] for r in rs], dtype=float)
        out.append((alpha, alpha_d, float(np.mean(vals)), float(np.sqrt(np.sum(errs**2)) / len(rs))))
    return out


def phase_panel(ax, fig, table) -> None:
    alphas = np.array(table.unique("alpha"), dtype=float)
    a_grid = np.linspace(0.02, max(0.4, 1.2 * alphas.max()), 60)
    ad_grid = np.linspace(0.05, 1.0, 60)
    t_c = np.array([collapse_time_hmm_linear(a_grid, ad) for ad in ad_grid]).T  # [alpha, alpha_d]
    vmax = float(np.nanmax(t_c))
    mesh = ax.pcolormesh(ad_grid, a_grid, t_c, shading="auto", cmap="magma", vmin=0, vmax=vmax)
    cs = ax.contour(ad_grid, a_grid, t_c, levels=[0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0], colors="w", linewidths=0.6)
    ax.clabel(cs, fontsize=7, fmt="%.1f")
    fig.colorbar(mesh, ax=ax, label="collapse time $t_C$ (OU time)")
    points = _estimates(table, "linear")
    if points:
        a, ad, t, _ = map(np.array, zip(*points))
        ax.scatter(ad, a, c=t, cmap="magma", vmin=0, vmax=vmax, s=90, edgecolors="c", linewidths=1.5, zorder=3,
                   label="simulation (linear HMM, $1/N \\to 0$)")
        for x, y, v in zip(ad, a, t):
            ax.annotate(f"{v:.2f}", (x, y), textcoords="offset points", xytext=(6, 6), fontsize=7, color="c")
    ax.set_xlim(ad_grid[0], 1.1)
    ax.set_xlabel("latent ratio $\\alpha_D = D/N$ (dimensionless)")
    ax.set_ylabel("load $\\alpha = \\log P / N$ (dimensionless)")
    ax.set_title("Linear HMM: colour = Marchenko-Pastur theory, dots = simulation", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")


def curves_panel(ax, table) -> None:
    alphas = sorted(table.unique("alpha"))
    models = [m for m in MARKERS if m in table.unique("model")]
    colors = dict(zip(alphas, plt.cm.viridis(np.linspace(0.1, 0.8, len(alphas)))))
    ad_dense = np.linspace(0.1, 1.0, 40)
    for alpha in alphas:
        color = colors[alpha]
        ax.plot(ad_dense, [float(collapse_time_hmm_linear(alpha, ad)) for ad in ad_dense], "-", color=color, lw=1.3,
                label=f"MP theory, linear, α = {alpha}")
        iso = hmm_collapse_theory(alpha, 0.5)["t_collapse_isotropic"]
        ax.axhline(iso, color=color, ls=":", lw=1, label=f"isotropic N(0, I), α = {alpha}")
        for model in models:
            if model not in ("linear", "gaussian"):
                ge = [hmm_collapse_theory(alpha, ad, model)["t_collapse_gaussian_equivalent"] for ad in ad_dense]
                ax.plot(ad_dense, ge, "--", color=color, lw=0.9, label=f"Gaussian-equivalent theory, {model}, α = {alpha}")
            pts = [p for p in _estimates(table, model) if p[0] == alpha]
            if pts:
                _, ad, t, err = map(np.array, zip(*pts))
                ax.errorbar(ad, t, yerr=err, fmt=MARKERS[model], color=color, ms=6, capsize=2,
                            mfc="none" if model != "linear" else color, label=f"simulation, {model}, α = {alpha}")
    ax.set_xlabel("latent ratio $\\alpha_D = D/N$ (dimensionless)")
    ax.set_ylabel("collapse time $t_C$ (OU time)")
    ax.set_title("$t_C$ vs $\\alpha_D$: theory (lines) and $1/N$-extrapolated simulation (markers)", fontsize=9)
    ax.legend(fontsize=7)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    phase_panel(ax, fig, results.table)
    curves_panel(ax2, results.table)
    fig.suptitle("Collapse time of the Hidden Manifold Model\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "hmm_phase_diagram", args)


if __name__ == "__main__":
    main()
