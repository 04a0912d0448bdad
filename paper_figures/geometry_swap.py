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

from _common import load, parse_args, save
from diffsim.plot.geometry import geometry_swap_figure

EXPERIMENTS = ("geometry_swap", "geometry_net_swap")


def main():
    args = parse_args(__doc__)
    exact = load(args, "geometry_swap")
    nets = load(args, "geometry_net_swap")
    save(geometry_swap_figure(exact.table, nets.table), "geometry_swap", args)


if __name__ == "__main__":
    main()
