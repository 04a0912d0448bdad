"""Figures of the denoiser study (:mod:`diffsim.studies.denoiser`; THEORY.md sections 10-12).

The ``draw_*`` functions draw one panel on a given matplotlib axes from a
:class:`~diffsim.studies.denoiser.DenoiserResult` (a fresh run, or one rebuilt from a results table
by ``DenoiserResult.from_rows``); the ``plot_*`` functions compose them into files (used by
``diffsim denoiser --figure``), and the scripts of ``paper_figures/`` compose them into the paper
figures.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.ticker
import numpy as np

from diffsim.plot._base import colormap, save_figure, subplots
from diffsim.process import delta

__all__ = [
    "draw_memorization",
    "draw_dsm_loss",
    "draw_taus",
    "draw_score_errors",
    "draw_memorization_vs_width",
    "draw_memorization_vs_n_train",
    "draw_tau_mem_by_width",
    "draw_tau_mem_exponents",
    "draw_tau_mem_exponent_vs_lr",
    "plot_memorization_dynamics",
    "plot_score_errors",
    "plot_memorization_vs_capacity",
]

STEP_LABEL = "training step (step 0 shown at half the first checkpoint)"
TIME_LABEL = "diffusion time t (OU clock, dimensionless)"
TAU_LABEL = {"tau_mem": "$\\tau_{mem}$", "tau_gen": "$\\tau_{gen}$"}


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


def draw_memorization(ax, result, width: int | None = None) -> None:
    """Memorization fraction of generated samples vs training step for every P (mean over seeds,
    band = stderr), tau_mem of each P as a dotted vertical line and the threshold defining it."""
    cfg = result.config
    width, summary = _summary_by_p(result, width)
    for p, color in zip(cfg.n_train, _p_colors(len(cfg.n_train))):
        ms = _members(result, width, p)
        x = _steps_axis(ms[0].steps)
        mem, mem_err = _seed_mean(ms, "memorization")
        ax.plot(x, mem, "-o", ms=3, color=color, label=f"P = {p}")
        ax.fill_between(x, mem - mem_err, mem + mem_err, color=color, alpha=0.2)
        if summary[p]["tau_mem"] is not None:
            ax.axvline(summary[p]["tau_mem"], color=color, ls=":", lw=1.2)
    ax.axhline(cfg.mem_threshold, color="k", ls="--", lw=0.8,
               label=f"threshold {cfg.mem_threshold:g} defining $\\tau_{{mem}}$")
    ax.plot([], [], "k:", lw=1.2, label="$\\tau_{mem}$ (mean over seeds reaching it)")
    _log_steps_axis(ax)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("memorized fraction of generated samples\n(1/3 criterion, dimensionless)")
    ax.legend(fontsize=7)


def draw_dsm_loss(ax, result, width: int | None = None) -> None:
    """Test (solid) and train (dashed) DSM loss in noise units, mean over the evaluation times, vs
    training step for every P, with tau_gen dotted."""
    cfg = result.config
    width, summary = _summary_by_p(result, width)
    for p, color in zip(cfg.n_train, _p_colors(len(cfg.n_train))):
        ms = _members(result, width, p)
        x = _steps_axis(ms[0].steps)
        loss_test, _ = _seed_mean(ms, "loss_test")
        loss_train, _ = _seed_mean(ms, "loss_train")
        ax.plot(x, loss_test.mean(axis=1), "-", color=color, label=f"P = {p}")
        ax.plot(x, loss_train.mean(axis=1), "--", color=color, lw=0.9)
        if summary[p]["tau_gen"] is not None:
            ax.axvline(summary[p]["tau_gen"], color=color, ls=":", lw=1.2)
    ax.plot([], [], "k-", label="test queries")
    ax.plot([], [], "k--", lw=0.9, label="training queries")
    ax.plot([], [], "k:", lw=1.2, label="$\\tau_{gen}$")
    _log_steps_axis(ax)
    ax.set_yscale("log")
    ax.set_ylabel("DSM loss $\\Delta_t l_t$, mean over t\n(noise units, dimensionless)")
    ax.legend(fontsize=7)


def draw_taus(ax, result, width: int | None = None, *, guide: float | None = None) -> None:
    """tau_mem and tau_gen vs P (mean ± stderr over the seeds that reached them) with the fitted
    power law ``c P^b`` of :meth:`DenoiserResult.fits`, its exponent (± stderr) in the legend; with
    ``guide``, a gray dashed ``P^guide`` line through the smallest-P tau_mem for comparison."""
    cfg = result.config
    width, summary = _summary_by_p(result, width)
    fits = result.fits()[str(width)]
    ps = np.asarray(cfg.n_train, dtype=float)
    for name, marker, color in (("tau_mem", "o", "C3"), ("tau_gen", "s", "C0")):
        y = np.array([_value(summary[p][name]) for p in cfg.n_train])
        e = np.array([_value(summary[p][f"{name}_stderr"]) for p in cfg.n_train])
        reached = ", ".join(str(summary[p][f"{name}_reached"]) for p in cfg.n_train) if name == "tau_mem" else None
        label = f"{TAU_LABEL[name]} measured" + (f" (seeds reaching it: {reached})" if reached else "")
        ax.errorbar(ps, y, yerr=np.where(np.isfinite(e), e, 0.0), fmt=marker, color=color, ms=5, capsize=2, label=label)
        fit = fits[name]
        if fit["exponent"] is not None:
            err = "" if fit["exponent_stderr"] is None else f" \\pm {fit['exponent_stderr']:.2f}"
            ax.plot(ps, fit["prefactor"] * ps ** fit["exponent"], "-", color=color, lw=1,
                    label=f"fit {TAU_LABEL[name]} $\\propto P^{{{fit['exponent']:.2f}{err}}}$ ({fit['n_points']} P)")
        else:
            ax.plot([], [], " ", label=f"{TAU_LABEL[name]}: fewer than two P, no fit")
        if name == "tau_mem" and guide is not None and np.any(np.isfinite(y)):
            i = int(np.flatnonzero(np.isfinite(y))[0])
            ax.plot(ps, y[i] * (ps / ps[i]) ** guide, "--", color="0.5", lw=0.9,
                    label=f"$\\propto P^{{{guide:g}}}$ (guide)")
    _log_x_ticks(ax, cfg.n_train)
    ax.set_yscale("log")
    ax.set_xlabel("training-set size P (points)")
    ax.set_ylabel("training step (optimizer updates)")
    ax.legend(fontsize=7)


def draw_score_errors(ax, result, n_train: int | None = None, width: int | None = None, *, law: str = "test",
                      n_curves: int = 5) -> None:
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
    for c, color in zip(picks, colormap("plasma")(np.linspace(0.05, 0.85, len(picks)))):
        ax.plot(t, d * err_true[c], "-o", ms=3, color=color, label=f"step {steps[c]}")
        ax.plot(t, d * err_emp[c], "--", color=color)
    ax.plot(t, d * gap[0], "k-", lw=1.5, label="$s_e$ vs $s_{true}$ (gap)")
    ax.plot([], [], "-", color="0.4", label="$s_\\theta$ vs true score $s_{true}$")
    ax.plot([], [], "--", color="0.4", label="$s_\\theta$ vs empirical score $s_e$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("$\\Delta_t\\, E|s_\\theta - s|^2 / N$ (noise units per dimension)")


def draw_memorization_vs_width(ax, result) -> None:
    """Final memorization fraction vs network width, one line per P (mean ± stderr over seeds)."""
    _draw_final_memorization(ax, result, along="width", lines="P")


def draw_memorization_vs_n_train(ax, result) -> None:
    """Final memorization fraction vs training-set size P, one line per width (mean ± stderr)."""
    _draw_final_memorization(ax, result, along="P", lines="width")


def _draw_final_memorization(ax, result, *, along: str, lines: str) -> None:
    """Final memorization fraction (summary rows) against ``along``, one line per value of ``lines``
    (``"width"`` or ``"P"``)."""
    cfg = result.config
    rows = result.summary()
    values = {"width": cfg.widths, "P": cfg.n_train}
    colors = _p_colors(len(cfg.n_train)) if lines == "P" else _width_colors(len(cfg.widths))
    for v, color in zip(values[lines], colors):
        sub = [r for r in rows if r[lines] == v]
        ax.errorbar([r[along] for r in sub], [_value(r["memorization_fraction"]) for r in sub],
                    yerr=[r["memorization_fraction_stderr"] or 0.0 for r in sub], fmt="-o", ms=4, capsize=2,
                    color=color, label=f"P = {v}" if lines == "P" else f"width {v}")
    _log_x_ticks(ax, values[along])
    ax.set_xlabel("network width (hidden units per layer)" if along == "width" else "training-set size P (points)")
    ax.set_ylabel(f"memorized fraction after {cfg.steps} steps\n(1/3 criterion, dimensionless)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)


def _width_colors(n: int):
    return colormap("plasma")(np.linspace(0.05, 0.85, n))


def draw_tau_mem_by_width(ax, result, threshold: float = 0.5) -> None:
    """tau_mem (memorized fraction reaching ``threshold``) vs P, one line per width: mean ± stderr
    where every seed reached it, an open marker (the mean over the seeds that did: a lower bound,
    not fitted) where only some did, the fitted ``c P^b`` of :meth:`DenoiserResult.tau_mem_scaling`
    with b ± stderr in the legend, and a ``P^1`` guide."""
    cfg = result.config
    ps = np.asarray(cfg.n_train, dtype=float)
    rows = result.tau_mem_scaling((threshold,))
    for row, color in zip(rows, _width_colors(len(cfg.widths))):
        y = np.array([_value(row["tau_mem"][p]) for p in cfg.n_train])
        e = np.array([_value(row["tau_mem_stderr"][p]) for p in cfg.n_train])
        label = f"width {row['width']}"
        if row["exponent"] is not None:
            err = "" if row["exponent_stderr"] is None else f" \\pm {row['exponent_stderr']:.2f}"
            label += f": $\\propto P^{{{row['exponent']:.2f}{err}}}$ ({len(row['fitted_P'])} P)"
            ax.plot(ps, row["prefactor"] * ps ** row["exponent"], "-", color=color, lw=1)
        ax.errorbar(ps, y, yerr=np.where(np.isfinite(e), e, 0.0), fmt="o", color=color, ms=5, capsize=2, label=label)
        lower = [p for p in cfg.n_train if row["tau_mem_lower"][p] is not None]
        ax.plot(lower, [row["tau_mem_lower"][p] for p in lower], "o", mfc="none", color=color, ms=6)
    ax.plot([], [], "o", mfc="none", color="0.4", label="some seeds only (lower bound, not fitted)")
    first = [_value(r["tau_mem"][cfg.n_train[0]]) for r in rows]
    if np.any(np.isfinite(first)):
        ax.plot(ps, np.nanmin(first) * ps / ps[0], "--", color="0.5", lw=0.9, label="$\\propto P$ (THEORY section 11)")
    _log_x_ticks(ax, cfg.n_train)
    ax.set_yscale("log")
    ax.set_xlabel("training-set size P (points)")
    ax.set_ylabel(f"$\\tau_{{mem}}$: step where the memorized fraction reaches {threshold:g}")
    ax.legend(fontsize=7)


def draw_tau_mem_exponents(ax, result, thresholds=(0.25, 0.5, 0.75)) -> None:
    """Fitted exponent b of tau_mem ~ P^b vs the memorization threshold defining tau_mem, one line
    per width (± stderr of the fit), against the b = 1 of THEORY section 11."""
    rows = result.tau_mem_scaling(thresholds)
    for width, color in zip(result.config.widths, _width_colors(len(result.config.widths))):
        sub = [r for r in rows if r["width"] == width]
        ax.errorbar([r["threshold"] for r in sub], [_value(r["exponent"]) for r in sub],
                    yerr=[_value(r["exponent_stderr"]) if r["exponent_stderr"] is not None else 0.0 for r in sub],
                    fmt="-o", ms=4, capsize=2, color=color, label=f"width {width}")
    ax.axhline(1.0, color="0.5", ls="--", lw=0.9, label="b = 1 (THEORY section 11)")
    ax.set_xlabel("memorized-fraction threshold defining $\\tau_{mem}$")
    ax.set_ylabel("exponent b of $\\tau_{mem} \\propto P^b$")
    ax.legend(fontsize=7)


def draw_tau_mem_exponent_vs_lr(ax, results, thresholds=(0.25, 0.5, 0.75)) -> None:
    """Fitted exponent b of tau_mem ~ P^b vs Adam's learning rate, one line per threshold; ``results``
    are DenoiserResults of one width that differ in ``learning_rate`` only (a threshold that some
    P did not reach at every seed is fitted over fewer P: marked open)."""
    results = sorted(results, key=lambda r: r.config.learning_rate)
    colors = colormap("viridis")(np.linspace(0.1, 0.8, len(thresholds)))
    for level, color in zip(thresholds, colors):
        lrs, bs, errs, full = [], [], [], []
        for result in results:
            row = result.tau_mem_scaling((level,))[0]
            lrs.append(result.config.learning_rate)
            bs.append(_value(row["exponent"]))
            errs.append(_value(row["exponent_stderr"]) if row["exponent_stderr"] is not None else 0.0)
            full.append(len(row["fitted_P"]) == len(result.config.n_train))
        ax.errorbar(lrs, bs, yerr=errs, fmt="-", color=color, capsize=2, label=f"threshold {level:g}")
        for lr, b, ok in zip(lrs, bs, full):
            ax.plot([lr], [b], "o", color=color, mfc=color if ok else "none", ms=5)
    ax.plot([], [], "o", mfc="none", color="0.4", label="fitted over fewer P")
    ax.axhline(1.0, color="0.5", ls="--", lw=0.9, label="b = 1 (THEORY section 11)")
    _log_x_ticks(ax, sorted({r.config.learning_rate for r in results}))
    ax.set_xlabel("Adam learning rate")
    ax.set_ylabel("exponent b of $\\tau_{mem} \\propto P^b$")
    ax.legend(fontsize=7)


# ----------------------------------------------------------------------------- files


def plot_memorization_dynamics(result, path, width: int | None = None) -> Path:
    """Memorization fraction vs training step with tau_mem (:func:`draw_memorization`), test and
    train DSM loss with tau_gen (:func:`draw_dsm_loss`), and tau_mem, tau_gen vs P with the fitted
    power law (:func:`draw_taus`)."""
    cfg = result.config
    width = cfg.widths[0] if width is None else width
    fig, (ax_m, ax_l, ax_t) = subplots(1, 3, figsize=(15, 4.2))
    draw_memorization(ax_m, result, width)
    ax_m.set_title("Memorized fraction; dotted: tau_mem", fontsize=9)
    draw_dsm_loss(ax_l, result, width)
    ax_l.set_title("Test (solid) / train (dashed) DSM loss; dotted: tau_gen", fontsize=9)
    draw_taus(ax_t, result, width)
    ax_t.set_title("tau_gen (loss descent), tau_mem (memorization)", fontsize=9)
    fig.suptitle(f"Training dynamics: {cfg.data} data, N = {cfg.dim}, width {width}, {cfg.n_seeds} seed(s) "
                 "(tau definitions: DenoiserResult.definitions)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_score_errors(result, path, n_train: int | None = None, width: int | None = None, n_curves: int = 5) -> Path:
    """Score errors vs diffusion time t at several training times for one (width, P), on queries
    noised from training points and from fresh points (:func:`draw_score_errors`)."""
    cfg = result.config
    width = cfg.widths[0] if width is None else width
    n_train = cfg.n_train[0] if n_train is None else n_train
    fig, (ax_tr, ax_te) = subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, law in ((ax_tr, "train"), (ax_te, "test")):
        draw_score_errors(ax, result, n_train, width, law=law, n_curves=n_curves)
        ax.set_title(f"queries noised from {'training' if law == 'train' else 'fresh'} points")
    ax_te.set_ylabel("")
    ax_te.legend(fontsize=6)
    fig.suptitle(f"Learned score between the empirical and the true score: {cfg.data}, N = {cfg.dim}, "
                 f"P = {n_train}, width {width}")
    return save_figure(fig, path)


def plot_memorization_vs_capacity(result, path) -> Path:
    """Final memorization fraction vs width at each P and vs P at each width (mean ± stderr)."""
    cfg = result.config
    fig, (ax_w, ax_p) = subplots(1, 2, figsize=(10, 4))
    draw_memorization_vs_width(ax_w, result)
    draw_memorization_vs_n_train(ax_p, result)
    fig.suptitle(f"Memorization vs capacity and data: {cfg.data}, N = {cfg.dim}")
    return save_figure(fig, path)
