"""``diffsim separation``: the provable separations of Ye, Zhu, Tao, Chen (THEORY.md section 10;
:mod:`diffsim.studies.separation`).

* ``loss-gap``: loss gap ``l_t(s_true) - l_t(s_e)`` and Fisher divergence per (P, t), with the
  condensed / dilute closed forms, ``t_C(P)`` and the fitted decay exponent of the gap with P;
* ``size``: the smallest MLP width that memorizes, that fits the empirical score and that fits the
  true score, per P, with the fitted exponent of the width against P;
* ``prune``: pruning mitigation of a trained transformer denoiser: Taylor head importance at small t,
  removal of the lowest fraction vs random pruning vs none, equal fine-tune; memorized fraction and
  quality with paired differences over seeds (:mod:`diffsim.studies.separation_pruning`).

The CLI runs one study config per P.
"""

from __future__ import annotations

import math

from diffsim.cli_config import StudyCommand, add_study_parser, run_points
from diffsim.cli_util import add_output_flags, emit, shown
from diffsim.studies.separation import LossGapConfig, gap_decay, run_loss_gap
from diffsim.studies.separation_pruning import PASSED_ON as PRUNE_PASSED_ON
from diffsim.studies.separation_pruning import PruneConfig, prune_table, run_prune
from diffsim.studies._common import not_passed_on
from diffsim.studies.separation_size import PASSED_ON as SIZE_PASSED_ON
from diffsim.studies.separation_size import SizeConfig, run_size, size_table, width_scaling


def register(sub) -> None:
    group = sub.add_parser("separation", help="provable separations: loss gap == Fisher divergence; network size vs P")
    inner = group.add_subparsers(dest="separation_command", required=True, metavar="SUBCOMMAND")

    for command, handler in ((LOSS_GAP, _loss_gap), (SIZE, _size), (PRUNE, _prune)):
        p = add_study_parser(inner, command)
        add_output_flags(p)
        p.set_defaults(handler=handler)


LOSS_GAP = StudyCommand("loss-gap", LossGapConfig, "loss gap of the true vs the exact empirical score = Fisher divergence, "
                        "per (P, t), vs the closed forms", vary={"data.n_train": (64, 512, 4096)})
SIZE = StudyCommand("size", SizeConfig, "smallest MLP width that memorizes / fits the empirical / fits the true score, "
                    "per P", vary={"data.n_train": (4, 8, 16, 32, 64)},
                    hidden=("measure.p_layout", *not_passed_on(SizeConfig, SIZE_PASSED_ON)))
PRUNE = StudyCommand("prune", PruneConfig, "prune a trained transformer's heads by importance vs at random vs none, "
                     "equal fine-tune: memorization and quality", vary={"data.n_train": (16,)},
                     hidden=not_passed_on(PruneConfig, PRUNE_PASSED_ON))


def _loss_gap(args) -> int:
    results = run_points(args, run_loss_gap)
    first = results[0].config
    rows = [row for r in results for row in r.summary()]
    decay = gap_decay(results)
    payload = {"rows": rows, "decay": decay, "theory": [{"P": r.config.data.n_points, **r.to_json()["theory"]} for r in results]}
    head = (f"{'P':>7} {'t':>6} {'t_paper':>7} {'loss_gap':>10} {'±':>8} {'fisher':>10} {'±':>8} "
            f"{'gap*D/N':>8} {'cond*D/N':>8} {'dilute':>9} {'t_C':>6}")
    notes = ("gap*D/N: loss_gap Delta_t / N; cond*D/N: condensed closed form <rho/(1+rho)>; dilute: the 1/P law, "
             "shown for t >= t_dilute only; t_C: collapse time at alpha = log(P)/N")
    model = first.data.model
    what = f"{model} (K = {first.n_components}, mtilde = {first.data.mtilde:g})" if model == "mixture" else model
    lines = [f"Loss gap l_t(s_true) - l_t(s_e) vs Fisher divergence, {what} data, N = {first.data.dim}, "
             f"{first.measure.n_samples} draws per t (paper clock: t_paper = 2t)", head, "-" * len(head)]
    for r in results:
        cond = r.theory["loss_gap_condensed"]
        for i, row in enumerate(r.summary()):
            d = -math.expm1(-2.0 * row["t"]) / row["N"]
            dilute = row["theory/loss_gap_dilute"] if row["theory/t_dilute"] is not None and row["t"] >= row["theory/t_dilute"] else None
            lines.append(
                f"{row['P']:>7} {row['t']:>6.3g} {row['t_paper']:>7.3g} {shown(row['loss_gap']):>10} "
                f"{shown(row['loss_gap_stderr'], '.2g'):>8} {shown(row['fisher']):>10} {shown(row['fisher_stderr'], '.2g'):>8} "
                f"{shown(row['scaled_gap'], '.3f'):>8} {cond[i] * d:>8.3f} {shown(dilute, '.3g'):>9} "
                f"{row['theory/t_collapse']:>6.3f}"
            )
    lines.append(notes)
    for d in decay:
        if d["exponent"] is not None:  # a fit over at least three P
            lines.append(f"t = {d['t']:g}: gap ~ P^{shown(d['exponent'], '.2f')} ± {shown(d['exponent_stderr'], '.2f')} "
                         f"over {d['n_sizes']} P above t_C (paper rate -1/N = {d['paper_rate']:.3f}, dilute law -1)")
    emit(payload, "\n".join(lines), args.json)
    return 0


def _size(args) -> int:
    # every P's networks share the layout of the largest P (same widths, same padding)
    results = run_points(args, run_size, **{"measure.p_layout": max(getattr(args, "data.n_train"))})
    payload = {"rows": [row for r in results for row in r.summary()], "scaling": width_scaling(results),
               "definitions": results[0].definitions}
    emit(payload, size_table(results), args.json)
    return 0


def _prune(args) -> int:
    results = run_points(args, run_prune)
    payload = {"rows": [row for r in results for row in r.summary()],
               "differences": [dict(P=r.config.data.n_points, **d) for r in results for d in r.differences("finetuned")],
               "verdict": [dict(P=r.config.data.n_points, **r.verdict()) for r in results],
               "definitions": results[0].definitions}
    emit(payload, prune_table(results), args.json)
    return 0
