"""Learned score between the true and the empirical score: errors vs diffusion time during training.

Paper claim (THEORY.md sections 10-12; Bonnaire et al., section 11): early in training a denoiser
learns a smooth score close to the true score s_true at every diffusion time t; a network trained on
a small training set then drifts towards the empirical score s_e of its P points (the exact
minimiser of the DSM loss, which memorizes), first at small t, while on a large training set it
stays near s_true. The gap E|s_e - s_true|^2 between the two targets (black) is large at small t and
vanishes at large t, where both targets agree.

Rows: smallest and largest P of the mixture experiment. Columns: queries x = m_t a + sqrt(Delta_t) xi
noised from training points a (left) and from fresh data points (right). Curves:
Delta_t E|s_theta - s|^2 / N (noise units per dimension) against s = s_true (solid) and s = s_e
(dashed), mean over seeds, colored by training step.

Reads: results/denoiser_dynamics_mixture/<scale>/table.csv. No simulation is run here.
"""

from __future__ import annotations

from _common import denoiser_result, load, parse_args, save
from diffsim.plot.nets import score_errors_figure

EXPERIMENTS = ("denoiser_dynamics_mixture",)


def main() -> None:
    args = parse_args(__doc__)
    result = denoiser_result(load(args, EXPERIMENTS[0]))
    sizes = (min(result.config.n_train), max(result.config.n_train))
    save(score_errors_figure(result, n_train=sizes, n_curves=5), "denoiser_score_errors", args)


if __name__ == "__main__":
    main()
