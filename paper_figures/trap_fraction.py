"""Traps of the empirical landscape: fraction of training points owning a trap vs t, and basin radius vs r_b(t).

Paper claim (THEORY.md section 6, [derived]): at load alpha every training point is a local maximum
(a trap) of p_t^e for t < t_o, the root of <log(1 + rho)> + <rho / (1 + rho)> = 2 alpha, with
t_C < t_o; the basin of a training point has radius r_b(t) (units of sqrt(N Delta_t)), solving
-r_b^2 / 2 = F(t, alpha, r_b), which vanishes at t_o. At finite N the trap fraction falls from 1 to 0
across t_o, more sharply as N grows.

Left: trap fraction (mean-shift from m_t a_mu stays on mu, solid) and the fraction dominated at
m_t a_mu itself (dashed) per N, with t_o and t_C (N -> infinity, lines; finite-N spectrum, ticks).
Right: median dominance radius per N vs r_b(t).

Reads: results/traps/<scale>/table.csv. Theory: the table's t_onset / t_collapse / theory_basin_radius
columns and diffsim.theory.basin_radius for the dense curve (no simulation).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note
from diffsim.theory.hmm import asymptotic_spectrum
from diffsim.theory.traps import basin_radius

EXPERIMENTS = ("traps",)
TIME_LABEL = "diffusion time t (OU time, dimensionless)"


def _curve(table, n: int, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, seed mean, seed stderr)`` of ``column`` at dimension ``n`` (stderr from the
    ``<column>_stderr`` column when the table has it, else the spread over seeds)."""
    rows = table.where(N=n)
    groups: dict = {}
    for r in rows.rows:
        groups.setdefault(r["t"], []).append(r)
    ts, means, errs = [], [], []
    for t in sorted(groups):
        vals = np.array([math.nan if r.get(column) is None else r[column] for r in groups[t]], dtype=float)
        ses = np.array([math.nan if r.get(f"{column}_stderr") is None else r[f"{column}_stderr"] for r in groups[t]])
        k = len(vals)
        if np.all(np.isfinite(ses)):
            err = float(np.sqrt(np.sum(ses**2)) / k)
        else:
            err = float(np.std(vals, ddof=1) / math.sqrt(k)) if k > 1 else math.nan
        ts.append(t)
        means.append(float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else math.nan)
        errs.append(err)
    return np.array(ts, dtype=float), np.array(means), np.array(errs)


def _mark_times(ax, table, colors) -> None:
    first = table.rows[0]
    ax.axvline(first["theory/t_onset"], color="k", ls="-", lw=1.2, label=f"theory $t_o$ = {first['theory/t_onset']:.3f} ($N\\to\\infty$)")
    ax.axvline(first["theory/t_collapse"], color="gray", ls="-.", lw=1.0, label=f"theory $t_C$ = {first['theory/t_collapse']:.3f}")
    for n, color in colors.items():
        t_o = table.where(N=n).rows[0]["theory/t_onset_spectrum"]
        ax.axvline(t_o, color=color, ls=":", lw=0.9)
    ax.plot([], [], "k:", lw=0.9, label="$t_o$ of each draw's finite-N spectrum")


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    table = results.table
    params = results.params
    dims = sorted(table.unique("N"))
    colors = dict(zip(dims, plt.cm.viridis(np.linspace(0.1, 0.85, len(dims)))))
    has_basin = np.any(np.isfinite(table.column("basin_radius")))
    fig, axes = plt.subplots(1, 2 if has_basin else 1, figsize=(11.5 if has_basin else 6, 4.4), squeeze=False)
    ax = axes[0, 0]
    for n in dims:
        p = table.where(N=n).rows[0]["P"]
        t, frac, _ = _curve(table, n, "trap_fraction")
        ax.plot(t, frac, "o-", ms=4, color=colors[n], label=f"N = {n} (P = {p}): owns a trap")
        t, dom, _ = _curve(table, n, "start_dominated")
        ax.plot(t, dom, "--", color=colors[n], lw=0.9, label=f"N = {n}: dominated at $m_t a_\\mu$")
    _mark_times(ax, table, colors)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("fraction of probed training points")
    ax.set_title(f"Trap fraction: {params.get('data', 'hmm')} data, α = {params.get('alpha')}, "
                 f"$\\alpha_D$ = {params.get('alpha_d')}", fontsize=9)
    ax.legend(fontsize=7)
    if has_basin:
        ax2 = axes[0, 1]
        first = table.rows[0]
        spectrum = asymptotic_spectrum(params.get("data", "hmm"), params.get("alpha_d", 0.5), params.get("nonlinearity", "linear"))
        times = np.array(table.unique("t"), dtype=float)
        dense = np.linspace(min(times.min(), 0.6 * first["theory/t_collapse"]), first["theory/t_onset"], 200)
        ax2.plot(dense, basin_radius(dense, params.get("alpha"), spectrum), "k-", lw=1.3,
                 label="theory $r_b(t)$ ($N\\to\\infty$)")
        for n in dims:
            t, r, err = _curve(table, n, "basin_radius")
            ax2.errorbar(t, r, yerr=err, fmt="o", ms=4, capsize=2, color=colors[n], label=f"N = {n}: median dominance radius")
            t, rb, _ = _curve(table, n, "theory/basin_radius_spectrum")
            ax2.plot(t, rb, ":", color=colors[n], lw=1, label=f"N = {n}: $r_b(t)$, finite-N spectrum")
            t, ra, _ = _curve(table, n, "attraction_radius")
            if np.any(np.isfinite(ra)):
                ax2.plot(t, ra, "s--", ms=3, color=colors[n], lw=0.8, label=f"N = {n}: attraction radius")
        ax2.axvline(first["theory/t_onset"], color="k", ls="-", lw=0.8)
        ax2.axvline(first["theory/t_collapse"], color="gray", ls="-.", lw=0.8)
        ax2.set_xlabel(TIME_LABEL)
        ax2.set_ylabel("basin radius r (units of $\\sqrt{N\\Delta_t}$)")
        ax2.set_title("Basin of a training point vs $r_b(t)$ (vanishes at $t_o$)", fontsize=9)
        ax2.legend(fontsize=7)
    fig.suptitle("Traps of $-\\log p_t^e$ on the Hidden Manifold Model\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "trap_fraction", args)


if __name__ == "__main__":
    main()
