"""Core commands: ``theory collapse``, ``collapse``, ``speciation``."""

from __future__ import annotations

import math

from diffsim import _validate, data
from diffsim.cli_config import StudyCommand, add_study_parser, run_points
from diffsim.cli_util import add_output_flags, emit
from diffsim.studies.collapse import CollapseConfig, collapse_payload, extrapolate, run_collapse
from diffsim.studies.speciation import SpeciationConfig, run_speciation
from diffsim.theory.collapse import collapse_time_isotropic, trap_onset_time
from diffsim.theory.spectrum import Spectrum
from diffsim.theory.speciation import speciation_time


def register(sub) -> None:
    theory = sub.add_parser("theory", help="closed-form predictions")
    theory_sub = theory.add_subparsers(dest="theory_command", required=True, metavar="QUANTITY")
    # A closed form, not a study: no config behind it, so its few options are written here.
    p = theory_sub.add_parser("collapse", help="collapse time t_C (and speciation time t_S where defined)",
                              description="collapse time t_C (and speciation time t_S where defined)")
    p.add_argument("--data", required=True, help="data model: gaussian, mixture or hmm (required)")
    p.add_argument("--alpha", type=float, help="load alpha = log(P)/N (or --dim with --n-train)")
    p.add_argument("--alpha-d", type=float, default=0.5, help="hmm: latent ratio D/N [default: 0.5]")
    p.add_argument("--nonlinearity", default="linear", help="hmm: linear, tanh, sign or relu [default: linear]")
    p.add_argument("--dim", type=int, help="dimension N (with --n-train)")
    p.add_argument("--n-train", type=int, help="number of training points P (with --dim)")
    p.add_argument("--sigma", type=float, default=1.0, help="(cluster) standard deviation sigma [default: 1.0]")
    p.add_argument("--mtilde", type=float, default=1.0, help="mixture: |v|^2 = N mtilde^2 [default: 1.0]")
    add_output_flags(p)
    p.set_defaults(handler=_theory_collapse)

    p = add_study_parser(sub, COLLAPSE)
    p.add_argument("--figure", help="write the figure here (PNG or PDF)")
    add_output_flags(p)
    p.set_defaults(handler=_collapse)

    p = add_study_parser(sub, SPECIATION)
    p.add_argument("--figure", help="write the figure here (PNG or PDF)")
    add_output_flags(p)
    p.set_defaults(handler=_speciation)


COLLAPSE = StudyCommand("collapse", CollapseConfig, "measure the collapse time with four estimators vs theory",
                        vary={"data.dim": (16, 20, 24, 28)})
SPECIATION = StudyCommand("speciation", SpeciationConfig, "measure phi(t) and t_S by the clone protocol vs theory "
                          "(two-cluster mixture)", vary={"data.dim": (16, 32, 64)})


MAX_ALPHA = 5.0  # the studies' bound on the load; exp(2 alpha) and the theory's root finders stay finite


def _theory_collapse(args) -> int:
    _validate.choice("data", args.data, data.DATA_MODELS)
    sigma = _validate.positive("sigma", args.sigma)
    if args.alpha is not None:
        if args.dim is not None or args.n_train is not None:
            raise _validate.ConfigError("give either --alpha or --dim with --n-train, not both")
        alpha = _validate.positive("alpha", args.alpha, upper=MAX_ALPHA)
    elif args.dim is not None and args.n_train is not None:
        n = _validate.integer("dim", args.dim, minimum=1)
        p = _validate.integer("n-train", args.n_train, minimum=2, maximum=None)  # a count, never allocated
        alpha = math.log(p) / n
        if alpha > MAX_ALPHA:
            digits = str(p)
            shown = digits if len(digits) <= 15 else f"{digits[0]}.{digits[1:3]}e{len(digits) - 1}"
            raise _validate.ConfigError(f"n-train={shown} with dim={n} gives alpha = log(P)/N = {alpha:.4g}: "
                                        f"expected alpha in (0, {MAX_ALPHA}]")
    else:
        raise _validate.ConfigError("alpha is missing: give --alpha A, or --dim N with --n-train P")
    payload = {"data": args.data, "alpha": alpha, "sigma": sigma, "t_collapse": float(collapse_time_isotropic(alpha, sigma))}
    if args.data == "gaussian":
        payload["t_onset"] = float(trap_onset_time(alpha, Spectrum.isotropic(sigma**2)))
    if args.data == "hmm":
        payload.update(_hmm_predictions(alpha, args.alpha_d, args.nonlinearity))
    if args.data == "mixture" and args.dim is not None:
        mtilde = _validate.positive("mtilde", args.mtilde)
        payload["t_speciation"] = float(speciation_time(args.dim * mtilde**2 + sigma**2))
    lines = [f"{k:>14}  {v}" for k, v in payload.items()]
    emit(payload, "\n".join(lines), args.json)
    return 0


def _hmm_predictions(alpha: float, alpha_d, nonlinearity) -> dict:
    """Hidden-manifold theory (sections 4 and 6): ``t_collapse`` and ``t_onset`` of the Gaussian with the
    model's ``N -> inf`` spectrum (Marchenko-Pastur for linear phi, [derived]; Gaussian-equivalent for
    nonlinear phi, an approximation), plus the linear-HMM and isotropic collapse times."""
    from diffsim.theory.hmm import NONLINEARITIES, asymptotic_spectrum, hmm_collapse_theory

    alpha_d = _validate.positive("alpha-d", alpha_d, upper=1.0)
    _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)
    spectrum = asymptotic_spectrum("hmm", alpha_d, nonlinearity)
    theory = hmm_collapse_theory(alpha, alpha_d, nonlinearity)
    return {
        "sigma": 1.0,
        "alpha_d": alpha_d,
        "nonlinearity": nonlinearity,
        "t_collapse": theory["t_collapse_gaussian_equivalent"],
        "t_onset": float(trap_onset_time(alpha, spectrum)),
        **theory,
        "approximation": nonlinearity != "linear",
    }


def _collapse(args) -> int:
    """One study point per N (all validated before any runs), then the 1/N extrapolation."""
    results = run_points(args, run_collapse)
    payload = collapse_payload(results)
    if args.figure:
        from diffsim.plot import plot_collapse

        payload["figure"] = str(plot_collapse(results, args.figure))
    emit(payload, collapse_table(results, extrapolate(results), payload.get("figure")), args.json)
    return 0


def collapse_table(results, extrapolated: dict, figure=None) -> str:
    """Human-readable table of collapse results at several N, with theory and the 1/N extrapolation."""
    first = results[0]
    names = list(first.estimates)
    t_c = first.theory["t_collapse"]
    head = f"{'N':>5} {'P':>9} " + " ".join(f"{n:>16}" for n in names)
    lines = [
        f"Collapse time, {first.config.data.model} data, alpha = {first.config.data.alpha}: "
        f"theory t_C = {t_c:.4f} (THEORY.md section 4)",
        head,
        "-" * len(head),
    ]
    for r in results:
        cells = " ".join(f"{r.estimates[n].value:>8.4f} ±{r.estimates[n].stderr:6.4f}" for n in names)
        lines.append(f"{r.measurement.dim:>5} {r.measurement.n_points:>9} {cells}")
    if extrapolated:
        cells = " ".join(f"{extrapolated[n].value:>8.4f} ±{extrapolated[n].stderr:6.4f}" for n in names)
        lines.append(f"{'1/N->0':>15} {cells}")
        devs = " ".join(f"{100 * (extrapolated[n].value / t_c - 1):>15.1f}%" for n in names)
        lines.append(f"{'vs theory':>15} {devs}")
    if figure:
        lines.append(f"figure: {figure}")
    return "\n".join(lines)


def _speciation(args) -> int:
    results = run_points(args, run_speciation)
    payload = {"config": {**results[0].to_json()["config"], "dims": [r.config.data.dim for r in results]},
               "rows": [{k: v for k, v in r.to_json().items() if k != "config"} for r in results]}
    if args.figure:
        from diffsim.plot import plot_speciation

        payload["figure"] = str(plot_speciation(results, args.figure))
    lines = [f"{'N':>5} {'Lambda':>9} {'t_S theory':>11} {'t_S measured':>20}"]
    for r in results:
        t = r.measurement.t_speciation
        lines.append(
            f"{r.measurement.dim:>5} {r.largest_eigenvalue:>9.2f} {r.t_speciation_theory:>11.4f} "
            f"{t.value:>11.4f} ±{t.stderr:.4f}"
        )
    if args.figure:
        lines.append(f"figure: {payload['figure']}")
    emit(payload, "\n".join(lines), args.json)
    return 0
