"""Hidden-manifold commands: ``traps``, ``rem``, ``hmm-collapse``, ``generalization`` (THEORY.md 4-7)."""

from __future__ import annotations


from diffsim.cli_config import StudyCommand, add_study_parser, run_points
from diffsim.cli_util import add_output_flags, emit
from diffsim.studies.generalization import DEFINITION, GeneralizationConfig, results_json as generalization_json, run_generalization
from diffsim.studies.hmm_collapse import HmmCollapseConfig, results_json as hmm_collapse_json, run_hmm_collapse
from diffsim.studies.rem import RemConfig, results_json as rem_json, run_rem
from diffsim.studies.traps import TrapsConfig, results_json as traps_json, run_traps


def register(sub) -> None:
    for command, handler in ((TRAPS, _traps), (REM, _rem), (HMM_COLLAPSE, _hmm_collapse),
                             (GENERALIZATION, _generalization)):
        p = add_study_parser(sub, command)
        p.add_argument("--figure", help="write the figure here (PNG or PDF)")
        add_output_flags(p)
        p.set_defaults(handler=handler)


TRAPS = StudyCommand("traps", TrapsConfig, "traps and basins of -log p_t^e: trap fraction vs t, basin radius vs r_b(t)",
                     vary={"data.dim": (30, 45, 60)})
REM = StudyCommand("rem", RemConfig, "Random Energy Model statistics of the posterior weights: Y2 and (1/N) log Z vs t",
                   vary={"data.dim": (40, 70, 100)})
HMM_COLLAPSE = StudyCommand(
    "hmm-collapse", HmmCollapseConfig, "collapse time on the hidden manifold vs the Marchenko-Pastur theory "
    "(one point per alpha x alpha_d x nonlinearity x N; gaussian data: --data.model gaussian)",
    vary={"data.alpha": (0.1,), "data.alpha_d": (0.5,), "data.nonlinearity": ("linear",), "data.dim": (40, 60, 80)})
GENERALIZATION = StudyCommand(
    "generalization", GeneralizationConfig, "generalization time t_g of the exact empirical score vs theory "
    "(gaussian data: alpha_d is 1)", vary={"data.alpha_d": (1.0, 0.5, 0.25), "data.dim": (40, 60, 80)})


def _traps(args) -> int:
    results = run_points(args, run_traps)
    base = results[0].config
    payload = traps_json(results)
    if args.figure:
        from diffsim.plot.hmm import plot_trap_fraction

        payload["figure"] = str(plot_trap_fraction(results, args.figure))
    theory = results[0].theory
    lines = [
        f"Traps of -log p_t^e, {base.data.model} data, alpha = {base.data.alpha}: theory t_C = {theory['t_collapse']:.4f}, "
        f"t_o = {theory['t_onset']:.4f} (THEORY.md section 6)",
        f"{'N':>5} {'t':>7} {'trap frac':>9} {'start dom':>9} {'r basin':>8} {'r_b(t)':>8} {'spurious#':>9}",
    ]
    for row in payload["rows"]:
        r, f = row["basin_radius"], row["trap_fraction"]
        radius = f">{row['basin_radius_lower_bound']:.3f}" if row["basin_radius_is_bound"] else ("-" if r is None else f"{r:.3f}")
        lines.append(
            f"{row['N']:>5} {row['t']:>7.3g} {'-' if f is None else f'{f:.3f}':>9} {row['start_dominated']:>9.3f} "
            f"{radius:>8} {row['theory/basin_radius_spectrum']:>8.3f} "
            f"{'-' if row['spurious_count'] is None else int(row['spurious_count']):>9}"
        )
    emit(payload, "\n".join(lines), args.json)
    return 0


def _rem(args) -> int:
    results = run_points(args, run_rem)
    base = results[0].config
    payload = rem_json(results)
    if args.figure:
        from diffsim.plot.hmm import plot_rem_y2

        payload["figure"] = str(plot_rem_y2(results, args.figure))
    lines = [
        f"REM statistics, {base.data.model} data, alpha = {base.data.alpha}: theory t_C = {payload['theory/t_collapse']:.4f} "
        "(THEORY.md section 5); fresh queries",
        f"{'N':>5} {'t':>7} {'mean Y2':>15} {'1 - k_c':>8} {'(1/N)logZ':>10} {'theory':>8}",
    ]
    for row in payload["rows"]:
        lines.append(
            f"{row['N']:>5} {row['t']:>7.3f} {row['mean_y2']:>8.4f} ±{row['mean_y2_stderr']:.4f} {row['theory/mean_y2']:>8.4f} "
            f"{row['log_z_per_dim']:>10.4f} {row['theory/log_z_per_dim']:>8.4f}"
        )
    emit(payload, "\n".join(lines), args.json)
    return 0


def _hmm_collapse(args) -> int:
    results = run_points(args, run_hmm_collapse)
    payload = hmm_collapse_json(results)
    if args.figure:
        from diffsim.plot.hmm import plot_phase_diagram

        payload["figure"] = str(plot_phase_diagram(results, args.figure))
    lines = [
        "Collapse time on the hidden manifold (own / condensation estimators, forward-noised queries)",
        f"{'alpha':>6} {'a_D':>5} {'model':>8} {'N':>6} {'own':>16} {'condensation':>16} {'t_C(spec)':>9} "
        f"{'linear':>7} {'GE':>7} {'iso':>7}",
    ]
    for row in payload["rows"]:
        if row["estimator"] != "own":
            continue
        cond = next(r for r in payload["rows"] if r["estimator"] == "condensation" and r["N"] == row["N"]
                    and r["model"] == row["model"] and r["alpha"] == row["alpha"] and r["alpha_d"] == row["alpha_d"])
        lines.append(
            f"{row['alpha']:>6} {row['alpha_d']:>5} {row['model']:>8} {row['N']:>6} {row['t_collapse']:>8.4f} ±{row['stderr']:.4f} "
            f"{cond['t_collapse']:>8.4f} ±{cond['stderr']:.4f} {row['theory/t_collapse_spectrum']:>9.4f} "
            f"{row['theory/t_collapse_linear_hmm']:>7.4f} {row['theory/t_collapse_gaussian_equivalent']:>7.4f} {row['theory/t_collapse_isotropic']:>7.4f}"
        )
    for row in payload["rows"]:
        if row["N"] is None:
            lines.append(f"{row['alpha']:>6} {row['alpha_d']:>5} {row['model']:>8}  1/N->0 {row['estimator']:>40}: "
                         f"{row['t_collapse']:.4f} ±{row['stderr']:.4f}")
    emit(payload, "\n".join(lines), args.json)
    return 0


def _generalization(args) -> int:
    fixed = {"data.alpha_d": 1.0} if getattr(args, "data.model") == "gaussian" else {}  # gaussian data: D = N
    results = run_points(args, run_generalization, **fixed)
    payload = generalization_json(results)
    if args.figure:
        from diffsim.plot.hmm import plot_generalization_time

        payload["figure"] = str(plot_generalization_time(results, args.figure))
    lines = [f"Generalization time: {DEFINITION}",
             f"{'alpha_d':>7} {'N':>5} {'D':>4} {'t_g':>16} {'t_g theory':>10} {'t_g sw':>7} {'t_C':>7} {'t_g(inf)':>8} {'t_C(inf)':>8}"]
    for row in payload["rows"]:
        if row["quantity"] == "t_g":
            sw = "-" if row["t_g/sw"] is None else f"{row['t_g/sw']:.4f}"
            lines.append(
                f"{row['alpha_d']:>7} {row['N']:>5} {row['D']:>4} {row['t_g']:>8.4f} ±{row['t_g_stderr']:.4f} "
                f"{row['theory/t_g_spectrum']:>10.4f} {sw:>7} {row['theory/t_collapse_spectrum']:>7.4f} "
                f"{row['theory/t_g']:>8.4f} {row['theory/t_collapse']:>8.4f}"
            )
    emit(payload, "\n".join(lines), args.json)
    return 0
