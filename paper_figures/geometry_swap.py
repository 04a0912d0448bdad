"""Window swaps (THEORY.md section 8): memorized fraction per sigma window, exact scores and trained nets.

Paper claim ("Two Calm Ends and the Wild Middle", arXiv 2602.17846): swapping the denoiser only inside
the medium-noise window moves memorization (96.5% -> 0.4% in a CIFAR replication), while both ends are
calm. Here the exact scores and small trained nets are measured window by window, whichever way it comes out.

For each pair (memorizing model, generalizing model) one score is swapped in over one window only:
small ``[0, sigma_cov]``, the width-matched control just below the medium window, medium
``[sigma_cov, sigma_w]``, the control just above, large ``[sigma_w, inf)``. Red: the memorizing score
inside the window, the generalizing one outside (the all-generalizing baseline is the dashed red line);
blue: the reverse (the all-memorizing baseline is the dashed blue line). Bars: seed mean of the memorized
fraction (1/3 rule, against the memorizing model's training set); error bars: 95% (1.96 combined
bootstrap standard errors); dots: single seeds.

Panels: exact scores (empirical score of the training set vs true score), isotropic N = 20, P = 55
(geometry_swap); exact scores at the nets' point N = 8, P_few = 8; trained nets N = 8 (memorizing net on
the 8 points, generalizing net on 32 points that contain them) (geometry_net_swap).

Reads: results/geometry_swap/<scale>/table.csv and results/geometry_net_swap/<scale>/table.csv.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note

EXPERIMENTS = ("geometry_swap", "geometry_net_swap")
WINDOWS = ("small", "control_below", "medium", "control_above", "large")
LABELS = ("small\n[0, s_cov]", "control\nbelow", "medium\n[s_cov, s_w]", "control\nabove", "large\n[s_w, inf)")
# exact-score swap study naming -> (memorizing-in-window, generalizing-in-window, baselines)
EXACT_NAMES = {"mem_in_gen": "empirical_in_true", "gen_in_mem": "true_in_empirical",
               "all_gen": "all_true", "all_mem": "all_empirical"}


def _empty(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v == ""


def pooled(rows, direction: str, window: str | None):
    """Seed mean, combined stderr ``sqrt(sum se^2) / n`` and the per-seed values of the rows of one
    (direction, window)."""
    sel = [r for r in rows if r["direction"] == direction and (_empty(r["window"]) if window is None else r["window"] == window)]
    vals = np.array([r["value"] for r in sel], dtype=float)
    ses = np.array([0.0 if _empty(r.get("stderr")) else r["stderr"] for r in sel], dtype=float)
    if not len(sel):
        return math.nan, math.nan, vals
    return float(vals.mean()), float(math.sqrt(np.sum(ses**2)) / len(sel)), vals


def draw(ax, rows, names: dict, title: str):
    x = np.arange(len(WINDOWS))
    for direction, base, color, dx in (("mem_in_gen", "all_gen", "C3", -0.18), ("gen_in_mem", "all_mem", "C0", 0.18)):
        mean, err, _ = pooled(rows, names[base], None)
        ax.axhline(mean, color=color, ls="--", lw=1)
        ax.axhspan(mean - 1.96 * err, mean + 1.96 * err, color=color, alpha=0.1)
        stats = [pooled(rows, names[direction], w) for w in WINDOWS]
        label = "memorizing score in the window" if direction == "mem_in_gen" else "generalizing score in the window"
        ax.bar(x + dx, [s[0] for s in stats], width=0.34, color=color, alpha=0.6,
               yerr=[1.96 * s[1] for s in stats], capsize=3, label=label)
        for xi, s in zip(x, stats):
            ax.plot(np.full(len(s[2]), xi + dx), s[2], "k.", ms=3)
    ax.set_xticks(x, LABELS, fontsize=7)
    ax.set(ylim=(-0.02, 1.05), ylabel="memorized fraction (1/3 rule)", title=title)


def main():
    args = parse_args(__doc__)
    exact = load(args, "geometry_swap")
    nets = load(args, "geometry_net_swap")
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), sharey=True)
    n0 = sorted(exact.table.unique("N"))[0]
    ex_rows = exact.table.where(N=n0).rows
    p0 = ex_rows[0]["P"]
    draw(axes[0], ex_rows, EXACT_NAMES, f"exact scores, isotropic N = {n0}, P = {p0}")
    same = {k: k for k in ("mem_in_gen", "gen_in_mem", "all_gen", "all_mem")}
    net_rows = nets.table.rows
    r0 = net_rows[0]
    p_many = sorted({r["P_many"] for r in net_rows})[0]
    for ax, family, title in ((axes[1], "exact", f"exact scores, N = {r0['N']}, P = {r0['P_few']}"),
                              (axes[2], "nets", f"trained nets, N = {r0['N']}: P = {r0['P_few']} vs P = {p_many}")):
        draw(ax, [r for r in net_rows if r["family"] == family and r["P_many"] == p_many], same, title)
    axes[0].legend(fontsize=7, loc="center left")
    fig.text(0.01, -0.02, f"{scale_note(exact)}; {scale_note(nets)}. Dashed: unswapped baselines (red all-generalizing, "
             "blue all-memorizing) with 95% bands.", fontsize=7)
    save(fig, "geometry_swap", args)


if __name__ == "__main__":
    main()
