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

from _common import load, parse_args, save
from diffsim.plot.hmm import hmm_phase_diagram_figure

EXPERIMENTS = ("hmm_collapse",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    save(hmm_phase_diagram_figure(results.table, estimator="own"), "hmm_phase_diagram", args)


if __name__ == "__main__":
    main()
