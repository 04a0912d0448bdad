"""Generalization time t_g vs the latent ratio alpha_D, beside the collapse time t_C.

Paper claim (THEORY.md section 7, [open]; the operational definition is the generalization study's):
stopping the empirical-score dynamics at t gives the Gaussian KDE q_t of the training set with
bandwidth^2 = exp(2t) - 1; its KL divergence from the data law per latent dimension,
G(t) = KL(p_0 || q_t) / D, is minimal at t_g. The r = 0 REM prediction ([derived] in
diffsim.theory.generalization) puts t_g strictly below t_C: the best generalizing time is reached
before memorization sets in, and both grow as the manifold gets thinner (smaller alpha_D raises the
latent load log P / D = alpha / alpha_D).

Left: G(t) (Monte Carlo points, REM theory lines) per alpha_D at the largest N, t_g marked.
Right: t_g vs alpha_D measured at each N, with the REM theory for t_g and t_C (N -> infinity, lines;
finite-N spectrum, ticks) and the sliced-Wasserstein variant t_g^sw for comparison.

Reads: results/generalization/<scale>/table.csv. Theory: diffsim.theory.generalization (no simulation).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note
from diffsim.theory.collapse import collapse_time
from diffsim.theory.generalization import generalization_time, latent_spectrum
from diffsim.theory.spectrum import Spectrum

EXPERIMENTS = ("generalization",)
TIME_LABEL = "diffusion time t (OU time, dimensionless)"


def _theory(alpha: float, alpha_d: float, data: str) -> tuple[float, float]:
    """``(t_g, t_C)`` as ``N -> infinity`` on the latent subspace (load ``alpha / alpha_D``)."""
    lat = Spectrum.isotropic(1.0) if data == "gaussian" else latent_spectrum(Spectrum.marchenko_pastur(alpha_d))
    alpha_lat = alpha / alpha_d
    return generalization_time(alpha_lat, lat), float(collapse_time(alpha_lat, lat))


def _mean(rows, column: str, stderr: str | None = None) -> tuple[float, float]:
    vals = np.array([math.nan if r.get(column) is None else r[column] for r in rows], dtype=float)
    if stderr is None:
        return float(np.nanmean(vals)), math.nan
    errs = np.array([math.nan if r.get(stderr) is None else r[stderr] for r in rows], dtype=float)
    return float(np.nanmean(vals)), float(np.sqrt(np.nansum(errs**2)) / len(rows))


def curves_panel(ax, table, n: int) -> None:
    alpha_ds = sorted(table.unique("alpha_d"))
    colors = dict(zip(alpha_ds, plt.cm.plasma(np.linspace(0.05, 0.8, len(alpha_ds)))))
    for ad in alpha_ds:
        rows = table.where(N=n, alpha_d=ad, quantity="curve")
        groups: dict = {}
        for r in rows.rows:
            groups.setdefault(r["t"], []).append(r)
        t = np.array(sorted(groups))
        g = np.array([_mean(groups[x], "kl_per_dim", "kl_per_dim_stderr") for x in t])
        th = np.array([_mean(groups[x], "theory/kl_per_dim_spectrum")[0] for x in t])
        ax.errorbar(t, g[:, 0], yerr=g[:, 1], fmt="o", ms=3.5, capsize=2, color=colors[ad],
                    label=f"$\\alpha_D$ = {ad}: Monte Carlo")
        ax.plot(t, th, "-", color=colors[ad], lw=1, label=f"$\\alpha_D$ = {ad}: REM theory")
        t_g, _ = _mean(table.where(N=n, alpha_d=ad, quantity="t_g").rows, "t_g")
        ax.axvline(t_g, color=colors[ad], ls=":", lw=1)
    ax.plot([], [], "k:", lw=1, label="measured $t_g$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("$G(t) = KL(p_0\\,\\|\\,q_t)/D$ (nats per latent dimension)")
    ax.set_title(f"Generalization error at N = {n}", fontsize=9)
    ax.legend(fontsize=7)


def times_panel(ax, table, alpha: float, data: str) -> None:
    dims = sorted(table.unique("N"))
    colors = dict(zip(dims, plt.cm.viridis(np.linspace(0.1, 0.8, len(dims)))))
    dense = np.linspace(0.15, 1.0, 24)
    theory = np.array([_theory(alpha, ad, data) for ad in dense])
    ax.plot(dense, theory[:, 0], "b-", lw=1.4, label="$t_g$ theory (REM, $N\\to\\infty$)")
    ax.plot(dense, theory[:, 1], "r-", lw=1.4, label="$t_C$ theory ($N\\to\\infty$)")
    for k, n in enumerate(dims):
        summary = table.where(N=n, quantity="t_g")
        ads = sorted(summary.unique("alpha_d"))
        tg = np.array([_mean(summary.where(alpha_d=a).rows, "t_g", "t_g_stderr") for a in ads])
        ax.errorbar(ads, tg[:, 0], yerr=tg[:, 1], fmt="o", color=colors[n], ms=5, capsize=2, label=f"$t_g$ measured, N = {n}")
        tg_fin = [_mean(summary.where(alpha_d=a).rows, "theory/t_g_spectrum")[0] for a in ads]
        tc_fin = [_mean(summary.where(alpha_d=a).rows, "theory/t_collapse_spectrum")[0] for a in ads]
        ax.plot(ads, tg_fin, "_", color="b", ms=12, mew=1.5, label="theory at finite N ($t_g$ blue, $t_C$ red)" if k == 0 else None)
        ax.plot(ads, tc_fin, "_", color="r", ms=12, mew=1.5)
        sw = [_mean(summary.where(alpha_d=a).rows, "t_g/sw")[0] for a in ads]
        if np.any(np.isfinite(sw)):
            ax.plot(ads, sw, "^", color=colors[n], mfc="none", ms=5, label=f"$t_g^{{sw}}$ (sliced $W_2$), N = {n}")
    ax.set_xlabel("latent ratio $\\alpha_D = D/N$ (dimensionless)")
    ax.set_ylabel("time t (OU time)")
    ax.set_title(f"$t_g$ below $t_C$ at load α = {alpha}", fontsize=9)
    ax.legend(fontsize=7)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    table = results.table
    alpha = float(table.unique("alpha")[0])
    data = results.params.get("data", "hmm")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    curves_panel(ax, table, max(table.unique("N")))
    times_panel(ax2, table, alpha, data)
    fig.suptitle(f"Generalization vs memorization on the Hidden Manifold Model ({data} data)\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "generalization_time", args)


if __name__ == "__main__":
    main()
