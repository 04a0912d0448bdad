"""Network width needed to memorize / fit the empirical score / fit the true score, vs P.

Paper claim (Ye, Zhu, Tao, Chen, arXiv 2511.03202, Thm. 5.1; THEORY.md section 10): implementing the
empirical score of P points takes a network whose size grows with P (O~(P) for ReLU nets), while
the true score needs a size independent of P. Measured: for each P the smallest width of a residual
MLP (fixed budget of direct regression onto the exact target) whose score error is within the
tolerance, for the target s_e and for the target s_true, and the smallest width whose samples
memorize (1/3 rule) at the threshold; log-log fits width ~ P^b with 95% intervals (printed).

Left: smallest widths vs P with the fits. Right: memorized fraction vs width, one line per P.

Reads: results/separation_size/<scale>/table.csv. No simulation is run here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note, seed_mean
from diffsim.studies.separation_size import WIDTH_CRITERIA, width_scaling_from_rows

EXPERIMENTS = ("separation_size",)
STYLE = {"width_memorize": ("o", "tab:red", "memorizes"), "width_fit_empirical": ("s", "tab:blue", "fits s_e"),
         "width_fit_true": ("^", "tab:green", "fits s_true")}


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    table = results.table
    fits = width_scaling_from_rows(list(table.rows))
    fig, (ax_w, ax_m) = plt.subplots(1, 2, figsize=(11, 4.4))
    for name in WIDTH_CRITERIA:
        marker, color, label = STYLE[name]
        fit = fits[name]
        p, w = np.array(fit["P"], dtype=float), np.array(fit["width"], dtype=float)
        if fit["exponent"] is not None:
            lo, hi = fit["interval95"]
            label += f": P^{fit['exponent']:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None else "")
            xs = np.geomspace(p.min(), p.max(), 20)
            ax_w.plot(xs, fit["prefactor"] * xs ** fit["exponent"], "--", color=color, lw=1)
        ax_w.plot(p, w, marker, color=color, label=label)
        for pm in fit["not_found_at_P"]:
            ax_w.plot([pm], [max(table.unique("width"))], marker, mfc="none", color=color, ms=9)
        for pm in fit["at_grid_floor_P"]:
            ax_w.plot([pm], [min(table.unique("width"))], marker, mfc="none", color=color, ms=9)
        print(f"{name}: exponent {fit['exponent']} ± {fit['exponent_stderr']} 95% {fit['interval95']} "
              f"P={fit['P']} widths={[round(x, 1) for x in fit['width']]} not found at {fit['not_found_at_P']}, "
              f"at the grid floor at {fit['at_grid_floor_P']}")
    ax_w.set_xscale("log", base=2)
    ax_w.set_yscale("log", base=2)
    ax_w.set_xlabel("P (training points)")
    ax_w.set_ylabel("smallest width")
    ax_w.set_title("open markers: not reached within the grid (top) / already at its smallest width (bottom)",
                   fontsize=8)
    ax_w.legend(fontsize=8)
    sizes = table.unique("P")
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, max(1, len(sizes))))
    for p, color in zip(sizes, colors):
        rows = table.where(P=p, quantity="memorized")
        w, mem, err = seed_mean(rows, by="width")
        ax_m.errorbar(w, mem, yerr=err, fmt="o-", ms=3, color=color, capsize=2, label=f"P = {p}")
    ax_m.axhline(results.cell_config(0).get("mem_threshold", 0.5), color="k", ls=":", lw=1)
    ax_m.set_xscale("log", base=2)
    ax_m.set_xlabel("width")
    ax_m.set_ylabel("memorized fraction (1/3 rule)")
    ax_m.legend(fontsize=7)
    cfg = results.cell_config(0)
    fig.suptitle(f"Width vs P: {cfg['data']} data, N = {cfg['dim']}, residual MLP depth {cfg['depth']}, "
                 f"{cfg['steps']} Adam steps, {cfg['n_seeds']} seeds, tolerance {cfg['tolerance']}\n"
                 + scale_note(results), fontsize=9)
    fig.tight_layout()
    save(fig, "separation_size", args)


if __name__ == "__main__":
    main()
