"""Hidden-manifold commands: ``traps``, ``rem``, ``hmm-collapse``, ``generalization`` (THEORY.md 4-7)."""

from __future__ import annotations


from diffsim import _validate
from diffsim.cli_util import add_json_flag, emit, float_list, int_list, pair_list, progress, str_list


def _data_args(p, *, default_alpha: float) -> None:
    p.add_argument("--data", default="gaussian", help="data model: gaussian or hmm [gaussian]")
    p.add_argument("--alpha", type=float, default=default_alpha, help=f"load alpha = log(P)/N [{default_alpha}]")
    p.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [0.5]")
    p.add_argument("--nonlinearity", default="linear", help="hmm: linear, tanh, sign or relu [linear]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")


def register(sub) -> None:
    p = sub.add_parser("traps", help="traps and basins of -log p_t^e: trap fraction vs t, basin radius vs r_b(t)")
    _data_args(p, default_alpha=0.2)
    p.add_argument("--dims", type=int_list, default=(30, 45, 60), help="comma-separated N values [30,45,60]")
    p.add_argument("--times", type=float_list, default=(0.6, 0.7, 0.8), help="comma-separated times [0.6,0.7,0.8]")
    p.add_argument("--starts", type=int, default=256, help="training points probed per N [256]")
    p.add_argument("--random", type=int, default=128, help="random starts per t (spurious states) [128]")
    p.add_argument("--step-size", type=float, default=1.0, help="1 = mean-shift, < 1 damped ascent [1.0]")
    p.add_argument("--no-basin", action="store_true", help="skip the basin radius")
    p.add_argument("--no-traps", action="store_true", help="skip the mean-shift from training points")
    p.add_argument("--attraction", action="store_true", help="also measure the mean-shift attraction radius")
    p.add_argument("--figure", help="write the figure here (PNG or PDF)")
    add_json_flag(p)
    p.set_defaults(handler=_traps)

    p = sub.add_parser("rem", help="REM statistics of the posterior weights (Y2, log Z) vs theory")
    _data_args(p, default_alpha=0.1)
    p.add_argument("--dims", type=int_list, default=(40, 70, 100), help="comma-separated N values [40,70,100]")
    p.add_argument("--times", type=float_list, default=(0.3, 0.45, 0.6, 0.75, 1.0, 1.4), help="comma-separated times")
    p.add_argument("--queries", type=int, default=1024, help="queries per (N, t, kind) [1024]")
    p.add_argument("--figure", help="write the figure here (PNG or PDF)")
    add_json_flag(p)
    p.set_defaults(handler=_rem)

    p = sub.add_parser("hmm-collapse", help="collapse time on the hidden manifold, linear and nonlinear, vs theory")
    p.add_argument("--pairs", type=pair_list, default=((0.1, 0.5),), help="alpha:alpha_d pairs [0.1:0.5]")
    p.add_argument("--models", type=str_list, default=("linear",), help="linear,tanh,sign,relu,gaussian [linear]")
    p.add_argument("--dims", type=int_list, default=(40, 60, 80), help="comma-separated N values [40,60,80]")
    p.add_argument("--datasets", type=int, default=2, help="independent (F, training set) draws per N [2]")
    p.add_argument("--samples", type=int, default=256, help="queries per time and draw [256]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--figure", help="write the phase-diagram figure here (PNG or PDF)")
    add_json_flag(p)
    p.set_defaults(handler=_hmm_collapse)

    p = sub.add_parser("generalization", help="generalization time t_g vs t_C (definition printed)")
    p.add_argument("--data", default="hmm", help="gaussian or hmm (linear) [hmm]")
    p.add_argument("--alpha", type=float, default=0.1, help="load alpha = log(P)/N [0.1]")
    p.add_argument("--alpha-ds", type=float_list, default=(1.0, 0.5, 0.25), help="latent ratios swept [1,0.5,0.25]")
    p.add_argument("--dims", type=int_list, default=(40, 60, 80), help="comma-separated N values [40,60,80]")
    p.add_argument("--test", type=int, default=1024, help="fresh test points [1024]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--figure", help="write the figure here (PNG or PDF)")
    add_json_flag(p)
    p.set_defaults(handler=_generalization)


def _traps(args) -> int:
    import dataclasses

    from diffsim.studies.traps import TrapsConfig, results_json, run_traps

    base = TrapsConfig(
        data=args.data, alpha=args.alpha, alpha_d=args.alpha_d, nonlinearity=args.nonlinearity,
        times=tuple(args.times), n_starts=args.starts, n_random=args.random,
        step_size=args.step_size, traps=not args.no_traps, basin=not args.no_basin, attraction=args.attraction, seed=args.seed,
    )
    configs = [dataclasses.replace(base, dim=n).validate() for n in _validate.dims_at_load(args.dims, args.alpha)]
    step = progress("traps")
    results = [run_traps(c, progress=step) for c in configs]
    payload = results_json(results)
    if args.figure:
        from diffsim.plot.hmm import plot_trap_fraction

        payload["figure"] = str(plot_trap_fraction(results, args.figure))
    theory = results[0].theory
    lines = [
        f"Traps of -log p_t^e, {base.data} data, alpha = {base.alpha}: theory t_C = {theory['t_collapse']:.4f}, "
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
    import dataclasses

    from diffsim.studies.rem import RemConfig, results_json, run_rem

    base = RemConfig(
        data=args.data, alpha=args.alpha, alpha_d=args.alpha_d, nonlinearity=args.nonlinearity,
        times=tuple(args.times), n_queries=args.queries, seed=args.seed,
    )
    configs = [dataclasses.replace(base, dim=n).validate() for n in _validate.dims_at_load(args.dims, args.alpha)]
    step = progress("rem")
    results = [run_rem(c, progress=step) for c in configs]
    payload = results_json(results)
    if args.figure:
        from diffsim.plot.hmm import plot_rem_y2

        payload["figure"] = str(plot_rem_y2(results, args.figure))
    lines = [
        f"REM statistics, {base.data} data, alpha = {base.alpha}: theory t_C = {payload['theory/t_collapse']:.4f} "
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
    from diffsim.studies.hmm_collapse import HmmCollapseConfig, results_json, run_hmm_collapse

    for pair in args.pairs:
        if len(pair) != 2:
            raise _validate.ConfigError(f"pairs entry {pair!r} is out of range: expected (alpha, alpha_d)")
    configs = [
        HmmCollapseConfig(alpha=alpha, alpha_d=alpha_d, model=model, dim=n, n_datasets=args.datasets,
                          n_samples=args.samples, seed=args.seed).validate()
        for alpha, alpha_d in args.pairs for model in args.models for n in _validate.dims_at_load(args.dims, alpha)
    ]
    step = progress("hmm-collapse", len(configs))
    results = [run_hmm_collapse(c, progress=step) for c in configs]
    payload = results_json(results)
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
    from diffsim.studies.generalization import DEFINITION, GeneralizationConfig, results_json, run_generalization

    alpha_ds = (1.0,) if args.data == "gaussian" else tuple(args.alpha_ds)
    configs = [
        GeneralizationConfig(data=args.data, alpha=args.alpha, alpha_d=alpha_d, dim=n, n_test=args.test,
                             seed=args.seed).validate()
        for alpha_d in alpha_ds for n in _validate.dims_at_load(args.dims, args.alpha)
    ]
    step = progress("generalization", len(configs))
    results = [run_generalization(c, progress=step) for c in configs]
    payload = results_json(results)
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
