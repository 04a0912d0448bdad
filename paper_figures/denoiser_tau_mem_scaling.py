"""How tau_mem scales with the training-set size: widths, memorization thresholds, learning rates.

Paper claim (THEORY.md section 11, Bonnaire, Urfin, Biroli, Mézard): a network trained on P points
starts to memorize after a training time tau_mem proportional to P. Here the exponent b of
tau_mem ~ P^b is measured at three widths, and at three thresholds of the memorized fraction that
define tau_mem (read from the same memorization curves), and at three learning rates of Adam, to
see whether b = 1 holds or how far it is from it at this size (N = 8 mixture, P = 4..32).

Left: tau_mem at threshold 0.5 vs P per width (lr 3e-3), with the fitted power law and a P^1
guide (a P enters the fit only if every seed reached the threshold). Middle: the fitted exponent vs
the threshold, per width. Right: the fitted exponent vs the learning rate at width 128, per
threshold.

Reads: results/denoiser_tau_mem_scaling/<scale>/table.csv and
results/denoiser_tau_mem_lr/<scale>/table.csv. No simulation is run here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from _common import denoiser_result, load, parse_args, save, scale_note
from diffsim.plot.nets import draw_tau_mem_by_width, draw_tau_mem_exponent_vs_lr, draw_tau_mem_exponents

EXPERIMENTS = ("denoiser_tau_mem_scaling", "denoiser_tau_mem_lr")


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    result = denoiser_result(results)
    cfg = result.config
    lr_results = load(args, EXPERIMENTS[1])
    by_lr = [denoiser_result(lr_results, cell=c) for c in lr_results.table.unique("cell")]
    fig, (ax_tau, ax_b, ax_lr) = plt.subplots(1, 3, figsize=(16, 4.6))
    draw_tau_mem_by_width(ax_tau, result, threshold=0.5)
    ax_tau.set_title("$\\tau_{mem}$ vs P per width (threshold 0.5)", fontsize=9)
    draw_tau_mem_exponents(ax_b, result, thresholds=(0.25, 0.5, 0.75))
    ax_b.set_title("fitted exponent vs the threshold defining $\\tau_{mem}$", fontsize=9)
    draw_tau_mem_exponent_vs_lr(ax_lr, by_lr)
    ax_lr.set_title(f"fitted exponent vs the learning rate (width {by_lr[0].config.widths[0]}, "
                    f"{by_lr[0].config.steps} steps)", fontsize=9)
    fig.suptitle(f"Memorization time vs P: {cfg.data} data, N = {cfg.dim}, MLP depth {cfg.depth}, "
                 f"{cfg.n_seeds} seeds; left and middle: lr {cfg.learning_rate:g}, {cfg.steps} steps\n"
                 + scale_note(results) + "; " + scale_note(lr_results), fontsize=9)
    fig.tight_layout()
    save(fig, "denoiser_tau_mem_scaling", args)


if __name__ == "__main__":
    main()
