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

from _common import load, parse_args, save
from diffsim.plot.separation import separation_loss_gap_figure

EXPERIMENTS = ("separation_loss_gap",)


def main() -> None:
    args = parse_args(__doc__)
    results = load(args, EXPERIMENTS[0])
    save(separation_loss_gap_figure(results.table), "separation_loss_gap", args)


if __name__ == "__main__":
    main()
