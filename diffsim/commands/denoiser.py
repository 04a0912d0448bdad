"""``diffsim denoiser``: train small denoisers on P points and place them between the empirical and
the true score (THEORY.md sections 10-12; :mod:`diffsim.studies.denoiser`)."""

from __future__ import annotations

from diffsim import data
from diffsim.cli_util import add_json_flag, emit, int_list


def register(sub) -> None:
    p = sub.add_parser(
        "denoiser",
        help="train denoisers on P points: memorization, score errors vs true and empirical scores, tau_gen, tau_mem",
    )
    p.add_argument("--data", default="mixture", help=f"data model: {', '.join(data.DATA_MODELS)} [mixture]")
    p.add_argument("--dim", type=int, default=8, help="dimension N [8]")
    p.add_argument("--n-train", type=int_list, default=(4, 8, 16, 32), help="comma-separated training-set sizes P [4,8,16,32]")
    p.add_argument("--width", type=int_list, default=(128,), help="network width(s), comma-separated [128]")
    p.add_argument("--depth", type=int, default=2, help="residual blocks (mlp) or layers (transformer) [2]")
    p.add_argument("--architecture", default="mlp", help="mlp or transformer [mlp]")
    p.add_argument("--heads", type=int, default=4, help="transformer attention heads [4]")
    p.add_argument("--parameterisation", default="eps", help="eps, x0 or edm [eps]")
    p.add_argument("--steps", type=int, default=8000, help="training steps [8000]")
    p.add_argument("--batch-size", type=int, default=64, help="minibatch size [64]")
    p.add_argument("--lr", type=float, default=3e-3, help="learning rate [3e-3]")
    p.add_argument("--optimizer", default="adam", help="adam, adamw or sgd [adam]")
    p.add_argument("--weight-decay", type=float, default=0.0, help="weight decay [0]")
    p.add_argument("--ema", type=float, default=0.0, help="EMA decay of the weights, 0 = off [0]")
    p.add_argument("--time-law", default="uniform", help="training times: uniform, log_sigma or beta [uniform]")
    p.add_argument("--seeds", type=int, default=1, help="seeds per P, trained together [1]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--checkpoints", type=int, default=16, help="log-spaced checkpoints [16]")
    p.add_argument("--steps-per-dispatch", type=int, default=25, help="training steps per jitted scan [25]")
    p.add_argument("--samples", type=int, default=256, help="generated samples per checkpoint [256]")
    p.add_argument("--mem-threshold", type=float, default=0.5, help="memorization level defining tau_mem [0.5]")
    p.add_argument("--sigma", type=float, default=1.0, help="(cluster) standard deviation [1.0]")
    p.add_argument("--mtilde", type=float, default=1.0, help="mixture: |v|^2 = N mtilde^2 [1.0]")
    p.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [0.5]")
    p.add_argument("--nonlinearity", default="linear", help="hmm: linear, tanh, sign or relu [linear]")
    p.add_argument("--checkpoint-dir", help="write the training states here at every checkpoint")
    p.add_argument("--figure", help="write the figures here (PNG or PDF; a second file *_scores is added)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(p)
    p.set_defaults(handler=_denoiser)


def _denoiser(args) -> int:
    from diffsim.studies.denoiser import DenoiserConfig, run_denoiser

    config = DenoiserConfig(
        data=args.data, dim=args.dim, n_train=tuple(args.n_train), widths=tuple(args.width), depth=args.depth,
        architecture=args.architecture, heads=args.heads, parameterisation=args.parameterisation,
        steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr, optimizer=args.optimizer,
        weight_decay=args.weight_decay, ema_decay=args.ema, time_law=args.time_law, n_seeds=args.seeds,
        seed=args.seed, n_checkpoints=args.checkpoints, steps_per_dispatch=args.steps_per_dispatch,
        n_samples=args.samples, mem_threshold=args.mem_threshold, sigma=args.sigma, mtilde=args.mtilde,
        alpha_d=args.alpha_d, nonlinearity=args.nonlinearity, checkpoint_dir=args.checkpoint_dir,
    ).validate()
    result = run_denoiser(config, progress=not args.quiet)
    payload = result.to_json()
    if args.figure:
        from pathlib import Path

        from diffsim.plot.nets import plot_memorization_dynamics, plot_score_errors

        path = Path(args.figure)
        payload["figures"] = [
            str(plot_memorization_dynamics(result, path)),
            str(plot_score_errors(result, path.with_name(f"{path.stem}_scores{path.suffix}"))),
        ]
    emit(payload, denoiser_table(result, payload.get("figures")), args.json)
    return 0


def _fmt(v, spec=".4g"):
    return "-" if v is None else format(v, spec)


def denoiser_table(result, figures=None) -> str:
    """Human-readable summary: one line per (width, P), the tau fits and the definitions."""
    cfg = result.config
    head = (f"{'width':>6} {'P':>7} {'memorized':>10} {'err_true':>9} {'err_emp':>9} {'SW':>7} "
            f"{'tau_gen':>9} {'tau_mem':>9} {'t_cond':>7} {'t_C':>7}")
    lines = [
        f"Denoisers on {cfg.data} data, N = {cfg.dim}, {cfg.architecture} depth {cfg.depth}, "
        f"{cfg.parameterisation} parameterisation, {cfg.steps} steps, {cfg.n_seeds} seed(s) "
        f"({result.seconds:.1f}s)",
        head,
        "-" * len(head),
    ]
    for r in result.summary():
        lines.append(
            f"{r['width']:>6} {r['P']:>7} {_fmt(r['memorization_fraction'], '.3f'):>10} "
            f"{_fmt(r['score_error_true']):>9} {_fmt(r['score_error_empirical']):>9} "
            f"{_fmt(r['sliced_wasserstein'], '.3f'):>7} {_fmt(r['tau_gen'], '.0f'):>9} {_fmt(r['tau_mem'], '.0f'):>9} "
            f"{_fmt(r['t_condensation'], '.3f'):>7} {_fmt(r['theory/t_collapse'], '.3f'):>7}"
        )
    for width, fit in result.fits().items():
        lines.append(
            f"width {width}: tau_mem ~ P^{_fmt(fit['tau_mem']['exponent'], '.2f')} "
            f"(± {_fmt(fit['tau_mem']['exponent_stderr'], '.2f')}, {fit['tau_mem']['n_points']} P), "
            f"tau_gen ~ P^{_fmt(fit['tau_gen']['exponent'], '.2f')} (± {_fmt(fit['tau_gen']['exponent_stderr'], '.2f')})"
        )
    ref = result.reference
    lines.append(f"reference: SW between two true samples {ref['sliced_wasserstein_true_vs_true']:.3f}, "
                 f"MMD^2 {ref['mmd_true_vs_true']:.4f}")
    lines.append("definitions:")
    lines.extend(f"  {k}: {v}" for k, v in result.definitions.items())
    for f in figures or ():
        lines.append(f"figure: {f}")
    return "\n".join(lines)
