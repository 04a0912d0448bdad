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

import matplotlib.pyplot as plt

from _common import denoiser_result, load, parse_args, save, scale_note
from diffsim.plot.nets import draw_score_errors

EXPERIMENTS = ("denoiser_dynamics_mixture",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    result = denoiser_result(results)
    cfg = result.config
    width = cfg.widths[0]
    sizes = (min(cfg.n_train), max(cfg.n_train))
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.4), sharex=True, sharey="row")
    for row, p in zip(axes, sizes):
        for ax, law in zip(row, ("train", "test")):
            draw_score_errors(ax, result, p, width, law=law, n_curves=5)
            where = "training points" if law == "train" else "fresh data points"
            ax.set_title(f"P = {p}: queries noised from {where}", fontsize=9)
        row[1].set_ylabel("")
    for ax in axes[0]:
        ax.set_xlabel("")
    axes[0, 1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"Score errors of DSM denoisers during training: {cfg.data} data, N = {cfg.dim}, width {width}, "
                 f"{cfg.n_seeds} seeds\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "denoiser_score_errors", args)


if __name__ == "__main__":
    main()
