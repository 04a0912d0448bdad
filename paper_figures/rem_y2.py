"""REM condensation of the posterior weights: mean Y2 vs t against 1 - k_c(t), and (1/N) log Z.

Paper claim (THEORY.md section 5, [derived]): for a fresh query at time t the energies
E_mu = |x - m_t a_mu|^2 / (2 Delta_t) over the P = exp(alpha N) training points form a random energy
model; below t_C the weights condense with Poisson-Dirichlet parameter k_c(t) (the root of s(k_c) = 0),
so E[Y2] = E sum_mu w_mu^2 = 1 - k_c(t), and E[Y2] = 0 above t_C; (1/N) log Z tends to the REM free
energy. For queries noised from a training point Y2 -> 1 below t_C and 0 above.

Left: mean Y2 per N (fresh queries filled, training-point queries hollow) vs the N -> infinity theory
1 - k_c(t) (black) and the same at each N's exact covariance spectrum (dotted). Right: (1/N) log Z of
fresh queries vs the REM free energy.

Reads: results/rem/<scale>/table.csv. Theory: diffsim.theory.mean_y2 / free_energy for the dense curves and
the table's theory_* columns (no simulation).
"""

from __future__ import annotations

from _common import load, parse_args, save
from diffsim.plot.hmm import rem_y2_figure

EXPERIMENTS = ("rem",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    params = results.params
    fig = rem_y2_figure(results.table, alpha=params.get("data.alpha", 0.1), data=params.get("data.model", "gaussian"),
                 alpha_d=params.get("data.alpha_d", 0.5), nonlinearity=params.get("data.nonlinearity", "linear"))
    save(fig, "rem_y2", args)


if __name__ == "__main__":
    main()
