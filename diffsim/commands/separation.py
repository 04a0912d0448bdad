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

from diffsim.cli_util import add_json_flag, emit, float_list, int_list, progress


def register(sub) -> None:
    group = sub.add_parser("separation", help="provable separations: loss gap == Fisher divergence; network size vs P")
    inner = group.add_subparsers(dest="separation_command", required=True, metavar="SUBCOMMAND")

    p = inner.add_parser("loss-gap", help="loss gap of the true score on the empirical DSM loss vs the Fisher divergence")
    p.add_argument("--data", default="gaussian", help="gaussian, mixture or hmm (linear) [gaussian]")
    p.add_argument("--dim", type=int, default=8, help="dimension N [8]")
    p.add_argument("--n-train", type=int_list, default=(64, 512, 4096), help="comma-separated training-set sizes P [64,512,4096]")
    p.add_argument("--times", type=float_list, default=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
                   help="comma-separated times t (our clock; the paper's is 2t) [0.01,...,1]")
    p.add_argument("--samples", type=int, default=4096, help="Monte-Carlo draws per t and estimator [4096]")
    p.add_argument("--batch", type=int, default=512, help="queries per streamed evaluation [512]")
    p.add_argument("--sigma", type=float, default=1.0, help="(cluster) standard deviation [1.0]")
    p.add_argument("--mtilde", type=float, default=2.0, help="mixture separation: |v|^2 = N mtilde^2 [2.0]")
    p.add_argument("--components", type=int, default=2, help="mixture components K (K > 2: means mtilde sqrt(N) e_k) [2]")
    p.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [0.5]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(p)
    p.set_defaults(handler=_loss_gap)

    p = inner.add_parser("size", help="smallest MLP width that memorizes / fits the empirical / the true score, vs P")
    p.add_argument("--data", default="gaussian", help="gaussian, mixture or hmm (linear) [gaussian]")
    p.add_argument("--dim", type=int, default=4, help="dimension N [4]")
    p.add_argument("--n-train", type=int_list, default=(4, 8, 16, 32, 64), help="comma-separated P [4,8,16,32,64]")
    p.add_argument("--widths", type=int_list, default=(4, 8, 16, 32, 64, 128), help="width grid [4,8,16,32,64,128]")
    p.add_argument("--depth", type=int, default=1, help="residual blocks [1]")
    p.add_argument("--steps", type=int, default=2000, help="Adam steps of the fixed budget [2000]")
    p.add_argument("--batch-size", type=int, default=128, help="minibatch size [128]")
    p.add_argument("--samples", type=int, default=256, help="generated samples per network [256]")
    p.add_argument("--lr", type=float, default=3e-3, help="learning rate [3e-3]")
    p.add_argument("--seeds", type=int, default=2, help="seeds per (P, width) [2]")
    p.add_argument("--mem-threshold", type=float, default=0.5, help="memorized fraction defining 'memorizes' [0.5]")
    p.add_argument("--tolerance", type=float, default=0.02, help="score error E|eps - eps*|^2/N defining 'fits' [0.02]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(p)
    p.set_defaults(handler=_size)

    p = inner.add_parser("prune", help="pruning mitigation: importance vs random vs no head pruning of a trained transformer")
    p.add_argument("--data", default="mixture", help="gaussian, mixture or hmm (linear) [mixture]")
    p.add_argument("--dim", type=int, default=8, help="dimension N [8]")
    p.add_argument("--n-train", type=int_list, default=(16,), help="comma-separated P, one run each [16]")
    p.add_argument("--components", type=int, default=2, help="mixture components K [2]")
    p.add_argument("--mtilde", type=float, default=2.0, help="mixture separation [2.0]")
    p.add_argument("--width", type=int, default=40, help="transformer model width [40]")
    p.add_argument("--depth", type=int, default=2, help="transformer layers [2]")
    p.add_argument("--heads", type=int, default=5, help="heads per layer [5]")
    p.add_argument("--steps", type=int, default=3000, help="training steps [3000]")
    p.add_argument("--finetune-steps", type=int, default=500, help="fine-tuning steps for every arm [500]")
    p.add_argument("--lr", type=float, default=1e-3, help="training learning rate [1e-3]")
    p.add_argument("--finetune-lr", type=float, default=3e-4, help="fine-tuning learning rate [3e-4]")
    p.add_argument("--fraction", type=float, default=0.2, help="fraction of heads removed (rounded up, >= 1 head) [0.2]")
    p.add_argument("--seeds", type=int, default=4, help="networks (training set, init, noise) per P [4]")
    p.add_argument("--random-draws", type=int, default=3, help="random prunings per seed [3]")
    p.add_argument("--samples", type=int, default=256, help="generated samples per network [256]")
    p.add_argument("--eval", type=int, default=1024, help="fresh noised points for the score error [1024]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_json_flag(p)
    p.set_defaults(handler=_prune)


def _fmt(v, spec=".4g"):
    return "-" if v is None else format(v, spec)


def _loss_gap(args) -> int:
    from diffsim.studies.separation import LossGapConfig, gap_decay, run_loss_gap

    configs = [
        LossGapConfig(data=args.data, dim=args.dim, n_train=p, times=tuple(args.times), n_samples=args.samples,
                      batch=args.batch, seed=args.seed, sigma=args.sigma, mtilde=args.mtilde,
                      n_components=args.components, alpha_d=args.alpha_d).validate()
        for p in args.n_train
    ]
    report = None if args.quiet else progress("separation loss-gap", len(configs))
    results = [run_loss_gap(c, progress=report) for c in configs]
    rows = [row for r in results for row in r.summary()]
    decay = gap_decay(results)
    payload = {"rows": rows, "decay": decay, "theory": [{"P": r.config.n_train, **r.to_json()["theory"]} for r in results]}
    head = (f"{'P':>7} {'t':>6} {'t_paper':>7} {'loss_gap':>10} {'±':>8} {'fisher':>10} {'±':>8} "
            f"{'gap*D/N':>8} {'cond*D/N':>8} {'dilute':>9} {'t_C':>6}")
    notes = ("gap*D/N: loss_gap Delta_t / N; cond*D/N: condensed closed form <rho/(1+rho)>; dilute: the 1/P law, "
             "shown for t >= t_dilute only; t_C: collapse time at alpha = log(P)/N")
    what = f"{args.data} (K = {args.components}, mtilde = {args.mtilde:g})" if args.data == "mixture" else args.data
    lines = [f"Loss gap l_t(s_true) - l_t(s_e) vs Fisher divergence, {what} data, N = {args.dim}, "
             f"{configs[0].n_samples} draws per t (paper clock: t_paper = 2t)", head, "-" * len(head)]
    for r in results:
        cond = r.theory["loss_gap_condensed"]
        for i, row in enumerate(r.summary()):
            d = -math.expm1(-2.0 * row["t"]) / row["N"]
            dilute = row["theory/loss_gap_dilute"] if row["theory/t_dilute"] is not None and row["t"] >= row["theory/t_dilute"] else None
            lines.append(
                f"{row['P']:>7} {row['t']:>6.3g} {row['t_paper']:>7.3g} {_fmt(row['loss_gap']):>10} "
                f"{_fmt(row['loss_gap_stderr'], '.2g'):>8} {_fmt(row['fisher']):>10} {_fmt(row['fisher_stderr'], '.2g'):>8} "
                f"{_fmt(row['scaled_gap'], '.3f'):>8} {cond[i] * d:>8.3f} {_fmt(dilute, '.3g'):>9} "
                f"{row['theory/t_collapse']:>6.3f}"
            )
    lines.append(notes)
    for d in decay:
        if d["n_sizes"] >= 2:
            lines.append(f"t = {d['t']:g}: gap ~ P^{_fmt(d['exponent'], '.2f')} ± {_fmt(d['exponent_stderr'], '.2f')} "
                         f"over {d['n_sizes']} P above t_C (paper rate -1/N = {d['paper_rate']:.3f}, dilute law -1)")
    emit(payload, "\n".join(lines), args.json)
    return 0


def _size(args) -> int:
    from diffsim.studies.separation_size import SizeConfig, run_size, size_table, width_scaling

    configs = [
        SizeConfig(data=args.data, dim=args.dim, n_train=p, widths=tuple(args.widths), depth=args.depth,
                   steps=args.steps, batch_size=args.batch_size, n_samples=args.samples, learning_rate=args.lr, n_seeds=args.seeds, mem_threshold=args.mem_threshold,
                   tolerance=args.tolerance, seed=args.seed, p_layout=max(args.n_train)).validate()
        for p in args.n_train
    ]
    report = None if args.quiet else progress("separation size", len(configs))
    results = [run_size(c, progress=report) for c in configs]
    payload = {"rows": [row for r in results for row in r.summary()], "scaling": width_scaling(results),
               "definitions": results[0].definitions}
    emit(payload, size_table(results), args.json)
    return 0


def _prune(args) -> int:
    from diffsim.studies.separation_pruning import PruneConfig, prune_table, run_prune

    configs = [
        PruneConfig(data=args.data, dim=args.dim, n_train=p, n_components=args.components, mtilde=args.mtilde,
                    width=args.width, depth=args.depth, heads=args.heads, steps=args.steps,
                    finetune_steps=args.finetune_steps, learning_rate=args.lr,
                    finetune_learning_rate=args.finetune_lr, prune_fraction=args.fraction, n_seeds=args.seeds,
                    n_random=args.random_draws, n_samples=args.samples, n_eval=args.eval, seed=args.seed).validate()
        for p in args.n_train
    ]
    report = None if args.quiet else progress("separation prune", len(configs))
    results = [run_prune(c, progress=report) for c in configs]
    payload = {"rows": [row for r in results for row in r.summary()],
               "differences": [dict(P=r.config.n_train, **d) for r in results for d in r.differences("finetuned")],
               "verdict": [dict(P=r.config.n_train, **r.verdict()) for r in results],
               "definitions": results[0].definitions}
    emit(payload, prune_table(results), args.json)
    return 0
