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

from _common import load, parse_args, save
from diffsim.plot.speciation import speciation_figure

EXPERIMENTS = ("speciation",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    labels = {c["cell"]: ", ".join(f"{k}={v}" for k, v in c["axes"].items()) for c in results.metadata["config"]["cells"]}
    save(speciation_figure(results.table, labels=labels), "speciation_phi", args)


if __name__ == "__main__":
    main()
