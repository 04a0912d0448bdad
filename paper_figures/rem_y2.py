"""REM condensation of the posterior weights: mean Y2 vs t against 1 - k_c(t), and (1/N) log Z.

Paper claim (THEORY.md section 5, [derived]): for a fresh query at time t the energies
E_mu = |x - m_t a_mu|^2 / (2 Delta_t) over the P = exp(alpha N) training points form a random energy
model; below t_C the weights condense with Poisson-Dirichlet parameter k_c(t) (the root of s(k_c) = 0),
so E[Y2] = E sum_mu w_mu^2 = 1 - k_c(t), and E[Y2] = 0 above t_C; (1/N) log Z tends to the REM free
energy. For queries noised from a training point Y2 -> 1 below t_C and 0 above.

Left: mean Y2 per N (fresh queries filled, training-point queries hollow) vs the N -> infinity theory
1 - k_c(t) (black) and the same at each N's exact covariance spectrum (dotted). Right: (1/N) log Z of
fresh queries vs the REM free energy.

Reads: results/rem/<scale>/table.csv. Theory: diffsim.theory.mean_y2 / free_energy for the dense curves and
the table's theory_* columns (no simulation).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note
from diffsim.theory.hmm import asymptotic_spectrum
from diffsim.theory.rem import free_energy, mean_y2

EXPERIMENTS = ("rem",)
TIME_LABEL = "diffusion time t (OU time, dimensionless)"


def _curve(table, column: str, stderr: str | None = None):
    """``(t, seed mean, stderr)`` of ``column`` over the rows of ``table``."""
    groups: dict = {}
    for r in table.rows:
        groups.setdefault(r["t"], []).append(r)
    ts, means, errs = [], [], []
    for t in sorted(groups):
        rows = groups[t]
        vals = np.array([r[column] for r in rows], dtype=float)
        if stderr is not None:
            err = math.sqrt(sum(r[stderr] ** 2 for r in rows)) / len(rows)
        else:
            err = math.nan
        ts.append(t)
        means.append(float(np.mean(vals)))
        errs.append(err)
    return np.array(ts), np.array(means), np.array(errs)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    table = results.table
    params = results.params
    alpha = params.get("alpha", 0.1)
    spectrum = asymptotic_spectrum(params.get("data", "gaussian"), params.get("alpha_d", 0.5), params.get("nonlinearity", "linear"))
    times = np.array(table.unique("t"), dtype=float)
    dense = np.linspace(0.5 * times.min(), 1.05 * times.max(), 200)
    t_c = table.rows[0]["theory/t_collapse"]
    dims = sorted(table.unique("N"))
    colors = dict(zip(dims, plt.cm.viridis(np.linspace(0.1, 0.85, len(dims)))))

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5.6))
    ax.plot(dense, mean_y2(dense, alpha, spectrum), "k-", lw=1.4, label="theory $1 - k_c(t)$ ($N\\to\\infty$)")
    ax2.plot(dense, free_energy(dense, alpha, spectrum), "k-", lw=1.4, label="theory: REM free energy ($N\\to\\infty$)")
    for n in dims:
        color = colors[n]
        p = table.where(N=n).rows[0]["P"]
        for kind, fmt, mfc in (("fresh", "o-", color), ("train", "s--", "none")):
            rows = table.where(N=n, query=kind)
            if not len(rows):
                continue
            t, y2, err = _curve(rows, "mean_y2", "mean_y2_stderr")
            label = f"N = {n} (P = {p}), {'fresh' if kind == 'fresh' else 'noised training point'} queries"
            ax.errorbar(t, y2, yerr=err, fmt=fmt, color=color, mfc=mfc, ms=4, lw=0.9, capsize=2, label=label)
            if kind == "fresh":
                t, th, _ = _curve(rows, "theory/mean_y2_spectrum")
                ax.plot(t, th, ":", color=color, lw=1.1, label=f"N = {n}: $1 - k_c$, finite-N spectrum")
                t, lz, lz_err = _curve(rows, "log_z_per_dim", "log_z_per_dim_stderr")
                ax2.errorbar(t, lz, yerr=lz_err, fmt="o", color=color, ms=4, capsize=2, label=f"N = {n} (P = {p}), fresh")
                t, th, _ = _curve(rows, "theory/log_z_per_dim_spectrum")
                ax2.plot(t, th, ":", color=color, lw=1.1, label=f"N = {n}: finite-N spectrum theory")
    for a in (ax, ax2):
        a.axvline(t_c, color="gray", ls="-.", lw=1, label=f"theory $t_C$ = {t_c:.3f}")
        a.set_xlabel(TIME_LABEL)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("mean participation $Y_2 = \\sum_\\mu w_\\mu^2$ (dimensionless)")
    ax.set_title(f"REM condensation: {params.get('data', 'gaussian')} data, α = {alpha}, "
                 f"$\\alpha_D$ = {params.get('alpha_d')}", fontsize=9)
    ax2.set_ylabel("$(1/N)\\log\\sum_\\mu e^{-E_\\mu}$ (per dimension)")
    ax2.set_title("Log-partition function per dimension, fresh queries", fontsize=9)
    for a in (ax, ax2):
        a.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.suptitle("Posterior weights as a random energy model\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "rem_y2", args)


if __name__ == "__main__":
    main()
