"""Excess entropy f_e(t) of the empirical distribution: Monte Carlo vs Gaussian theory.

Paper claim (Biroli, Bonnaire, de Bortoli, Mezard; THEORY.md section 4): the excess entropy
f_e(t) = s_sep(t) - s(t) is positive in the generalization regime, decreases as the backward time t
decreases, and vanishes at the collapse time t_C; for Gaussian data with spectrum lambda_i,
f_e(t) = max(0, alpha - (1/2N) sum_i log(1 + m_t^2 lambda_i / Delta_t)). The Monte-Carlo estimate
(forward-noised training points, exact log p_t^e) follows the theory curve at each N.

Reads: results/collapse_gaussian/<scale>/table.csv (quantities excess_entropy and
excess_entropy_theory). No simulation is run here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

from _common import load, parse_args, save, scale_note, seed_mean
from diffsim.theory.collapse import collapse_time_isotropic

EXPERIMENTS = ("collapse_gaussian",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, "collapse_gaussian")
    table = results.table
    alphas = table.unique("alpha")
    dims = table.unique("N")
    sigma = float(results.params.get("sigma", 1.0))
    colors = plt.cm.viridis(np.linspace(0.05, 0.85, len(dims)))
    fig, axes = plt.subplots(1, len(alphas), figsize=(4.6 * len(alphas), 3.8), squeeze=False)
    for ax, alpha in zip(axes[0], alphas):
        for n, color in zip(dims, colors):
            sub = table.where(alpha=alpha, N=n)
            t, f, err = seed_mean(sub.where(quantity="excess_entropy"))
            t_th, f_th, _ = seed_mean(sub.where(quantity="theory/excess_entropy"))
            if t.size:
                p = sub.rows[0]["P"]
                ax.errorbar(t, f, yerr=err, fmt="o", ms=3, color=color, capsize=1.5, label=f"N={n}, P={p}: Monte Carlo")
                ax.plot(t_th, f_th, "-", color=color, lw=1.2, label=f"N={n}: theory")
        t_c = float(collapse_time_isotropic(alpha, sigma))
        ax.axvline(t_c, color="k", ls=":", lw=1, label=f"theory $t_C$ (N → ∞) = {t_c:.3f}")
        ax.axhline(0.0, color="0.6", lw=0.6)
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        ticks = [v for v in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0) if lo <= v <= hi]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("diffusion time t (OU time, dimensionless)")
        ax.set_ylabel("excess entropy $f_e(t)$ (nats per dimension)")
        ax.set_title(f"Gaussian data, α = {alpha}", fontsize=10)
        ax.legend(fontsize=6.5)
    fig.suptitle("Excess entropy: points = Monte Carlo, lines = Gaussian theory\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "excess_entropy", args)


if __name__ == "__main__":
    main()
