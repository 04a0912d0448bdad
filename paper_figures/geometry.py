"""Geometric picture of memorization (THEORY.md section 8): W and C vs sigma with the regimes shaded,
and the danger-zone log-width vs N (isotropic) and vs alpha_D (linear HMM).

Runs the small study points itself (a few minutes on a laptop CPU) instead of reading sweep tables:
    python paper_figures/geometry.py [--out figures/quick] [--gallery docs/gallery]
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from _common import parse_args, save  # noqa: E402
from diffsim.studies.geometry import GeometryConfig, run_geometry
from diffsim.theory.geometry import coverage_edge_isotropic, collapse_sigma
from diffsim.theory.spectrum import Spectrum


def draw_curves(ax, result, color):
    """W (solid) and C (dashed, theory dotted) vs sigma; the danger zone shaded."""
    m = result.measurement
    ax.errorbar(m.sigmas, m.w, m.w_stderr, color=color, label=f"W, N={result.config.dim}")
    ax.errorbar(m.sigmas, m.c, m.c_stderr, color=color, ls="--", label=f"C, N={result.config.dim}")
    ax.plot(m.sigmas, result.theory["c_curve"], color=color, ls=":")
    ax.axvspan(m.sigma_cov.value, m.sigma_w.value, color=color, alpha=0.08)
    return ax


def main():
    args = parse_args(__doc__)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    iso = [run_geometry(GeometryConfig(dim=n, n_queries=256, n_held_out=256)) for n in (20, 30, 40)]
    for r, color in zip(iso, ("C0", "C1", "C2")):
        draw_curves(axes[0], r, color)
    sc = float(collapse_sigma(0.2, Spectrum.isotropic(1.0)))
    axes[0].axvline(sc, color="k", lw=0.8)
    axes[0].set(xscale="log", xlabel="sigma", ylabel="W, C", title="isotropic, alpha = 0.2 (shaded: danger zone)")
    axes[0].legend(fontsize=7)

    dims = [r.config.dim for r in iso]
    axes[1].errorbar(dims, [r.measurement.log_width.value for r in iso], [r.measurement.log_width.stderr for r in iso], marker="o", label="measured log(sigma_w / sigma_cov)")
    big = np.array([20, 60, 200, 1000])
    edges = [coverage_edge_isotropic(round(math.exp(0.2 * n)), n) for n in big]
    axes[1].plot(big, np.log(sc / np.array(edges)), marker="s", label="exact log(sigma_C / sigma_cov)")
    axes[1].set(xscale="log", xlabel="N", ylabel="log-width", title="the zone narrows with N (isotropic)")
    axes[1].legend(fontsize=7)

    ads = (0.25, 0.5, 1.0)
    for n, marker in ((20, "o"), (32, "s")):
        hmm = [run_geometry(GeometryConfig(data="hmm", dim=n, alpha_d=ad, n_queries=256, n_held_out=256, n_theory=64)) for ad in ads]
        axes[2].errorbar(ads, [r.measurement.log_width.value for r in hmm], [r.measurement.log_width.stderr for r in hmm], marker=marker, label=f"N = {n}")
    axes[2].set(xscale="log", xlabel="alpha_D", ylabel="log-width", title="linear HMM: smaller alpha_D, wider zone")
    axes[2].legend(fontsize=7)
    save(fig, "geometry", args)


if __name__ == "__main__":
    main()
