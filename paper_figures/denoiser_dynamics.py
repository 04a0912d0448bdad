"""Training dynamics of denoisers: memorization vs training step, and tau_mem, tau_gen vs P.

Paper claim (Bonnaire, Urfin, Biroli, Mezard; THEORY.md section 11): a network trained by denoising
score matching on P points first generalizes, after a time tau_gen about independent of P, and only
later memorizes, after tau_mem growing like P, so that the window of generalization widens with the
training set. Operational definitions (diffsim.studies.denoiser.DEFINITIONS): tau_mem is the first
training step at which the memorized fraction of generated samples (1/3 criterion, THEORY.md
section 12) reaches the study's threshold; tau_gen the step at which the test DSM loss has made 90%
of its descent.

One row per data model (two-cluster mixture; linear Hidden Manifold Model). Left: memorized fraction
of samples generated with the learned score vs training step for every P (mean over seeds, band =
stderr), tau_mem dotted. Right: tau_mem and tau_gen vs P with the fitted power laws (exponent ±
stderr in the legend) and a P^1 guide.

Reads: results/denoiser_dynamics_mixture/<scale>/table.csv, results/denoiser_dynamics_hmm/<scale>/table.csv.
No simulation is run here (the curves are rebuilt from the tables by DenoiserResult.from_rows).
"""

from __future__ import annotations

from _common import denoiser_result, load, parse_args, save
from diffsim.plot.nets import memorization_dynamics_figure

EXPERIMENTS = ("denoiser_dynamics_mixture", "denoiser_dynamics_hmm")


def main() -> None:
    args = parse_args(__doc__)
    results = [denoiser_result(load(args, experiment)) for experiment in EXPERIMENTS]
    fig = memorization_dynamics_figure(results, dsm_loss=False, guide=1.0,
                                       title="Denoisers generalize first and memorize after a time growing with P")
    save(fig, "denoiser_dynamics", args)


if __name__ == "__main__":
    main()
