"""``diffsim guidance``: classifier-free guidance on class-conditional toy data, exact scores or a
trained conditional network (THEORY.md section 9; :mod:`diffsim.studies.guidance`)."""

from __future__ import annotations

from diffsim.cli_util import add_json_flag, emit, float_list, int_list, progress, str_list


def register(sub) -> None:
    p = sub.add_parser(
        "guidance",
        help="guidance on class-conditional data: overestimation, D1/D2 decomposition, guidance magnitude AUC, memorization vs g",
    )
    p.add_argument("--data", default="mixture", help="mixture or hmm [mixture]")
    p.add_argument("--dim", type=int, default=8, help="dimension N [8]")
    p.add_argument("--class-counts", type=int_list, default=(1, 1, 1, 1, 2, 2, 3, 3, 32, 32, 32, 32, 64, 64, 64, 64),
                   help="training points per class, comma-separated [1,1,1,1,2,2,3,3,32x4,64x4]")
    p.add_argument("--separation", type=float, default=0.5, help="class centres ~ N(0, separation^2) [0.5]")
    p.add_argument("--sigma", type=float, default=1.0, help="mixture: within-class standard deviation [1.0]")
    p.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [0.5]")
    p.add_argument("--nonlinearity", default="linear", help="hmm: linear, tanh, sign or relu [linear]")
    p.add_argument("--score", type=str_list, default=("exact",),
                   help="exact, true and/or net, comma-separated: one study point each [exact]")
    p.add_argument("--guidance", type=float_list, default=(1.0, 2.0, 4.0, 7.5, 10.0), help="guidance scales [1,2,4,7.5,10]")
    p.add_argument("--trajectories", type=int, default=64, help="seeds per (condition, g) [64]")
    p.add_argument("--n-steps", type=int, default=50, help="sampler steps [50]")
    p.add_argument("--t-max", type=float, default=5.0, help="initial time [5]")
    p.add_argument("--t-min", type=float, default=0.01, help="final time [0.01]")
    p.add_argument("--grid", default="uniform", help="time grid: uniform, log or edm [uniform]")
    p.add_argument("--sampler", default="ddim", help="ddim, ode (Heun) or sde [ddim]")
    p.add_argument("--first-steps", type=int, default=5, help="steps averaged for alignment and magnitude [5]")
    p.add_argument("--loss-samples", type=int, default=256, help="DSM draws per (condition, g) [256]")
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples [200]")
    p.add_argument("--small-class", type=int, default=3, help="classes of at most this many points are 'small' [3]")
    p.add_argument("--width", type=int, default=128, help="net: width [128]")
    p.add_argument("--depth", type=int, default=2, help="net: residual blocks [2]")
    p.add_argument("--parameterisation", default="edm", help="net: eps, x0 or edm [edm]")
    p.add_argument("--train-steps", type=int, default=4000, help="net: training steps [4000]")
    p.add_argument("--batch-size", type=int, default=64, help="net: minibatch [64]")
    p.add_argument("--lr", type=float, default=2e-3, help="net: Adam learning rate [2e-3]")
    p.add_argument("--label-dropout", type=float, default=0.1, help="net: probability of the null label [0.1]")
    p.add_argument("--uniform-points", action="store_true", help="net: draw training points uniformly, not class-balanced")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--figure", help="write the three-panel figure here (PNG or PDF)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(p)
    p.set_defaults(handler=_guidance)


def _configs(args):
    from diffsim.studies.guidance import GuidanceConfig

    return [GuidanceConfig(
        data=args.data, dim=args.dim, class_counts=tuple(args.class_counts), separation=args.separation,
        sigma=args.sigma, alpha_d=args.alpha_d, nonlinearity=args.nonlinearity, score=score,
        guidance=tuple(args.guidance), n_trajectories=args.trajectories, n_steps=args.n_steps, t_max=args.t_max,
        t_min=args.t_min, grid=args.grid, sampler=args.sampler, n_first_steps=args.first_steps,
        n_loss_samples=args.loss_samples, n_bootstrap=args.bootstrap, small_class=args.small_class,
        width=args.width, depth=args.depth, parameterisation=args.parameterisation, steps=args.train_steps,
        batch_size=args.batch_size, learning_rate=args.lr, label_dropout=args.label_dropout,
        class_balanced=not args.uniform_points, seed=args.seed,
    ).validate() for score in args.score]


def _guidance(args) -> int:
    import jax

    from diffsim.studies.guidance import run_guidance

    configs = _configs(args)  # every point validated before any work
    results = []
    for config in configs:
        step = None if args.quiet else progress(f"guidance [{config.score}]")
        results.append(run_guidance(config, jax.random.PRNGKey(args.seed), progress=step))
    payload = {"results": [r.to_json() for r in results]}
    if args.figure:
        from diffsim.plot.guidance import figure_from_rows

        rows = [row for r in results for row in r.rows()]
        payload["figures"] = [str(figure_from_rows(rows, args.figure))]
    emit(payload, guidance_table(results, payload.get("figures")), args.json)
    return 0


def _fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


def guidance_table(results, figures=None) -> str:
    """One block per score: a line per (condition, g), then the per-g summaries."""
    lines = []
    for res in results:
        cfg = res.config
        lines.append(f"Guidance on {cfg.data} data, N = {cfg.dim}, classes {list(cfg.class_counts)}, score {cfg.score}, "
                     f"{cfg.sampler} {cfg.n_steps} steps, {cfg.n_trajectories} seeds ({res.seconds:.1f}s)")
        head = (f"{'cond':>4} {'P_c':>4} {'g':>5} {'overest':>8} {'D1':>8} {'D2':>8} {'align':>7} {'magn':>8} "
                f"{'memor':>6} {'t_coll':>7} {'dist':>6} {'dsm':>7}")
        lines += [head, "-" * len(head)]
        for r in res.cell_rows():
            lines.append(
                f"{r['condition']:>4} {r['n_class_points']:>4} {r['guidance']:>5.3g} {_fmt(r['overestimation']):>8} "
                f"{_fmt(r['D1']):>8} {_fmt(r['D2']):>8} {_fmt(r['alignment']):>7} {_fmt(r['guidance_magnitude']):>8} "
                f"{_fmt(r['memorized_fraction'], '.2f'):>6} {_fmt(r['collapse_time']):>7} {_fmt(r['distance']):>6} "
                f"{_fmt(r['dsm_loss']):>7}"
            )
        for r in res.summary:
            q = r["quantity"]
            if q.startswith("corr"):
                lines.append(f"g = {r['guidance']:<4g} {q} vs {r['severity']}: Pearson {_fmt(r['pearson'])}, "
                             f"Spearman {_fmt(r['spearman'])} over {r['n_conditions']} conditions")
            elif q.startswith("auc"):
                lines.append(f"g = {r['guidance']:<4g} {q} (guidance magnitude): {_fmt(r['value'])} "
                             f"[{_fmt(r['low'])}, {_fmt(r['high'])}] ({r['n_positive']} positive, {r['n_negative']} negative)")
            else:
                lines.append(f"g = {r['guidance']:<4g} {q}: {_fmt(r['value'])} ± {_fmt(r['stderr'], '.2g')} "
                             f"({r['n_conditions']} conditions)")
        lines.append("")
    for f in figures or ():
        lines.append(f"figure: {f}")
    return "\n".join(lines)
