"""``diffsim geometry``, ``geometry-swap``, ``geometry-net-swap`` and ``geometry-mitigation``: posterior
concentration W and shell coverage C vs sigma, the danger zone between sigma_cov and sigma_w against theory,
large-noise linearity, window swaps with exact scores and with trained nets, and the training-time
mitigation (THEORY.md section 8; :mod:`diffsim.studies.geometry`, :mod:`diffsim.studies.geometry_nets`)."""

from __future__ import annotations

from diffsim import data
from diffsim.cli_util import add_json_flag, emit, float_list, int_list, progress


def register(sub) -> None:
    p = sub.add_parser("geometry", help="W and C vs sigma, sigma_cov / sigma_w / danger-zone width vs theory, one row per N")
    p.add_argument("--data", default="gaussian", help=f"data model: {', '.join(data.DATA_MODELS)} [gaussian]")
    p.add_argument("--alpha", type=float, default=0.2, help="load log(P)/N [0.2]")
    p.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [0.5]")
    p.add_argument("--nonlinearity", default="linear", help="hmm: linear, tanh, sign or relu [linear]")
    p.add_argument("--dims", type=int_list, default=(20, 30, 40), help="comma-separated dimensions N [20,30,40]")
    p.add_argument("--sigmas", type=float_list, default=None, help="increasing VE noise levels [31 log-spaced in 0.05..5]")
    p.add_argument("--queries", type=int, default=512, help="training and held-out queries per sigma [512]")
    p.add_argument("--shell-c", type=float, default=5.0, help="shell parameter c [5]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(p)
    p.set_defaults(handler=_geometry)

    s = sub.add_parser("geometry-swap", help="exact true / empirical scores swapped inside sigma windows: memorized fraction")
    s.add_argument("--data", default="gaussian", help="gaussian or hmm (linear) [gaussian]")
    s.add_argument("--alpha", type=float, default=0.2, help="load log(P)/N [0.2]")
    s.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [0.5]")
    s.add_argument("--dim", type=int, default=20, help="dimension N [20]")
    s.add_argument("--samples", type=int, default=512, help="samples per window [512]")
    s.add_argument("--steps", type=int, default=200, help="sampler steps [200]")
    s.add_argument("--method", default="sde", help="sde or ode [sde]")
    s.add_argument("--seed", type=int, default=0, help="random seed [0]")
    add_json_flag(s)
    s.set_defaults(handler=_swap)

    n = sub.add_parser("geometry-net-swap",
                       help="memorizing (few-point) and generalizing (many-point) trained nets, and exact scores, swapped inside sigma windows")
    n.add_argument("--data", default="gaussian", help="gaussian, mixture or hmm (linear) [gaussian]")
    n.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [0.5]")
    n.add_argument("--dim", type=int, default=8, help="dimension N [8]")
    n.add_argument("--few", type=int, default=8, help="points of the memorizing net (the first of the many) [8]")
    n.add_argument("--many", type=int, default=32, help="points of the generalizing net [32]")
    n.add_argument("--width", type=int, default=128, help="MLP width [128]")
    n.add_argument("--train-steps", type=int, default=4000, help="Adam steps of both nets [4000]")
    n.add_argument("--lr", type=float, default=3e-3, help="learning rate [3e-3]")
    n.add_argument("--samples", type=int, default=512, help="samples per window [512]")
    n.add_argument("--steps", type=int, default=200, help="sampler steps [200]")
    n.add_argument("--families", default="nets,exact", help="score pairs to swap: nets, exact [nets,exact]")
    n.add_argument("--seeds", type=int_list, default=(0,), help="comma-separated seeds, one run each [0]")
    n.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(n)
    n.set_defaults(handler=_net_swap)

    g = sub.add_parser("geometry-mitigation",
                       help="DSM training that undertrains one sigma window vs the standard schedule: memorization and quality")
    g.add_argument("--data", default="gaussian", help="gaussian, mixture or hmm (linear) [gaussian]")
    g.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [0.5]")
    g.add_argument("--dim", type=int, default=8, help="dimension N [8]")
    g.add_argument("--train", type=int, default=8, help="training points P [8]")
    g.add_argument("--width", type=int, default=128, help="MLP width [128]")
    g.add_argument("--train-steps", type=int, default=4000, help="Adam steps [4000]")
    g.add_argument("--zones", default="medium", help="comma-separated windows to undertrain: small, control_below, medium, control_above, large [medium]")
    g.add_argument("--zone-weight", type=float, default=0.0, help="loss factor inside the window [0]")
    g.add_argument("--seeds", type=int, default=4, help="paired members per variant [4]")
    g.add_argument("--samples", type=int, default=512, help="generated samples per member [512]")
    g.add_argument("--steps", type=int, default=200, help="sampler steps [200]")
    g.add_argument("--seed", type=int, default=0, help="random seed [0]")
    g.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(g)
    g.set_defaults(handler=_mitigation)


def _geometry(args) -> int:
    from diffsim.studies.geometry import GeometryConfig, default_sigmas, run_geometry, zone_trend

    configs = [
        GeometryConfig(data=args.data, dim=n, alpha=args.alpha, alpha_d=args.alpha_d, nonlinearity=args.nonlinearity,
                       sigmas=tuple(args.sigmas) if args.sigmas else default_sigmas(), n_queries=args.queries,
                       n_held_out=args.queries, shell_c=args.shell_c, seed=args.seed).validate()
        for n in args.dims
    ]
    step = None if args.quiet else progress("geometry", len(configs))
    results = [run_geometry(c, progress=step) for c in configs]
    payload = {"rows": [r.to_json() for r in results], "trend": zone_trend(results) if len(results) > 1 else None}
    emit(payload, geometry_table(results), args.json)
    return 0


def _fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def geometry_table(results) -> str:
    lines = ["    N        P   sigma_cov (theory)        sigma_w (sigma_C)         log-width        sigma_lin"]
    for r in results:
        s = r.summary()
        lines.append(
            f"{s['N']:5d} {s['P']:8d}   {_fmt(s['sigma_cov'])}±{_fmt(s['sigma_cov_stderr'])} ({_fmt(s['theory/sigma_cov'])})"
            f"   {_fmt(s['sigma_w'])}±{_fmt(s['sigma_w_stderr'])} ({_fmt(s['theory/sigma_c'])})"
            f"   {_fmt(s['log_width'])}±{_fmt(s['log_width_stderr'])}"
            f"   {_fmt(s['sigma_lin'])}±{_fmt(s['sigma_lin_stderr'])}"
        )
    lines.append("sigma_cov: C = 1/2 (held-out queries in some training point's shell); sigma_w: W = 1/2 (max posterior weight);")
    lines.append(f"sigma_lin: above it the empirical denoiser is within {results[0].config.linearity_tolerance:g} (relative rms) of the "
                 "Wiener denoiser of the training mean and covariance")
    lines.append(f"theory: exact expected coverage ({results[0].theory['route']}); sigma_C = collapse point (leading order of both edges)")
    return "\n".join(lines)


def _swap(args) -> int:
    from diffsim.studies.geometry import SwapConfig, run_swap

    config = SwapConfig(data=args.data, dim=args.dim, alpha=args.alpha, alpha_d=args.alpha_d, n_samples=args.samples,
                        n_steps=args.steps, method=args.method, seed=args.seed).validate()
    result = run_swap(config)
    lines = [f"N={args.dim}  sigma_cov={result.sigma_cov:.3f}  sigma_w={result.sigma_w:.3f}",
             "direction            window          sigma_lo  sigma_hi   memorized"]
    for r in result.rows():
        lines.append(f"{r['direction']:20s} {str(r['window']):14s} {_fmt(r['sigma_lo'])}    {_fmt(r['sigma_hi'])}    "
                     f"{r['value']:.3f}±{_fmt(r['stderr'])}")
    emit(result.to_json(), "\n".join(lines), args.json)
    return 0


def _net_swap(args) -> int:
    from diffsim.studies.geometry_nets import NetSwapConfig, run_net_swap

    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    configs = [NetSwapConfig(data=args.data, alpha_d=args.alpha_d, dim=args.dim, n_few=args.few, n_many=args.many,
                             width=args.width, steps=args.train_steps, learning_rate=args.lr, n_samples=args.samples,
                             n_steps=args.steps, families=families, seed=seed).validate()
               for seed in args.seeds]
    step = None if args.quiet else progress("geometry-net-swap", None)
    results = [run_net_swap(c, progress=step) for c in configs]
    emit({"rows": [r.to_json() for r in results]}, "\n\n".join(net_swap_table(r) for r in results), args.json)
    return 0


def net_swap_table(result) -> str:
    """The memorized fraction (against the few-point set, and against the many-point set) per
    family, direction and window, and the calm-end verdicts."""
    c = result.config
    lines = [f"N={c.dim}  P_few={c.n_few}  P_many={c.n_many}  seed={c.seed}  sigma_cov={result.sigma_cov.value:.3f}"
             f"  sigma_w={result.sigma_w.value:.3f}  final loss mem {result.final_loss[0]:.3f} gen {result.final_loss[1]:.3f}",
             "family direction  window         sigma_lo sigma_hi  memorized (few) [95% CI]       own (many)"]
    for r in result.rows():
        lines.append(f"{r['family']:6s} {r['direction']:10s} {str(r['window']):14s} {_fmt(r['sigma_lo']):>8} {_fmt(r['sigma_hi']):>8}"
                     f"  {r['value']:.3f}±{_fmt(r['stderr'])} [{r['ci_lo']:.3f},{r['ci_hi']:.3f}]"
                     f"  {r['memorized_own']:.3f}±{_fmt(r['memorized_own_stderr'])}")
    from diffsim.studies.geometry_nets import calm_ends

    for family, ends in calm_ends(result).items():
        lines.append(f"{family}: " + "; ".join(f"{w} raise {v['raise']:+.3f} drop {v['drop']:+.3f} {'calm' if v['calm'] else 'NOT calm'}"
                                             for w, v in ends.items()))
    lines.append("raise: mem_in_gen - all_gen; drop: all_mem - gen_in_mem; calm: both swapped runs' 95% intervals overlap their baselines'")
    return "\n".join(lines)


def _mitigation(args) -> int:
    from diffsim.studies.geometry_nets import MitigationConfig, run_mitigation

    zones = tuple(z.strip() for z in args.zones.split(",") if z.strip())
    configs = [MitigationConfig(data=args.data, alpha_d=args.alpha_d, dim=args.dim, n_train=args.train, width=args.width,
                                steps=args.train_steps, zone=z, zone_weight=args.zone_weight, n_seeds=args.seeds,
                                n_samples=args.samples, n_steps=args.steps, seed=args.seed).validate()
               for z in zones]
    step = None if args.quiet else progress("geometry-mitigation", None)
    results = [run_mitigation(c, progress=step) for c in configs]
    lines = []
    for r in results:
        c = r.config
        lines.append(f"N={c.dim} P={c.n_train} zone={c.zone} [{r.zone[0]:.3f}, {r.zone[1]:.3g}] weight={c.zone_weight:g} "
                     f"seeds={c.n_seeds} (sigma_cov={r.sigma_cov.value:.3f}, sigma_w={r.sigma_w.value:.3f}); "
                     f"SW floor (fresh vs fresh) {r.sw_floor:.3f}")
        summ = r.summary()
        for q in ("memorized", "score_error_true", "sliced_wasserstein"):
            parts = [f"{v} {summ[(v, q)][0]:.4f}±{summ[(v, q)][1]:.4f}" for v in ("standard", "mitigated", "difference")]
            lines.append(f"  {q:20s} " + "   ".join(parts))
    lines.append("difference: mitigated - standard, paired over seeds (same init, minibatches and sampler noise); "
                 "stderr over seeds")
    emit({"rows": [r.to_json() for r in results]}, "\n".join(lines), args.json)
    return 0
