"""Geometric picture of memorization (THEORY.md section 8): W and C vs sigma with the regimes shaded,
the danger-zone log-width vs N (isotropic) and vs alpha_D (linear HMM), and large-noise linearity.

Paper claim ("Two Calm Ends and the Wild Middle", arXiv 2602.17846): memorization is induced in a
medium-noise "danger zone" where the posterior is still concentrated (W high) and the Gaussian shells
of the training points already cover held-out data (C high); at large sigma the empirical denoiser is
close to the linear Wiener denoiser. THEORY.md section 8 [derived]: both edges tend to the collapse
point sigma_C, so the zone is a finite-size window that narrows with N and is wider for structured data.

Panels: (1) W (solid) and C (dashed; exact expected coverage dotted) vs sigma per N, danger zone
[sigma_cov, sigma_w] shaded, sigma_C the vertical line; (2) log-width vs N, measured, with the exact
log(sigma_C / sigma_cov) up to N = 1000 (diffsim.theory.geometry, no simulation); (3) log-width vs alpha_D
per N (linear HMM); (4) relative rms distance of the empirical denoiser to the Wiener denoiser of the
training moments (solid) and to the exact denoiser (dashed) vs sigma per N, the tolerance (dotted) and
sigma_w (ticks).

Reads: results/geometry_gaussian/<scale>/table.csv and results/geometry_hmm/<scale>/table.csv
(``diffsim run experiments/geometry_gaussian.toml --scale quick``, same for geometry_hmm).
Seeds are averaged (combined bootstrap errors).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note, seed_mean  # noqa: F401
from diffsim.theory.geometry import collapse_sigma, coverage_edge_isotropic
from diffsim.theory.spectrum import Spectrum

EXPERIMENTS = ("geometry_gaussian", "geometry_hmm")
COLORS = ("C0", "C1", "C2", "C3", "C4", "C5")


def boundary(table, quantity: str):
    """Seed mean and stderr of one boundary row (``sigma`` empty), and its theory value."""
    rows = table.where(quantity=quantity).rows
    vals = np.array([r["value"] for r in rows], dtype=float)
    ses = np.array([r["stderr"] for r in rows], dtype=float)
    theory = rows[0].get("theory")
    return (float(vals.mean()), float(math.sqrt(np.sum(ses**2)) / len(rows)),
            None if theory is None or (isinstance(theory, float) and math.isnan(theory)) else float(theory))


def curve(table, quantity: str):
    return seed_mean(table.where(quantity=quantity), by="sigma")


def main():
    args = parse_args(__doc__)
    iso = load(args, "geometry_gaussian")
    hmm = load(args, "geometry_hmm")
    fig, axes = plt.subplots(1, 4, figsize=(20, 4))
    dims = sorted(iso.table.unique("N"))
    widths = []
    for n, color in zip(dims, COLORS):
        t = iso.table.where(N=n)
        for q, ls in (("W", "-"), ("C", "--")):
            s, v, e = curve(t, q)
            axes[0].errorbar(s, v, e, color=color, ls=ls, label=f"{q}, N={n}")
        theory = sorted((r["sigma"], r["theory"]) for r in t.where(quantity="C").rows if r["seed"] == t.rows[0]["seed"])
        axes[0].plot([a for a, _ in theory], [b for _, b in theory], color=color, ls=":")
        lo, hi = boundary(t, "sigma_cov")[0], boundary(t, "sigma_w")[0]
        axes[0].axvspan(lo, hi, color=color, alpha=0.08)
        widths.append(boundary(t, "log_width")[:2])
        s, v, e = curve(t, "emp_lin")
        axes[3].errorbar(s, v, e, color=color, label=f"empirical vs Wiener, N={n}")
        s, v, e = curve(t, "emp_exact")
        axes[3].plot(s, v, color=color, ls="--")
        axes[3].plot([hi], [0.02], marker="|", ms=14, color=color)
    sc = float(collapse_sigma(0.2, Spectrum.isotropic(1.0)))
    axes[0].axvline(sc, color="k", lw=0.8)
    axes[0].set(xscale="log", xlabel="sigma", ylabel="W, C", title="isotropic, alpha = 0.2 (shaded: danger zone)")
    axes[0].legend(fontsize=6)

    axes[1].errorbar(dims, [w[0] for w in widths], [w[1] for w in widths], marker="o", label="measured log(sigma_w / sigma_cov)")
    big = np.array([16, 20, 60, 200, 1000])
    edges = [coverage_edge_isotropic(round(math.exp(0.2 * n)), n) for n in big]
    axes[1].plot(big, np.log(sc / np.array(edges)), marker="s", label="exact log(sigma_C / sigma_cov)")
    axes[1].set(xscale="log", xlabel="N", ylabel="log-width", title="the zone narrows with N (isotropic)")
    axes[1].legend(fontsize=7)

    for n, marker in zip(sorted(hmm.table.unique("N")), ("o", "s", "^", "D")):
        ads = sorted(hmm.table.where(N=n).unique("alpha_d"))
        vals = [boundary(hmm.table.where(N=n, alpha_d=ad), "log_width")[:2] for ad in ads]
        axes[2].errorbar(ads, [v[0] for v in vals], [v[1] for v in vals], marker=marker, label=f"N = {n}")
    axes[2].set(xscale="log", xlabel="alpha_D", ylabel="log-width", title="linear HMM: log-width vs alpha_D")
    axes[2].legend(fontsize=7)

    tol = iso.cell_config(0)["linearity_tolerance"]
    axes[3].axhline(tol, color="k", ls=":", lw=0.8)
    axes[3].set(xscale="log", yscale="log", xlabel="sigma", ylabel="relative rms distance",
                title="linearity: emp vs Wiener (solid), vs exact (dashed)")
    axes[3].legend(fontsize=6)
    fig.text(0.01, -0.03, f"{scale_note(iso)}; {scale_note(hmm)}", fontsize=7)
    save(fig, "geometry", args)


if __name__ == "__main__":
    main()
