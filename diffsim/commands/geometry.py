"""``diffsim geometry``, ``geometry-swap``, ``geometry-net-swap`` and ``geometry-mitigation``: posterior
concentration W and shell coverage C vs sigma, the danger zone between sigma_cov and sigma_w against theory,
large-noise linearity, window swaps with exact scores and with trained nets, and the training-time
mitigation (THEORY.md section 8; :mod:`diffsim.studies.geometry`, :mod:`diffsim.studies.geometry_nets`)."""

from __future__ import annotations

from diffsim.cli_config import StudyCommand, add_study_parser, run_points
from diffsim.cli_util import add_output_flags, emit, shown
from diffsim.studies.geometry import GeometryConfig, SwapConfig, run_geometry, run_swap, zone_trend
from diffsim.studies.geometry_nets import MitigationConfig, NetSwapConfig, calm_ends, run_mitigation, run_net_swap


def register(sub) -> None:
    for command, handler in ((GEOMETRY, _geometry), (SWAP, _swap), (NET_SWAP, _net_swap), (MITIGATION, _mitigation)):
        p = add_study_parser(sub, command)
        add_output_flags(p)
        p.set_defaults(handler=handler)


GEOMETRY = StudyCommand("geometry", GeometryConfig,
                        "posterior concentration W and shell coverage C vs sigma: the danger zone vs theory",
                        vary={"data.dim": (20, 30, 40)})
SWAP = StudyCommand("geometry-swap", SwapConfig,
                    "swap the exact empirical and true scores inside one noise window: which window memorizes")
NET_SWAP = StudyCommand(
    "geometry-net-swap", NetSwapConfig,
    "swap a memorizing and a generalizing trained net (and the exact scores) inside one noise window",
    vary={"seed": (0,)})
MITIGATION = StudyCommand(
    "geometry-mitigation", MitigationConfig,
    "training-time mitigation: down-weight the DSM loss inside a noise window, paired against standard training",
    vary={"measure.zone": ("medium",)})


def _geometry(args) -> int:
    results = run_points(args, run_geometry)
    payload = {"rows": [r.to_json() for r in results], "trend": zone_trend(results) if len(results) > 1 else None}
    emit(payload, geometry_table(results), args.json)
    return 0


def geometry_table(results) -> str:
    lines = ["    N        P   sigma_cov (theory)        sigma_w (sigma_C)         log-width        sigma_lin"]
    for r in results:
        s = r.summary()
        lines.append(
            f"{s['N']:5d} {s['P']:8d}   {shown(s['sigma_cov'], '.3f')}±{shown(s['sigma_cov_stderr'], '.3f')} ({shown(s['theory/sigma_cov'], '.3f')})"
            f"   {shown(s['sigma_w'], '.3f')}±{shown(s['sigma_w_stderr'], '.3f')} ({shown(s['theory/sigma_c'], '.3f')})"
            f"   {shown(s['log_width'], '.3f')}±{shown(s['log_width_stderr'], '.3f')}"
            f"   {shown(s['sigma_lin'], '.3f')}±{shown(s['sigma_lin_stderr'], '.3f')}"
        )
    lines.append("sigma_cov: C = 1/2 (held-out queries in some training point's shell); sigma_w: W = 1/2 (max posterior weight);")
    lines.append(f"sigma_lin: above it the empirical denoiser is within {results[0].config.linearity.tolerance:g} (relative rms) of the "
                 "Wiener denoiser of the training mean and covariance")
    lines.append(f"theory: exact expected coverage ({results[0].theory['route']}); sigma_C = collapse point (leading order of both edges)")
    return "\n".join(lines)


def _swap(args) -> int:
    (result,) = run_points(args, run_swap)
    lines = [f"N={result.config.data.dim}  sigma_cov={result.sigma_cov:.3f}  sigma_w={result.sigma_w:.3f}",
             "direction            window          sigma_lo  sigma_hi   memorized"]
    for r in result.rows():
        lines.append(f"{r['direction']:20s} {str(r['window']):14s} {shown(r['sigma_lo'], '.3f')}    {shown(r['sigma_hi'], '.3f')}    "
                     f"{r['value']:.3f}±{shown(r['stderr'], '.3f')}")
    emit(result.to_json(), "\n".join(lines), args.json)
    return 0


def _net_swap(args) -> int:
    results = run_points(args, run_net_swap)
    emit({"rows": [r.to_json() for r in results]}, "\n\n".join(net_swap_table(r) for r in results), args.json)
    return 0


def net_swap_table(result) -> str:
    """The memorized fraction (against the few-point set, and against the many-point set) per
    family, direction and window, and the calm-end verdicts."""
    c, m = result.config, result.measurement
    lines = [f"N={c.data.dim}  P_few={c.n_few}  P_many={c.data.n_train}  seed={c.seed}  sigma_cov={m.sigma_cov.value:.3f}"
             f"  sigma_w={m.sigma_w.value:.3f}  final loss mem {m.final_loss[0]:.3f} gen {m.final_loss[1]:.3f}",
             "family direction  window         sigma_lo sigma_hi  memorized (few) [95% CI]       own (many)"]
    for r in result.rows():
        lines.append(f"{r['family']:6s} {r['direction']:10s} {str(r['window']):14s} {shown(r['sigma_lo'], '.3f'):>8} {shown(r['sigma_hi'], '.3f'):>8}"
                     f"  {r['value']:.3f}±{shown(r['stderr'], '.3f')} [{r['ci_lo']:.3f},{r['ci_hi']:.3f}]"
                     f"  {r['memorized_fraction_own']:.3f}±{shown(r['memorized_fraction_own_stderr'], '.3f')}")
    for family, ends in calm_ends(m).items():
        lines.append(f"{family}: " + "; ".join(f"{w} raise {v['raise']:+.3f} drop {v['drop']:+.3f} {'calm' if v['calm'] else 'NOT calm'}"
                                             for w, v in ends.items()))
    lines.append("raise: mem_in_gen - all_gen; drop: all_mem - gen_in_mem; calm: both swapped runs' 95% intervals overlap their baselines'")
    return "\n".join(lines)


def _mitigation(args) -> int:
    results = run_points(args, run_mitigation)
    lines = []
    for r in results:
        c, m = r.config, r.measurement
        lines.append(f"N={c.data.dim} P={c.data.n_train} zone={c.measure.zone} [{m.zone[0]:.3f}, {m.zone[1]:.3g}] "
                     f"weight={c.measure.zone_weight:g} seeds={c.measure.n_seeds} (sigma_cov={m.sigma_cov.value:.3f}, sigma_w={m.sigma_w.value:.3f}); "
                     f"SW floor (fresh vs fresh) {m.sw_floor:.3f}")
        summ = m.summary()
        for q in ("memorized_fraction", "score_error_true", "sliced_wasserstein"):
            parts = [f"{v} {summ[(v, q)][0]:.4f}±{summ[(v, q)][1]:.4f}" for v in ("standard", "mitigated", "difference")]
            lines.append(f"  {q:20s} " + "   ".join(parts))
    lines.append("difference: mitigated - standard, paired over seeds (same init, minibatches and sampler noise); "
                 "stderr over seeds")
    emit({"rows": [r.to_json() for r in results]}, "\n".join(lines), args.json)
    return 0
