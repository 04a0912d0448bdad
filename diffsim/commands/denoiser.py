"""``diffsim denoiser``: train small denoisers on P points and place them between the empirical and
the true score (THEORY.md sections 10-12; :mod:`diffsim.studies.denoiser`)."""

from __future__ import annotations

from diffsim.cli_config import StudyCommand, add_study_parser, run_points
from diffsim.cli_util import add_output_flags, check_output_path, emit, shown
from diffsim.studies.denoiser import DenoiserConfig, run_denoiser


def register(sub) -> None:
    p = add_study_parser(sub, DENOISER)
    p.add_argument("--figure", help="write the figures here (PNG or PDF; a second file *_scores is added)")
    add_output_flags(p)
    p.set_defaults(handler=_denoiser)


DENOISER = StudyCommand(
    "denoiser", DenoiserConfig,
    "train denoisers on P points: memorization, score errors vs true and empirical scores, tau_gen, tau_mem")


def _denoiser(args) -> int:
    """One study point (its lists of P and widths train as one vmapped ensemble)."""
    checkpoint_dir = getattr(args, "measure.checkpoint_dir")
    if checkpoint_dir:
        check_output_path(checkpoint_dir, "--measure.checkpoint-dir", kind="dir")
    (result,) = run_points(args, run_denoiser)
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


def denoiser_table(result, figures=None) -> str:
    """Human-readable summary: one line per (width, P), the tau fits and the definitions."""
    cfg = result.config
    head = (f"{'width':>6} {'P':>7} {'memorized':>10} {'err_true':>9} {'err_emp':>9} {'SW':>7} "
            f"{'tau_gen':>9} {'tau_mem':>9} {'t_cond':>7} {'t_C':>7}")
    lines = [
        f"Denoisers on {cfg.data.model} data, N = {cfg.data.dim}, {cfg.net.architecture} depth {cfg.net.depth}, "
        f"{cfg.net.parameterisation} parameterisation, {cfg.train.steps} steps, {cfg.n_seeds} seed(s) "
        f"({result.measurement.seconds:.1f}s)",
        head,
        "-" * len(head),
    ]
    for r in result.summary():
        lines.append(
            f"{r['width']:>6} {r['P']:>7} {shown(r['memorized_fraction'], '.3f'):>10} "
            f"{shown(r['score_error_true']):>9} {shown(r['score_error_empirical']):>9} "
            f"{shown(r['sliced_wasserstein'], '.3f'):>7} {shown(r['tau_gen'], '.0f'):>9} {shown(r['tau_mem'], '.0f'):>9} "
            f"{shown(r['t_condensation'], '.3f'):>7} {shown(r['theory/t_collapse'], '.3f'):>7}"
        )
    for width, fit in result.fits().items():
        lines.append(
            f"width {width}: tau_mem ~ P^{shown(fit['tau_mem']['exponent'], '.2f')} "
            f"(± {shown(fit['tau_mem']['exponent_stderr'], '.2f')}, {fit['tau_mem']['n_points']} P), "
            f"tau_gen ~ P^{shown(fit['tau_gen']['exponent'], '.2f')} (± {shown(fit['tau_gen']['exponent_stderr'], '.2f')})"
        )
    ref = result.measurement.reference
    lines.append(f"reference: SW between two true samples {ref['sliced_wasserstein_true_vs_true']:.3f}, "
                 f"MMD^2 {ref['mmd_true_vs_true']:.4f}")
    lines.append("definitions:")
    lines.extend(f"  {k}: {v}" for k, v in result.definitions.items())
    for f in figures or ():
        lines.append(f"figure: {f}")
    return "\n".join(lines)
