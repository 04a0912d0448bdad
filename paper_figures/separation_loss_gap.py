"""Loss gap of the true score on the empirical DSM loss, scaled by Delta_t / N, vs t for several P.

Paper claim (Ye, Zhu, Tao, Chen, arXiv 2511.03202, Prop. 4.1 and Thm. 4.3; THEORY.md section 10):
the true score does not minimise the empirical DSM loss; the gap equals the Fisher divergence
E_{p_t^e}|s_e - s_true|^2 and is of order N / Delta_t at small t. [derived] here: while the
posterior is condensed (t well below the collapse time t_C(P)) gap * Delta_t / N = <rho/(1+rho)>
(1 - Delta_t for unit variance, D/N-weighted for the linear hidden manifold); it falls off around
t_C(P) (vertical dotted lines), the more so the larger P.

One panel per data model: markers = loss gap (paired draws), open markers = Fisher divergence
(independent draws), dashed = condensed closed form, dotted verticals = t_C(P). The top axis is the
paper's clock (2t).

Reads: results/separation_loss_gap/<scale>/table.csv. No simulation is run here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note, seed_mean

EXPERIMENTS = ("separation_loss_gap",)


def panel(ax, table, data: str) -> None:
    table = table.where(data=data)
    sizes = table.unique("P")
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, max(1, len(sizes))))
    for p, color in zip(sizes, colors):
        rows = table.where(P=p)
        n = rows.rows[0]["N"]
        t, gap, err = seed_mean(rows.where(quantity="loss_gap"))
        d = -np.expm1(-2.0 * t) / n
        ax.errorbar(t, gap * d, yerr=err * d, fmt="o", ms=3.5, color=color, capsize=2, label=f"P = {p}")
        t_f, fisher, _ = seed_mean(rows.where(quantity="fisher"))
        ax.plot(t_f, fisher * -np.expm1(-2.0 * t_f) / n, "o", mfc="none", ms=6, color=color, lw=0)
        t_c = rows.where(quantity="theory/t_collapse").column("value")
        if t_c.size:
            ax.axvline(float(np.mean(t_c)), color=color, ls=":", lw=1)
    cond = table.where(P=sizes[0], quantity="theory/loss_gap_condensed")
    t, c, _ = seed_mean(cond)
    n = cond.rows[0]["N"]
    ax.plot(t, c * -np.expm1(-2.0 * t) / n, "k--", lw=1, label="condensed: <rho/(1+rho)>")
    ax.set_xscale("log")
    ax.set_xlabel("t (our clock; paper: 2t)")
    ax.set_ylabel("loss gap x Delta_t / N")
    ax.set_title(f"{data}, N = {n}", fontsize=9)
    top = ax.secondary_xaxis("top", functions=(lambda x: 2 * x, lambda s: s / 2))
    top.set_xlabel("paper time 2t", fontsize=8)
    ax.legend(fontsize=7)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    models = results.table.unique("data")
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 4.2), squeeze=False)
    for ax, name in zip(axes[0], models):
        panel(ax, results.table, name)
    fig.suptitle("Loss gap of the true score (filled) = Fisher divergence (open); t_C(P) dotted\n"
                 + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "separation_loss_gap", args)


if __name__ == "__main__":
    main()
