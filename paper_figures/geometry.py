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

from _common import load, parse_args, save
from diffsim.plot.geometry import geometry_figure

EXPERIMENTS = ("geometry_gaussian", "geometry_hmm")


def main():
    args = parse_args(__doc__)
    iso = load(args, "geometry_gaussian")
    hmm = load(args, "geometry_hmm")
    cfg = iso.cell_config(0)
    fig = geometry_figure(iso.table, hmm.table, alpha=cfg["data"]["alpha"], tolerance=cfg["linearity"]["tolerance"])
    save(fig, "geometry", args)


if __name__ == "__main__":
    main()
