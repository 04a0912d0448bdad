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

import matplotlib.pyplot as plt

from _common import denoiser_result, load, parse_args, save, scale_note
from diffsim.plot.nets import draw_memorization, draw_taus

EXPERIMENTS = ("denoiser_dynamics_mixture", "denoiser_dynamics_hmm")


def _data_label(config) -> str:
    if config.data == "hmm":
        return (f"Hidden Manifold Model ({config.nonlinearity}, $\\alpha_D$ = {config.alpha_d:g}, "
                f"D = {round(config.alpha_d * config.dim)}), N = {config.dim}")
    return f"{config.data} data, N = {config.dim}"


def main() -> None:
    args = parse_args(__doc__)
    fig, axes = plt.subplots(len(EXPERIMENTS), 2, figsize=(12, 4.4 * len(EXPERIMENTS)), squeeze=False)
    notes = []
    for (ax_m, ax_t), experiment in zip(axes, EXPERIMENTS):
        results = load(args, experiment)
        result = denoiser_result(results)
        cfg = result.config
        width = cfg.widths[0]
        draw_memorization(ax_m, result, width)
        draw_taus(ax_t, result, width, guide=1.0)
        ax_m.set_title(f"{_data_label(cfg)}: memorization during training (width {width}, "
                       f"{cfg.n_seeds} seeds)", fontsize=9)
        ax_t.set_title(f"{_data_label(cfg)}: $\\tau_{{mem}}$ and $\\tau_{{gen}}$ vs P", fontsize=9)
        notes.append(scale_note(results))
    fig.suptitle("Denoisers generalize first and memorize after a time growing with P\n" + "; ".join(notes), fontsize=9)
    fig.tight_layout()
    save(fig, "denoiser_dynamics", args)


if __name__ == "__main__":
    main()
