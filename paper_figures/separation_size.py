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

from _common import load, parse_args, save
from diffsim.plot.separation import MIN_FIT_POINTS, separation_size_figure
from diffsim.studies.separation_size import width_scaling_from_rows

EXPERIMENTS = ("separation_size",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    fits = width_scaling_from_rows(list(results.table.rows))
    for name, fit in fits.items():
        few = "" if len(fit["P"]) >= MIN_FIT_POINTS else f" ({len(fit['P'])} points: not a fit, no line drawn as one)"
        print(f"{name}: exponent {fit['exponent']} ± {fit['exponent_stderr']} 95% {fit['interval95']}{few} "
              f"P={fit['P']} widths={[round(x, 1) for x in fit['width']]} not found at {fit['not_found_at_P']}, "
              f"at the grid floor at {fit['at_grid_floor_P']}")
    cfg = results.cell_config(0)
    data, measure = cfg["data"], cfg["measure"]
    title = (f"Width vs P: {data['model']} data, N = {data['dim']}, residual MLP depth {cfg['net']['depth']}, "
             f"{cfg['train']['steps']} Adam steps, {measure['n_seeds']} nets per width and target, "
             f"tolerance {measure['tolerance']}")
    fig = separation_size_figure(results.table, fits=fits, mem_threshold=measure["mem_threshold"], title=title)
    save(fig, "separation_size", args)


if __name__ == "__main__":
    main()
