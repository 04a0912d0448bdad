"""``diffsim guidance``: classifier-free guidance on class-conditional toy data, exact scores or a
trained conditional network (THEORY.md section 9; :mod:`diffsim.studies.guidance`)."""

from __future__ import annotations

from diffsim.cli_config import StudyCommand, add_study_parser, run_points
from diffsim.cli_util import add_output_flags, emit, shown
from diffsim.studies.guidance import GuidanceConfig, run_guidance


def register(sub) -> None:
    p = add_study_parser(sub, GUIDANCE)
    p.add_argument("--figure", help="write the figure here (PNG or PDF)")
    add_output_flags(p)
    p.set_defaults(handler=_guidance)


GUIDANCE = StudyCommand(
    "guidance", GuidanceConfig,
    "guidance on class-conditional data: overestimation, D1/D2 decomposition, guidance magnitude AUC, memorization vs g",
    vary={"score": ("exact",)})


def _guidance(args) -> int:
    """One study point per score kind (each runs its whole g grid)."""
    results = run_points(args, run_guidance)
    payload = {"results": [r.to_json() for r in results]}
    if args.figure:
        from diffsim.plot.guidance import figure_from_rows

        rows = [row for r in results for row in r.rows()]
        payload["figures"] = [str(figure_from_rows(rows, args.figure))]
    emit(payload, guidance_table(results, payload.get("figures")), args.json)
    return 0


def guidance_table(results, figures=None) -> str:
    """One block per score: a line per (condition, g), then the per-g summaries."""
    lines = []
    for res in results:
        cfg = res.config
        lines.append(f"Guidance on {cfg.data.model} data, N = {cfg.data.dim}, classes {list(cfg.class_counts)}, score {cfg.score}, "
                     f"{cfg.sampling.solver} {cfg.sampling.n_steps} steps, {cfg.measure.n_trajectories} seeds ({res.seconds:.1f}s)")
        head = (f"{'cond':>4} {'P_c':>4} {'g':>5} {'overest':>8} {'D1':>8} {'D2':>8} {'align':>7} {'magn':>8} "
                f"{'memor':>6} {'t_coll':>7} {'dist':>6} {'dsm':>7}")
        lines += [head, "-" * len(head)]
        for r in res.cell_rows():
            lines.append(
                f"{r['condition']:>4} {r['n_class_points']:>4} {r['guidance']:>5.3g} {shown(r['overestimation'], '.3g'):>8} "
                f"{shown(r['D1'], '.3g'):>8} {shown(r['D2'], '.3g'):>8} {shown(r['alignment'], '.3g'):>7} {shown(r['guidance_magnitude'], '.3g'):>8} "
                f"{shown(r['memorized_fraction'], '.2f'):>6} {shown(r['t_collapse'], '.3g'):>7} {shown(r['distance'], '.3g'):>6} "
                f"{shown(r['dsm_loss'], '.3g'):>7}"
            )
        for r in res.summary:
            q = r["quantity"]
            if q.startswith("corr"):
                lines.append(f"g = {r['guidance']:<4g} {q} vs {r['severity']}: Pearson {shown(r['pearson'], '.3g')}, "
                             f"Spearman {shown(r['spearman'], '.3g')} over {r['n_conditions']} conditions")
            elif q.startswith("auc"):
                lines.append(f"g = {r['guidance']:<4g} {q} (guidance magnitude): {shown(r['value'], '.3g')} "
                             f"[{shown(r['low'], '.3g')}, {shown(r['high'], '.3g')}] ({r['n_positive']} positive, {r['n_negative']} negative)")
            else:
                lines.append(f"g = {r['guidance']:<4g} {q}: {shown(r['value'], '.3g')} ± {shown(r['stderr'], '.2g')} "
                             f"({r['n_conditions']} conditions)")
        lines.append("")
    for f in figures or ():
        lines.append(f"figure: {f}")
    return "\n".join(lines)
