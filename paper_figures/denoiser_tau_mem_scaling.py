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

from _common import denoiser_result, load, parse_args, save
from diffsim.plot.nets import tau_mem_scaling_figure

EXPERIMENTS = ("denoiser_tau_mem_scaling", "denoiser_tau_mem_lr")


def main() -> None:
    args = parse_args(__doc__)
    result = denoiser_result(load(args, EXPERIMENTS[0]))
    lr_results = load(args, EXPERIMENTS[1])
    by_lr = [denoiser_result(lr_results, cell=c) for c in lr_results.table.unique("cell")]
    fig = tau_mem_scaling_figure(result, by_lr, threshold=0.5, thresholds=(0.25, 0.5, 0.75))
    save(fig, "denoiser_tau_mem_scaling", args)


if __name__ == "__main__":
    main()
