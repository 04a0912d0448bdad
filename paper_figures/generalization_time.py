"""Generalization time t_g vs the latent ratio alpha_D, beside the collapse time t_C.

Paper claim (THEORY.md section 7, [open]; the operational definition is the generalization study's):
stopping the empirical-score dynamics at t gives the Gaussian KDE q_t of the training set with
bandwidth^2 = exp(2t) - 1; its KL divergence from the data law per latent dimension,
G(t) = KL(p_0 || q_t) / D, is minimal at t_g. The r = 0 REM prediction ([derived] in
diffsim.theory.generalization) puts t_g strictly below t_C: the best generalizing time is reached
before memorization sets in, and both grow as the manifold gets thinner (smaller alpha_D raises the
latent load log P / D = alpha / alpha_D).

Left: G(t) (Monte Carlo points, REM theory lines) per alpha_D at the largest N, t_g marked.
Right: t_g vs alpha_D measured at each N, with the REM theory for t_g and t_C (N -> infinity, lines;
finite-N spectrum, ticks) and the sliced-Wasserstein variant t_g^sw for comparison.

Reads: results/generalization/<scale>/table.csv. Theory: diffsim.theory.generalization (no simulation).
"""

from __future__ import annotations

from _common import load, parse_args, save
from diffsim.plot.hmm import generalization_time_figure

EXPERIMENTS = ("generalization",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    save(generalization_time_figure(results.table, data=results.params.get("data.model", "hmm")), "generalization_time", args)


if __name__ == "__main__":
    main()
