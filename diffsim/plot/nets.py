"""Figures of the denoiser study (:mod:`diffsim.studies.denoiser`; THEORY.md sections 10-12).

Every ``draw_*`` function draws one panel on the matplotlib axes it is given, from a
:class:`~diffsim.studies.denoiser.DenoiserResult` (a fresh run, or one rebuilt from a results table
by ``DenoiserResult.from_rows``), and returns the artists it drew. The ``*_figure`` functions compose
them into a :class:`~matplotlib.figure.Figure` in the one diffsim style (the scripts of
``paper_figures/`` save them); the ``plot_*`` functions write such a figure to a file (used by
``diffsim denoiser --figure``).

A power law ``c P^b`` is drawn as a fit only over at least :data:`MIN_FIT_POINTS` distinct P; through
two P it is drawn as the segment between them and labelled "2 points: slope, not a fit" (an exponent
panel marks such a slope with an open triangle); with fewer, no line is drawn.

Panels: :func:`draw_memorization`, :func:`draw_dsm_loss`, :func:`draw_taus`,
:func:`draw_score_errors`, :func:`draw_memorization_vs_width`, :func:`draw_memorization_vs_n_train`,
:func:`draw_tau_mem_by_width`, :func:`draw_tau_mem_exponents`, :func:`draw_tau_mem_exponent_vs_lr`.

Figures: :func:`memorization_dynamics_figure`, :func:`score_errors_figure`,
:func:`memorization_vs_capacity_figure`, :func:`tau_mem_scaling_figure`.

Files: :func:`plot_memorization_dynamics`, :func:`plot_score_errors`,
:func:`plot_memorization_vs_capacity`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from diffsim.plot._base import MIN_FIT_POINTS, colormap, save_figure, style, subplots
from diffsim.process import delta

__all__ = [
    "MIN_FIT_POINTS",
    "draw_memorization",
    "draw_dsm_loss",
    "draw_taus",
    "draw_score_errors",
    "draw_memorization_vs_width",
    "draw_memorization_vs_n_train",
    "draw_tau_mem_by_width",
    "draw_tau_mem_exponents",
    "draw_tau_mem_exponent_vs_lr",
    "memorization_dynamics_figure",
    "score_errors_figure",
    "memorization_vs_capacity_figure",
    "tau_mem_scaling_figure",
    "plot_memorization_dynamics",
    "plot_score_errors",
    "plot_memorization_vs_capacity",
]


STEP_LABEL = "training step (step 0 shown at half the first checkpoint)"
TIME_LABEL = "diffusion time t (OU clock, dimensionless)"
TAU_LABEL = {"tau_mem": "$\\tau_{mem}$", "tau_gen": "$\\tau_{gen}$"}
EXPONENT_LABEL = "exponent b of $\\tau_{mem} \\propto P^b$"
TWO_POINTS = "2 points: slope, not a fit"


# ----------------------------------------------------------------------------- helpers


def _seed_mean(members, name):
    """Mean and standard error over seeds of ``curves[name]`` (``[C]`` or ``[C, T]``)."""
    arr = np.stack([np.asarray(r.curves[name], dtype=float) for r in members])
    with warnings.catch_warnings():  # all-NaN entries (no exact score) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(arr, axis=0)
        err = np.nanstd(arr, axis=0, ddof=1) / np.sqrt(arr.shape[0]) if arr.shape[0] > 1 else np.zeros_like(mean)
    return mean, err


def _steps_axis(steps):
    """Checkpoint steps with step 0 drawn at half the first nonzero step (log axis)."""
    steps = np.asarray(steps, dtype=float)
    return np.where(steps > 0, steps, 0.5 * steps[steps > 0].min())


def _members(result, width: int, n_train: int):
    return [r for r in result.members if r.width == width and r.n_train == n_train]


def _p_colors(n: int):
    return colormap("viridis")(np.linspace(0.05, 0.9, n))


def _width_colors(n: int):
    return colormap("plasma")(np.linspace(0.05, 0.85, n))


def _value(v) -> float:
    return np.nan if v is None else float(v)


def _log_steps_axis(ax) -> None:
    """Log x axis of training steps (decade labels only)."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(STEP_LABEL)


def _log_x_ticks(ax, values) -> None:
    """Log x axis with ticks at ``values``, labelled as plain numbers."""
    ax.set_xscale("log")
    axis = ax.xaxis
    axis.set_ticks(list(values))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _summary_by_p(result, width: int | None) -> tuple[int, dict]:
    """``(width, {P: summary row})`` for ``width`` (default: the first of the config)."""
    width = result.config.widths[0] if width is None else width
    return width, {r["P"]: r for r in result.summary() if r["width"] == width}


def _fit_support(x, y) -> int:
    """Number of distinct x with a finite positive (x, y): the points a log-log fit rests on."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    return int(np.unique(x[keep]).size)


def _exponent_text(exponent, stderr) -> str:
    err = "" if stderr is None else f" \\pm {stderr:.2f}"
    return f"$P^{{{exponent:.2f}{err}}}$"


def _draw_power_law(ax, x, y, exponent, prefactor, *, span, color) -> tuple[list, str]:
    """The power law ``prefactor * x^exponent`` of the measured ``(x, y)``: over ``span`` when
    :data:`MIN_FIT_POINTS` distinct x support it (kind ``"fit"``); as the segment between the two
    points when only two do (kind ``"2 points"``, dash-dotted: a slope, not a fit); nothing with
    fewer (kind ``"none"``). Returns ``(artists, kind)``."""
    n = _fit_support(x, y)
    if n == 2:  # the studies fit nothing through two points; join them, labelled as a slope
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
        order = np.argsort(x[keep])
        return ax.plot(x[keep][order], y[keep][order], "-.", color=color, lw=1), "2 points"
    if exponent is None or n < MIN_FIT_POINTS:
        return [], "none"
    span = np.asarray(span, dtype=float)
    return ax.plot(span, prefactor * span**exponent, "-", color=color, lw=1), "fit"


def _slope(x, y) -> float:
    """The slope of ``log y`` against ``log x`` through the two finite positive points of ``(x, y)``."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[keep], y[keep]
    return float(np.log(y[-1] / y[0]) / np.log(x[-1] / x[0])) if x.size == 2 and x[0] != x[-1] else float("nan")


def _two_point_slope(row) -> float:
    """The two-point slope of a tau_mem_scaling row with two complete P (NaN otherwise)."""
    return _slope(row["fitted_P"], [np.nan if row["tau_mem"][p] is None else row["tau_mem"][p] for p in row["fitted_P"]])


def _draw_exponents(ax, xs, rows, n_p: int, *, color, label) -> list:
    """Exponents ``rows[i]["exponent"]`` (tau_mem_scaling rows) against ``xs`` joined by a line:
    filled where fitted over all ``n_p`` P (± stderr), open circles where fitted over fewer (but at
    least :data:`MIN_FIT_POINTS`), open triangles where only two P give a slope (not a fit)."""
    supports = [_fit_support(r["fitted_P"], [r["tau_mem"][p] for p in r["fitted_P"]]) for r in rows]
    bs = np.array([_value(r["exponent"]) if n >= MIN_FIT_POINTS else _two_point_slope(r) for r, n in zip(rows, supports)])
    errs = np.array([_value(r["exponent_stderr"]) for r in rows])
    artists = ax.plot(xs, bs, "-", color=color, label=label)
    for x, b, e, n in zip(xs, bs, errs, supports):
        if n >= MIN_FIT_POINTS:
            artists.append(ax.errorbar([x], [b], yerr=[e if np.isfinite(e) else 0.0], fmt="o", color=color,
                                       mfc=color if n == n_p else "none", ms=5, capsize=2))
        elif n == 2:
            artists += ax.plot([x], [b], "^", mfc="none", color=color, ms=6)
    return artists


def _exponent_legend(ax, rows_all, n_p: int) -> list:
    """Legend proxies for the exponent markers that occur in ``rows_all``."""
    supports = [_fit_support(r["fitted_P"], [r["tau_mem"][p] for p in r["fitted_P"]]) for r in rows_all]
    artists = []
    if any(n >= MIN_FIT_POINTS and n == n_p for n in supports):
        artists += ax.plot([], [], "o", color="0.4", label="fitted over every P (± stderr)")
    if any(MIN_FIT_POINTS <= n < n_p for n in supports):
        artists += ax.plot([], [], "o", mfc="none", color="0.4", label=f"fitted over fewer P (>= {MIN_FIT_POINTS})")
    if any(n == 2 for n in supports):
        artists += ax.plot([], [], "^", mfc="none", color="0.4", label=TWO_POINTS)
    return artists


def _data_label(config) -> str:
    """``"mixture data, N = 8"`` or the Hidden Manifold Model with its parameters."""
    d = config.data
    if d.model == "hmm":
        return (f"Hidden Manifold Model ({d.nonlinearity}, $\\alpha_D$ = {d.alpha_d:g}, "
                f"D = {round(d.alpha_d * d.dim)}), N = {d.dim}")
    return f"{d.model} data, N = {d.dim}"


# ----------------------------------------------------------------------------- panels


def _per_p(result, width):
    """``(P, colour, members, steps axis, summary row)`` for every P of ``result`` at ``width``."""
    width, summary = _summary_by_p(result, width)
    n_train = result.config.n_train
    for p, color in zip(n_train, _p_colors(len(n_train))):
        ms = _members(result, width, p)
        yield p, color, ms, _steps_axis(ms[0].steps), summary[p]


def draw_memorization(ax, result, *, width: int | None = None) -> list:
    """Memorization fraction of generated samples vs training step for every P (mean over seeds,
    band = stderr), tau_mem of each P as a dotted vertical line and the threshold defining it."""
    cfg = result.config
    artists = []
    for p, color, ms, x, summary_p in _per_p(result, width):
        mem, mem_err = _seed_mean(ms, "memorized_fraction")
        artists += ax.plot(x, mem, "-o", ms=3, color=color, label=f"P = {p}")
        artists.append(ax.fill_between(x, mem - mem_err, mem + mem_err, color=color, alpha=0.2))
        if summary_p["tau_mem"] is not None:
            artists.append(ax.axvline(summary_p["tau_mem"], color=color, ls=":", lw=1.2))
    artists.append(ax.axhline(cfg.measure.mem_threshold, color="k", ls="--", lw=0.8,
                              label=f"threshold {cfg.measure.mem_threshold:g} defining $\\tau_{{mem}}$"))
    artists += ax.plot([], [], "k:", lw=1.2, label="$\\tau_{mem}$ (mean over seeds reaching it)")
    _log_steps_axis(ax)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("memorized fraction of generated samples\n(1/3 criterion, dimensionless)")
    ax.legend()
    return artists


def draw_dsm_loss(ax, result, *, width: int | None = None) -> list:
    """Test (solid) and train (dashed) DSM loss in noise units, mean over the evaluation times, vs
    training step for every P, with tau_gen dotted."""
    cfg = result.config
    artists = []
    for p, color, ms, x, summary_p in _per_p(result, width):
        loss_test, _ = _seed_mean(ms, "loss_test")
        loss_train, _ = _seed_mean(ms, "loss_train")
        artists += ax.plot(x, loss_test.mean(axis=1), "-", color=color, label=f"P = {p}")
        artists += ax.plot(x, loss_train.mean(axis=1), "--", color=color, lw=0.9)
        if summary_p["tau_gen"] is not None:
            artists.append(ax.axvline(summary_p["tau_gen"], color=color, ls=":", lw=1.2))
    artists += ax.plot([], [], "k-", label="test queries")
    artists += ax.plot([], [], "k--", lw=0.9, label="training queries")
    artists += ax.plot([], [], "k:", lw=1.2, label="$\\tau_{gen}$")
    _log_steps_axis(ax)
    ax.set_yscale("log")
    ax.set_ylabel("DSM loss $\\Delta_t l_t$, mean over t\n(noise units, dimensionless)")
    ax.legend()
    return artists


def draw_taus(ax, result, *, width: int | None = None, guide: float | None = None) -> list:
    """tau_mem and tau_gen vs P (mean ± stderr over the seeds that reached them) with the power law
    ``c P^b`` of :meth:`DenoiserResult.fits`: a fit line (exponent ± stderr in the legend) over at
    least :data:`MIN_FIT_POINTS` P, a dash-dotted segment labelled "2 points: slope, not a fit"
    through two, nothing with fewer; with ``guide``, a gray dashed ``P^guide`` line through the
    smallest-P tau_mem for comparison."""
    cfg = result.config
    width, summary = _summary_by_p(result, width)
    fits = result.fits()[str(width)]
    ps = np.asarray(cfg.n_train, dtype=float)
    artists = []
    for name, marker, color in (("tau_mem", "o", "C3"), ("tau_gen", "s", "C0")):
        y = np.array([_value(summary[p][name]) for p in cfg.n_train])
        e = np.array([_value(summary[p][f"{name}_stderr"]) for p in cfg.n_train])
        reached = ", ".join(str(summary[p][f"{name}_reached"]) for p in cfg.n_train) if name == "tau_mem" else None
        label = f"{TAU_LABEL[name]} measured" + (f" (seeds reaching it: {reached})" if reached else "")
        artists.append(ax.errorbar(ps, y, yerr=np.where(np.isfinite(e), e, 0.0), fmt=marker, color=color, ms=5,
                                   capsize=2, label=label))
        fit = fits[name]
        line, kind = _draw_power_law(ax, ps, y, fit["exponent"], fit["prefactor"], span=ps, color=color)
        if kind == "fit":
            line[0].set_label(f"fit {TAU_LABEL[name]} $\\propto$ "
                              f"{_exponent_text(fit['exponent'], fit['exponent_stderr'])} ({_fit_support(ps, y)} P)")
        elif kind == "2 points":
            line[0].set_label(f"{TAU_LABEL[name]} $\\propto$ {_exponent_text(_slope(ps, y), None)}: {TWO_POINTS}")
        else:
            line = ax.plot([], [], " ", label=f"{TAU_LABEL[name]}: fewer than two P, no slope")
        artists += line
        if name == "tau_mem" and guide is not None and np.any(np.isfinite(y)):
            i = int(np.flatnonzero(np.isfinite(y))[0])
            artists += ax.plot(ps, y[i] * (ps / ps[i]) ** guide, "--", color="0.5", lw=0.9,
                               label=f"$\\propto P^{{{guide:g}}}$ (guide, not a fit)")
    _log_x_ticks(ax, cfg.n_train)
    ax.set_yscale("log")
    ax.set_xlabel("training-set size P (points)")
    ax.set_ylabel("training step (optimizer updates)")
    ax.legend()
    return artists


def draw_score_errors(ax, result, *, n_train: int | None = None, width: int | None = None, law: str = "test",
                      n_curves: int = 5) -> list:
    """Score errors vs diffusion time t at ``n_curves`` training steps for one (width, P), queries
    noised from training points (``law="train"``) or fresh points (``"test"``):
    ``Delta_t E|s_theta - s_true|^2 / N`` (solid) and ``Delta_t E|s_theta - s_e|^2 / N`` (dashed),
    colored by training step; black: the gap ``Delta_t E|s_e - s_true|^2 / N`` between the targets."""
    cfg = result.config
    width = cfg.widths[0] if width is None else width
    n_train = cfg.n_train[0] if n_train is None else n_train
    ms = _members(result, width, n_train)
    steps, t = ms[0].steps, ms[0].eval_times
    d = np.asarray(delta(t), dtype=float) / ms[0].dim
    picks = np.unique(np.round(np.linspace(1, len(steps) - 1, min(n_curves, len(steps) - 1))).astype(int))
    err_true, _ = _seed_mean(ms, f"err_true_{law}")
    err_emp, _ = _seed_mean(ms, f"err_emp_{law}")
    gap, _ = _seed_mean(ms, f"gap_{law}")
    artists = []
    for c, color in zip(picks, colormap("plasma")(np.linspace(0.05, 0.85, len(picks)))):
        artists += ax.plot(t, d * err_true[c], "-o", ms=3, color=color, label=f"step {steps[c]}")
        artists += ax.plot(t, d * err_emp[c], "--", color=color)
    artists += ax.plot(t, d * gap[0], "k-", lw=1.5, label="$s_e$ vs $s_{true}$ (gap)")
    artists += ax.plot([], [], "-", color="0.4", label="$s_\\theta$ vs true score $s_{true}$")
    artists += ax.plot([], [], "--", color="0.4", label="$s_\\theta$ vs empirical score $s_e$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("$\\Delta_t\\, E|s_\\theta - s|^2 / N$ (noise units per dimension)")
    return artists


def draw_memorization_vs_width(ax, result) -> list:
    """Final memorized fraction vs network width, one line per P (mean ± stderr over seeds)."""
    return _draw_final_memorization(ax, result, along="width", lines="P")


def draw_memorization_vs_n_train(ax, result) -> list:
    """Final memorized fraction vs training-set size P, one line per width (mean ± stderr)."""
    return _draw_final_memorization(ax, result, along="P", lines="width")


def _draw_final_memorization(ax, result, *, along: str, lines: str) -> list:
    """Final memorized fraction (summary rows) against ``along``, one line per value of ``lines``
    (``"width"`` or ``"P"``)."""
    cfg = result.config
    rows = result.summary()
    values = {"width": cfg.widths, "P": cfg.n_train}
    colors = _p_colors(len(cfg.n_train)) if lines == "P" else _width_colors(len(cfg.widths))
    artists = []
    for v, color in zip(values[lines], colors):
        sub = [r for r in rows if r[lines] == v]
        artists.append(ax.errorbar([r[along] for r in sub], [_value(r["memorized_fraction"]) for r in sub],
                                   yerr=[r["memorized_fraction_stderr"] or 0.0 for r in sub], fmt="-o", ms=4,
                                   capsize=2, color=color, label=f"P = {v}" if lines == "P" else f"width {v}"))
    _log_x_ticks(ax, values[along])
    ax.set_xlabel("network width (hidden units per layer)" if along == "width" else "training-set size P (points)")
    ax.set_ylabel(f"memorized fraction after {cfg.train.steps} steps\n(1/3 criterion, dimensionless)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    return artists


def draw_tau_mem_by_width(ax, result, *, threshold: float = 0.5) -> list:
    """tau_mem (memorized fraction reaching ``threshold``) vs P, one line per width: mean ± stderr
    where every seed reached it, an open marker (the mean over the seeds that did: a lower bound,
    not fitted) where only some did, the power law ``c P^b`` of :meth:`DenoiserResult.tau_mem_scaling`
    (a fit with b ± stderr in the legend over at least :data:`MIN_FIT_POINTS` P, a dash-dotted
    segment labelled "2 points: slope, not a fit" through two), and a ``P^1`` guide."""
    cfg = result.config
    ps = np.asarray(cfg.n_train, dtype=float)
    rows = result.tau_mem_scaling((threshold,))
    artists = []
    for row, color in zip(rows, _width_colors(len(cfg.widths))):
        y = np.array([_value(row["tau_mem"][p]) for p in cfg.n_train])
        e = np.array([_value(row["tau_mem_stderr"][p]) for p in cfg.n_train])
        label = f"width {row['width']}"
        line, kind = _draw_power_law(ax, ps, y, row["exponent"], row["prefactor"], span=ps, color=color)
        if kind == "fit":
            label += (f": fit $\\propto$ {_exponent_text(row['exponent'], row['exponent_stderr'])} "
                      f"({_fit_support(ps, y)} P)")
        elif kind == "2 points":
            label += f": $\\propto$ {_exponent_text(_slope(ps, y), None)}, {TWO_POINTS}"
        artists += line
        artists.append(ax.errorbar(ps, y, yerr=np.where(np.isfinite(e), e, 0.0), fmt="o", color=color, ms=5,
                                   capsize=2, label=label))
        lower = [p for p in cfg.n_train if row["tau_mem_lower"][p] is not None]
        artists += ax.plot(lower, [row["tau_mem_lower"][p] for p in lower], "o", mfc="none", color=color, ms=6)
    artists += ax.plot([], [], "o", mfc="none", color="0.4", label="some seeds only (lower bound, not fitted)")
    first = [_value(r["tau_mem"][cfg.n_train[0]]) for r in rows]
    if np.any(np.isfinite(first)):
        artists += ax.plot(ps, np.nanmin(first) * ps / ps[0], "--", color="0.5", lw=0.9,
                           label="$\\propto P$ (THEORY section 11; guide, not a fit)")
    _log_x_ticks(ax, cfg.n_train)
    ax.set_yscale("log")
    ax.set_xlabel("training-set size P (points)")
    ax.set_ylabel(f"$\\tau_{{mem}}$: step where the memorized fraction reaches {threshold:g}")
    ax.legend()
    return artists


def draw_tau_mem_exponents(ax, result, *, thresholds=(0.25, 0.5, 0.75)) -> list:
    """Exponent b of tau_mem ~ P^b vs the memorization threshold defining tau_mem, one line per
    width, against the b = 1 of THEORY section 11: filled markers (± stderr) fitted over every P,
    open circles fitted over fewer (at least :data:`MIN_FIT_POINTS`), open triangles the slope
    through only two P (not a fit)."""
    rows = result.tau_mem_scaling(thresholds)
    n_p = len(result.config.n_train)
    artists = []
    for width, color in zip(result.config.widths, _width_colors(len(result.config.widths))):
        sub = [r for r in rows if r["width"] == width]
        artists += _draw_exponents(ax, [r["threshold"] for r in sub], sub, n_p, color=color, label=f"width {width}")
    artists += _exponent_legend(ax, rows, n_p)
    artists.append(ax.axhline(1.0, color="0.5", ls="--", lw=0.9, label="b = 1 (THEORY section 11)"))
    ax.set_xlabel("memorized-fraction threshold defining $\\tau_{mem}$")
    ax.set_ylabel(EXPONENT_LABEL)
    ax.legend()
    return artists


def draw_tau_mem_exponent_vs_lr(ax, results, *, thresholds=(0.25, 0.5, 0.75)) -> list:
    """Exponent b of tau_mem ~ P^b vs Adam's learning rate, one line per threshold; ``results`` are
    DenoiserResults of one width that differ in ``train.learning_rate`` only. Markers as in
    :func:`draw_tau_mem_exponents` (a threshold that some P did not reach at every seed is fitted
    over fewer P: open; a slope through two P only: open triangle)."""
    results = sorted(results, key=lambda r: r.config.train.learning_rate)
    n_p = len(results[0].config.n_train)
    colors = colormap("viridis")(np.linspace(0.1, 0.8, len(thresholds)))
    artists, rows_all = [], []
    for level, color in zip(thresholds, colors):
        rows = [result.tau_mem_scaling((level,))[0] for result in results]
        rows_all += rows
        artists += _draw_exponents(ax, [r.config.train.learning_rate for r in results], rows, n_p, color=color,
                                   label=f"threshold {level:g}")
    artists += _exponent_legend(ax, rows_all, n_p)
    artists.append(ax.axhline(1.0, color="0.5", ls="--", lw=0.9, label="b = 1 (THEORY section 11)"))
    _log_x_ticks(ax, sorted({r.config.train.learning_rate for r in results}))
    ax.set_xlabel("Adam learning rate")
    ax.set_ylabel(EXPONENT_LABEL)
    ax.legend()
    return artists


# ----------------------------------------------------------------------------- figures


def memorization_dynamics_figure(results, *, width: int | None = None, dsm_loss: bool = True,
                                 guide: float | None = None, title: str | None = None) -> Figure:
    """One row per :class:`DenoiserResult` of ``results`` (one result or a sequence, e.g. one per
    data model): the memorized fraction vs training step with tau_mem (:func:`draw_memorization`),
    with ``dsm_loss`` the test and train DSM loss with tau_gen (:func:`draw_dsm_loss`), and tau_mem,
    tau_gen vs P with their power laws (:func:`draw_taus`, ``guide``: a ``P^guide`` guide line).
    ``width``: the network width shown (default: each result's first)."""
    results = [results] if hasattr(results, "config") else list(results)
    ncols = 3 if dsm_loss else 2
    with style():
        fig, axes = subplots(len(results), ncols, figsize=(5.5 * ncols, 4.6 * len(results)), squeeze=False)
        for row_axes, result in zip(axes, results):
            cfg = result.config
            w = cfg.widths[0] if width is None else width
            label = _data_label(cfg)
            draw_memorization(row_axes[0], result, width=w)
            row_axes[0].set_title(f"{label}\nmemorized fraction (width {w}, {cfg.n_seeds} seeds); "
                                  "dotted: $\\tau_{mem}$")
            if dsm_loss:
                draw_dsm_loss(row_axes[1], result, width=w)
                row_axes[1].set_title(f"{label}\ntest (solid) / train (dashed) DSM loss; dotted: $\\tau_{{gen}}$")
            draw_taus(row_axes[-1], result, width=w, guide=guide)
            row_axes[-1].set_title(f"{label}\n$\\tau_{{mem}}$ and $\\tau_{{gen}}$ vs P")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def score_errors_figure(result, *, n_train=None, width: int | None = None, n_curves: int = 5,
                        title: str | None = None) -> Figure:
    """Score errors vs diffusion time (:func:`draw_score_errors`): one row per training-set size of
    ``n_train`` (an int or a sequence; default the first P of the config), columns: queries noised
    from training points and from fresh points; the legend right of the top row."""
    cfg = result.config
    width = cfg.widths[0] if width is None else width
    sizes = [cfg.n_train[0]] if n_train is None else [n_train] if np.ndim(n_train) == 0 else list(n_train)
    with style():
        fig, axes = subplots(len(sizes), 2, figsize=(12, 4.2 * len(sizes)), sharex=True, sharey="row",
                             squeeze=False)
        for row, p in zip(axes, sizes):
            for ax, law in zip(row, ("train", "test")):
                draw_score_errors(ax, result, n_train=p, width=width, law=law, n_curves=n_curves)
                where = "training points" if law == "train" else "fresh data points"
                ax.set_title(f"P = {p}: queries noised from {where}")
            row[1].set_ylabel("")
        for ax in axes[:-1].ravel():
            ax.set_xlabel("")
        axes[0, 1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(title if title is not None else
                     f"Score errors during training: {_data_label(cfg)}, width {width}, {cfg.n_seeds} seeds")
        fig.tight_layout()
    return fig


def memorization_vs_capacity_figure(result, *, title: str | None = None) -> Figure:
    """Final memorized fraction vs width at each P (:func:`draw_memorization_vs_width`) and vs P at
    each width (:func:`draw_memorization_vs_n_train`), mean ± stderr over seeds."""
    cfg = result.config
    with style():
        fig, (ax_w, ax_p) = subplots(1, 2, figsize=(11, 4.4))
        draw_memorization_vs_width(ax_w, result)
        ax_w.set_title("memorization vs network width, one line per P")
        draw_memorization_vs_n_train(ax_p, result)
        ax_p.set_title("memorization vs training-set size, one line per width")
        fig.suptitle(title if title is not None else
                     f"Memorization vs capacity: {_data_label(cfg)}, MLP depth {cfg.net.depth}, {cfg.train.steps} training "
                     f"steps, {cfg.n_seeds} seeds")
        fig.tight_layout()
    return fig


def tau_mem_scaling_figure(result, lr_results, *, threshold: float = 0.5, thresholds=(0.25, 0.5, 0.75),
                           title: str | None = None) -> Figure:
    """How tau_mem scales with P: tau_mem vs P per width at ``threshold``
    (:func:`draw_tau_mem_by_width`), the exponent vs the threshold per width
    (:func:`draw_tau_mem_exponents`), and the exponent vs the learning rate per threshold over
    ``lr_results`` (:func:`draw_tau_mem_exponent_vs_lr`)."""
    cfg = result.config
    lr_cfg = min(lr_results, key=lambda r: r.config.train.learning_rate).config
    with style():
        fig, (ax_tau, ax_b, ax_lr) = subplots(1, 3, figsize=(16, 4.6))
        draw_tau_mem_by_width(ax_tau, result, threshold=threshold)
        ax_tau.set_title(f"$\\tau_{{mem}}$ vs P per width (threshold {threshold:g})")
        draw_tau_mem_exponents(ax_b, result, thresholds=thresholds)
        ax_b.set_title("exponent vs the threshold defining $\\tau_{mem}$")
        draw_tau_mem_exponent_vs_lr(ax_lr, lr_results, thresholds=thresholds)
        ax_lr.set_title(f"exponent vs the learning rate (width {lr_cfg.widths[0]}, {lr_cfg.train.steps} steps)")
        fig.suptitle(title if title is not None else
                     f"Memorization time vs P: {_data_label(cfg)}, MLP depth {cfg.net.depth}, {cfg.n_seeds} seeds; "
                     f"left and middle: lr {cfg.train.learning_rate:g}, {cfg.train.steps} steps")
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- files


def plot_memorization_dynamics(result, path, width: int | None = None) -> Path:
    """Write :func:`memorization_dynamics_figure` of ``result`` (memorized fraction, DSM loss, taus
    vs P) to ``path``."""
    return save_figure(memorization_dynamics_figure(result, width=width), path)


def plot_score_errors(result, path, n_train: int | None = None, width: int | None = None, n_curves: int = 5) -> Path:
    """Write :func:`score_errors_figure` for one (width, P) to ``path``."""
    return save_figure(score_errors_figure(result, n_train=n_train, width=width, n_curves=n_curves), path)


def plot_memorization_vs_capacity(result, path) -> Path:
    """Write :func:`memorization_vs_capacity_figure` to ``path``."""
    return save_figure(memorization_vs_capacity_figure(result), path)
