"""Traps of the empirical landscape: fraction of training points owning a trap vs t, and basin radius vs r_b(t).

Paper claim (THEORY.md section 6, [derived]): at load alpha every training point is a local maximum
(a trap) of p_t^e for t < t_o, the root of <log(1 + rho)> + <rho / (1 + rho)> = 2 alpha, with
t_C < t_o; the basin of a training point has radius r_b(t) (units of sqrt(N Delta_t)), solving
-r_b^2 / 2 = F(t, alpha, r_b), which vanishes at t_o. At finite N the trap fraction falls from 1 to 0
across t_o, more sharply as N grows.

Left: trap fraction (mean-shift from m_t a_mu stays on mu, solid) and the fraction dominated at
m_t a_mu itself (dashed) per N, with t_o and t_C (N -> infinity, lines; finite-N spectrum, ticks).
Right: median dominance radius per N vs r_b(t).

Reads: results/traps/<scale>/table.csv. Theory: the table's t_onset / t_collapse / theory_basin_radius
columns and diffsim.theory.basin_radius for the dense curve (no simulation).
"""

from __future__ import annotations

from _common import load, parse_args, save
from diffsim.plot.hmm import trap_fraction_figure

EXPERIMENTS = ("traps",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    params = results.params
    fig = trap_fraction_figure(results.table, alpha=params.get("data.alpha", 0.1), data=params.get("data.model", "hmm"),
                 alpha_d=params.get("data.alpha_d", 0.5), nonlinearity=params.get("data.nonlinearity", "linear"))
    save(fig, "trap_fraction", args)


if __name__ == "__main__":
    main()
