"""Collapse time vs dimension: four estimators, their 1/N extrapolation, and theory.

Paper claim (Biroli, Bonnaire, de Bortoli, Mezard, "Dynamical regimes of diffusion models";
THEORY.md section 4): the backward dynamics driven by the exact empirical score collapses onto the
training points at t_C = 0.5 log(1 + sigma^2 / (exp(2 alpha) - 1)) as N -> infinity at fixed
alpha = log(P)/N; finite N shifts every estimator (condensation, nearest-point freezing, clones,
excess-entropy zero crossing), roughly like 1/N, and the 1/N extrapolations approach the theory.
For the two-cluster mixture the same formula holds with the cluster variance.

Reads: results/collapse_gaussian/<scale>/table.csv, results/collapse_mixture/<scale>/table.csv.
Theory: closed forms from diffsim.theory (no simulation is run here).
"""

from __future__ import annotations

from _common import load, parse_args, save
from diffsim.plot.collapse import collapse_vs_n_figure

EXPERIMENTS = ("collapse_gaussian", "collapse_mixture")


def main() -> None:
    args = parse_args(__doc__)
    runs = [load(args, name) for name in EXPERIMENTS]
    fig = collapse_vs_n_figure({r.params.get("data.model", name): r.table for r, name in zip(runs, EXPERIMENTS)})
    save(fig, "collapse_vs_n", args)


if __name__ == "__main__":
    main()
