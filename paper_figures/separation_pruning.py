"""Pruning mitigation: memorized fraction and quality after importance, random and no head pruning.

Paper claim (Ye, Zhu, Tao, Chen, arXiv 2511.03202; THEORY.md section 10): removing the 20% least
important attention heads of a trained diffusion transformer and fine-tuning lowers memorization and
keeps quality better than random pruning. Measured: a 2 x 5-head transformer denoiser on a two-cluster
mixture (N = 8), importance |dL/dm * m| at small t ~ Beta(0.8, 2), 20% removed, every arm fine-tuned
the same number of steps; seed means with standard errors per stage (pruned, fine-tuned) and arm.

Panels: memorized fraction (1/3 rule), score error to the true score, sliced W2 to fresh samples.

Reads: results/separation_pruning/<scale>/table.csv. No simulation is run here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note

EXPERIMENTS = ("separation_pruning",)
QUANTITIES = (("memorized", "memorized fraction"), ("score_error", "score error to s_true"),
              ("sliced_wasserstein", "sliced W2 to fresh samples"))
ARMS = (("none", "tab:gray"), ("importance", "tab:blue"), ("random", "tab:orange"))
STAGES = ("pruned", "finetuned")


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    table = results.table
    sizes = sorted(table.unique("P"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    width = 0.8 / len(ARMS)
    for ax, (q, label) in zip(axes, QUANTITIES):
        labels = []
        for g, (p, stage) in enumerate((p, s) for p in sizes for s in STAGES):
            labels.append(f"P={p}\n{stage}")
            for j, (arm, color) in enumerate(ARMS):
                rows = list(table.where(P=p, stage=stage, arm=arm, quantity=q).rows)
                vals = np.array([r["value"] for r in rows], dtype=float)
                if vals.size == 0:
                    continue
                ses = np.array([np.nan if r.get("stderr") is None else r["stderr"] for r in rows], dtype=float)
                err = float(np.sqrt(np.nansum(ses**2)) / vals.size)
                ax.bar(g + (j - 1) * width, vals.mean(), width, yerr=err, color=color, capsize=3,
                       label=arm if g == 0 else None)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel(label)
    axes[0].legend(title="pruning", fontsize=8)
    fig.suptitle("Head pruning (20% of heads) then equal fine-tuning: importance vs random vs none\n"
                 + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "separation_pruning", args)


if __name__ == "__main__":
    main()
