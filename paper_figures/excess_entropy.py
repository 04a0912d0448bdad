"""Excess entropy f_e(t) of the empirical distribution: Monte Carlo vs Gaussian theory.

Paper claim (Biroli, Bonnaire, de Bortoli, Mezard; THEORY.md section 4): the excess entropy
f_e(t) = s_sep(t) - s(t) is positive in the generalization regime, decreases as the backward time t
decreases, and vanishes at the collapse time t_C; for Gaussian data with spectrum lambda_i,
f_e(t) = max(0, alpha - (1/2N) sum_i log(1 + m_t^2 lambda_i / Delta_t)). The Monte-Carlo estimate
(forward-noised training points, exact log p_t^e) follows the theory curve at each N.

Reads: results/collapse_gaussian/<scale>/table.csv (quantities excess_entropy and
excess_entropy_theory). No simulation is run here.
"""

from __future__ import annotations

from _common import load, parse_args, save
from diffsim.plot.collapse import excess_entropy_figure

EXPERIMENTS = ("collapse_gaussian",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    save(excess_entropy_figure(results.table, data=results.params.get("data.model", "gaussian")), "excess_entropy", args)


if __name__ == "__main__":
    main()
