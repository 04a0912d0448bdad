"""Memorization vs network capacity and training-set size after a fixed training budget.

Paper claim (THEORY.md sections 10-11; memorization criterion of section 12): implementing the
empirical score of P points takes a network whose size grows with P, while the true score does not
(Ye, Zhu, Tao, Chen), and memorization sets in after a training time growing with P (Bonnaire et
al.). So after a fixed number of training steps the memorized fraction of generated samples rises
with the width at fixed P and falls with P at fixed width.

Left: memorized fraction vs width, one line per P. Right: the same vs P, one line per width. Mean ±
stderr over the seeds of the vmapped ensemble.

Reads: results/denoiser_capacity/<scale>/table.csv. No simulation is run here.
"""

from __future__ import annotations

from _common import denoiser_result, load, parse_args, save
from diffsim.plot.nets import memorization_vs_capacity_figure

EXPERIMENTS = ("denoiser_capacity",)


def main() -> None:
    args = parse_args(__doc__)
    result = denoiser_result(load(args, EXPERIMENTS[0]))
    save(memorization_vs_capacity_figure(result), "denoiser_capacity", args)


if __name__ == "__main__":
    main()
