"""How tau_mem scales with the training-set size, at several widths and memorization thresholds.

Paper claim (THEORY.md section 11, Bonnaire, Urfin, Biroli, Mézard): a network trained on P points
starts to memorize after a training time tau_mem proportional to P. Here the exponent b of
tau_mem ~ P^b is measured at three widths, and at three thresholds of the memorized fraction that
define tau_mem (read from the same memorization curves), to see whether b = 1 holds or how far it
is from it at this size (N = 8 mixture, P = 4..32, Adam at a fixed learning rate).

Left: tau_mem at threshold 0.5 vs P per width, with the fitted power law and a P^1 guide (a P
enters the fit only if every seed reached the threshold). Right: the fitted exponent vs the
threshold, per width.

Reads: results/denoiser_tau_mem_scaling/<scale>/table.csv. No simulation is run here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from _common import denoiser_result, load, parse_args, save, scale_note
from diffsim.plot_nets import draw_tau_mem_by_width, draw_tau_mem_exponents

EXPERIMENTS = ("denoiser_tau_mem_scaling",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    result = denoiser_result(results)
    cfg = result.config
    fig, (ax_tau, ax_b) = plt.subplots(1, 2, figsize=(11, 4.4))
    draw_tau_mem_by_width(ax_tau, result, threshold=0.5)
    ax_tau.set_title("$\\tau_{mem}$ vs P per width (threshold 0.5)", fontsize=9)
    draw_tau_mem_exponents(ax_b, result, thresholds=(0.25, 0.5, 0.75))
    ax_b.set_title("fitted exponent vs the threshold defining $\\tau_{mem}$", fontsize=9)
    fig.suptitle(f"Memorization time vs P: {cfg.data} data, N = {cfg.dim}, MLP depth {cfg.depth}, "
                 f"lr {cfg.learning_rate:g}, {cfg.steps} steps, {cfg.n_seeds} seeds\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "denoiser_tau_mem_scaling", args)


if __name__ == "__main__":
    main()
