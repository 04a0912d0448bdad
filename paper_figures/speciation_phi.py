"""Speciation in the two-cluster mixture: clone agreement phi(t) and t_S vs theory.

Paper claim (Biroli, Bonnaire, de Bortoli, Mezard; THEORY.md section 3): the backward dynamics
commits to a class at the speciation time t_S = 0.5 log Lambda (Lambda the largest eigenvalue of the
data covariance, N mtilde^2 + sigma^2 here). Clones branched at t end in the same class with
probability phi(t) = 0.5 int (G_+^2 + G_-^2) / (G_+ + G_-) dq, which rises from 1/2 (t >> t_S) to 1
(t << t_S); the measured t_S (where phi crosses its theoretical value at t_S) follows 0.5 log Lambda.

Reads: results/speciation/<scale>/table.csv (quantities phi, phi_theory, t_speciation,
t_speciation_theory). No simulation is run here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note, seed_mean

EXPERIMENTS = ("speciation",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, "speciation")
    table = results.table
    cells = sorted({r["cell"] for r in table.rows})
    axes_of = {c["cell"]: c["axes"] for c in results.metadata["config"]["cells"]}
    colors = plt.cm.plasma(np.linspace(0.05, 0.8, len(cells)))
    fig, (ax_phi, ax_ts) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    dims, measured, errors, theory = [], [], [], []
    for cell, color in zip(cells, colors):
        sub = table.where(cell=cell)
        label = ", ".join(f"{k}={v}" for k, v in axes_of[cell].items()) or f"N={sub.rows[0]['N']}"
        t, phi, err = seed_mean(sub.where(quantity="phi"))
        t_th, phi_th, _ = seed_mean(sub.where(quantity="theory/phi"))
        ax_phi.errorbar(t, phi, yerr=err, fmt="o", ms=3, capsize=1.5, color=color, label=f"{label}: clones")
        ax_phi.plot(t_th, phi_th, "-", color=color, lw=1.2, label=f"{label}: theory")
        _, ts_th, _ = seed_mean(sub.where(quantity="theory/t_speciation"), by="N")
        _, ts, ts_err = seed_mean(sub.where(quantity="t_speciation"), by="N")
        ax_phi.axvline(ts_th[0], color=color, ls=":", lw=1)
        dims.append(sub.rows[0]["N"])
        measured.append(ts[0])
        errors.append(ts_err[0])
        theory.append(ts_th[0])
    ax_phi.axhline(0.5, color="0.6", lw=0.6)
    ax_phi.set_xlabel("branch time t (OU time, dimensionless); dotted: $t_S = \\frac{1}{2}\\log\\Lambda$")
    ax_phi.set_ylabel("$\\phi(t)$: fraction of clone pairs in the same class")
    ax_phi.set_ylim(0.4, 1.03)
    ax_phi.legend(fontsize=6.5)
    order = np.argsort(dims)
    d = np.array(dims, dtype=float)[order]
    ax_ts.errorbar(d, np.array(measured)[order], yerr=np.array(errors)[order], fmt="o", color="tab:purple",
                   capsize=2, label="measured (clone protocol)")
    ax_ts.plot(d, np.array(theory)[order], "k-", lw=1.2, label="theory $\\frac{1}{2}\\log(N\\tilde m^2 + \\sigma^2)$")
    ax_ts.set_xscale("log")
    ax_ts.set_xlabel("dimension N")
    ax_ts.set_ylabel("speciation time $t_S$ (OU time, dimensionless)")
    ax_ts.legend(fontsize=7)
    fig.suptitle("Speciation of the two-cluster mixture\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "speciation_phi", args)


if __name__ == "__main__":
    main()
