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

import matplotlib.pyplot as plt

from _common import denoiser_result, load, parse_args, save, scale_note
from diffsim.plot.nets import draw_memorization_vs_n_train, draw_memorization_vs_width

EXPERIMENTS = ("denoiser_capacity",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    result = denoiser_result(results)
    cfg = result.config
    fig, (ax_w, ax_p) = plt.subplots(1, 2, figsize=(11, 4.4))
    draw_memorization_vs_width(ax_w, result)
    ax_w.set_title("Memorization grows with the width at fixed P", fontsize=9)
    draw_memorization_vs_n_train(ax_p, result)
    ax_p.set_title("and falls with P at fixed width", fontsize=9)
    fig.suptitle(f"Memorization vs capacity: {cfg.data} data, N = {cfg.dim}, MLP depth {cfg.depth}, "
                 f"{cfg.steps} training steps, {cfg.n_seeds} seeds\n" + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "denoiser_capacity", args)


if __name__ == "__main__":
    main()
