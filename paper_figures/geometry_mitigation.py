"""Training-time mitigation (THEORY.md section 8): memorization vs quality when one sigma window is undertrained.

Paper claim ("Two Calm Ends and the Wild Middle", arXiv 2602.17846): undertraining the medium-noise
danger zone reduces memorization while preserving quality, at equal training budget.

Each point is one training schedule at equal steps: the standard DSM schedule (black) and, joined to it by a
line, the paired schedule (same training set, seeds, minibatches and sampler noise) with
the loss set to ``zone_weight`` inside one window (colours: the danger zone [sigma_cov, sigma_w], its
width-matched controls, the small and large ends), seed means with 1.96 stderr over paired seeds.
Left: memorized fraction (1/3 rule) vs score error to the true score; right: vs sliced Wasserstein to fresh
samples (dotted: the floor between two fresh sample sets). One marker per training-set size P.

Reads: results/geometry_mitigation/<scale>/table.csv.
"""

from __future__ import annotations

from _common import load, parse_args, save
from diffsim.plot.geometry import geometry_mitigation_figure

EXPERIMENTS = ("geometry_mitigation",)


def main():
    args = parse_args(__doc__)
    res = load(args, "geometry_mitigation")
    save(geometry_mitigation_figure(res.table), "geometry_mitigation", args)


if __name__ == "__main__":
    main()
