"""Figures of the denoiser study (:mod:`diffsim.studies.denoiser`; THEORY.md sections 10-12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffsim.plot import plt, save_figure
from diffsim.process import delta

__all__ = ["plot_memorization_dynamics", "plot_score_errors", "plot_memorization_vs_capacity"]


def _seed_mean(members, name):
    """Mean and standard error over seeds of ``curves[name]`` (``[C]`` or ``[C, T]``)."""
    arr = np.stack([np.asarray(r.curves[name], dtype=float) for r in members])
    mean = np.nanmean(arr, axis=0)
    err = np.nanstd(arr, axis=0, ddof=1) / np.sqrt(arr.shape[0]) if arr.shape[0] > 1 else np.zeros_like(mean)
    return mean, err


def _steps_axis(steps):
    """Checkpoint steps with step 0 drawn at half the first nonzero step (log axis)."""
    steps = np.asarray(steps, dtype=float)
    return np.where(steps > 0, steps, 0.5 * steps[steps > 0].min())


def plot_memorization_dynamics(result, path, width: int | None = None) -> Path:
    """Memorization fraction of generated samples vs training step for every P (mean over seeds,
    band = stderr) with tau_mem marked; test minus train DSM loss with tau_gen marked; and tau_mem,
    tau_gen vs P with the fitted power law."""
    cfg = result.config
    width = cfg.widths[0] if width is None else width
    summary = {r["P"]: r for r in result.summary() if r["width"] == width}
    fig, (ax_m, ax_l, ax_t) = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = plt.cm.viridis(np.linspace(0.05, 0.9, len(cfg.n_train)))
    for p, color in zip(cfg.n_train, colors):
        ms = [r for r in result.members if r.width == width and r.n_train == p]
        x = _steps_axis(ms[0].steps)
        mem, mem_err = _seed_mean(ms, "memorization")
        ax_m.plot(x, mem, "-o", ms=3, color=color, label=f"P = {p}")
        ax_m.fill_between(x, mem - mem_err, mem + mem_err, color=color, alpha=0.2)
        tau = summary[p]["tau_mem"]
        if tau is not None:
            ax_m.axvline(tau, color=color, ls=":", lw=1.2)
        loss_test, _ = _seed_mean(ms, "loss_test")
        loss_train, _ = _seed_mean(ms, "loss_train")
        ax_l.plot(x, loss_test.mean(axis=1), "-", color=color, label=f"P = {p} test")
        ax_l.plot(x, loss_train.mean(axis=1), "--", color=color, lw=0.9)
        if summary[p]["tau_gen"] is not None:
            ax_l.axvline(summary[p]["tau_gen"], color=color, ls=":", lw=1.2)
    ax_m.axhline(cfg.mem_threshold, color="k", ls="--", lw=0.8, label=f"threshold {cfg.mem_threshold} (tau_mem, dotted)")
    ax_m.set_ylim(-0.02, 1.02)
    ax_m.set_ylabel("memorized fraction of generated samples (1/3 criterion)")
    ax_m.set_title("Memorized fraction; dotted: tau_mem", fontsize=9)
    ax_l.set_yscale("log")
    ax_l.set_ylabel("DSM loss, noise units $\\Delta_t l_t$, mean over t")
    ax_l.set_title("Test (solid) / train (dashed) DSM loss; dotted: tau_gen", fontsize=9)
    for ax in (ax_m, ax_l):
        ax.set_xscale("log")
        ax.set_xlabel("training step (step 0 drawn at half the first checkpoint)")
        ax.legend(fontsize=7)
    ps = np.asarray(cfg.n_train, dtype=float)
    fits = result.fits()[str(width)]
    for name, marker, color in (("tau_mem", "o", "C3"), ("tau_gen", "s", "C0")):
        y = np.array([np.nan if summary[p][name] is None else summary[p][name] for p in cfg.n_train])
        e = np.array([np.nan if summary[p][f"{name}_stderr"] is None else summary[p][f"{name}_stderr"] for p in cfg.n_train])
        ax_t.errorbar(ps, y, yerr=np.where(np.isfinite(e), e, 0.0), fmt=marker, color=color, label=name)
        fit = fits[name]
        if fit["exponent"] is not None:
            ax_t.plot(ps, fit["prefactor"] * ps ** fit["exponent"], "-", color=color, lw=1,
                      label=f"fit: {name} ~ P^{fit['exponent']:.2f}")
    ax_t.set_xscale("log")
    ax_t.set_yscale("log")
    ax_t.set_xlabel("training-set size P")
    ax_t.set_ylabel("training steps")
    ax_t.set_title("tau_gen (loss descent), tau_mem (memorization)", fontsize=9)
    ax_t.legend(fontsize=7)
    fig.suptitle(f"Training dynamics: {cfg.data} data, N = {cfg.dim}, width {width}, {cfg.n_seeds} seed(s) "
                 "(tau definitions: DenoiserResult.definitions)", y=1.02)
    return save_figure(fig, path)


def plot_score_errors(result, path, n_train: int | None = None, width: int | None = None, n_curves: int = 5) -> Path:
    """Score errors vs diffusion time t at several training times for one (width, P):
    ``Delta_t E|s_theta - s_true|^2 / N`` (solid) and ``Delta_t E|s_theta - s_e|^2 / N`` (dashed), test
    queries, colored by training step; black: the gap ``Delta_t E|s_e - s_true|^2 / N`` between the two
    targets."""
    cfg = result.config
    width = cfg.widths[0] if width is None else width
    n_train = cfg.n_train[0] if n_train is None else n_train
    ms = [r for r in result.members if r.width == width and r.n_train == n_train]
    steps = ms[0].steps
    t = ms[0].eval_times
    d = np.asarray(delta(t)) / ms[0].dim
    picks = np.unique(np.round(np.linspace(1, len(steps) - 1, min(n_curves, len(steps) - 1))).astype(int))
    fig, (ax_tr, ax_te) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colors = plt.cm.plasma(np.linspace(0.05, 0.85, len(picks)))
    for ax, law in ((ax_tr, "train"), (ax_te, "test")):
        err_true, _ = _seed_mean(ms, f"err_true_{law}")
        err_emp, _ = _seed_mean(ms, f"err_emp_{law}")
        gap, _ = _seed_mean(ms, f"gap_{law}")
        for c, color in zip(picks, colors):
            ax.plot(t, d * err_true[c], "-o", ms=3, color=color, label=f"step {steps[c]}: vs true score")
            ax.plot(t, d * err_emp[c], "--", color=color, label=f"step {steps[c]}: vs empirical score")
        ax.plot(t, d * gap[0], "k-", lw=1.5, label="empirical vs true (gap)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("diffusion time t (OU clock)")
        ax.set_title(f"queries noised from {'training' if law == 'train' else 'fresh'} points")
    ax_tr.set_ylabel("$\\Delta_t\\, E|s_\\theta - s|^2 / N$ (noise units per dimension)")
    ax_te.legend(fontsize=6)
    fig.suptitle(f"Learned score between the empirical and the true score: {cfg.data}, N = {cfg.dim}, "
                 f"P = {n_train}, width {width}")
    return save_figure(fig, path)


def plot_memorization_vs_capacity(result, path) -> Path:
    """Final memorization fraction vs width at each P, and vs P at each width (mean ± stderr)."""
    cfg = result.config
    rows = result.summary()
    fig, (ax_w, ax_p) = plt.subplots(1, 2, figsize=(10, 4))
    for p, color in zip(cfg.n_train, plt.cm.viridis(np.linspace(0.05, 0.9, len(cfg.n_train)))):
        sub = [r for r in rows if r["P"] == p]
        ax_w.errorbar([r["width"] for r in sub], [r["memorization_fraction"] for r in sub],
                      yerr=[r["memorization_fraction_stderr"] or 0.0 for r in sub], fmt="-o", ms=3, color=color,
                      label=f"P = {p}")
    for w, color in zip(cfg.widths, plt.cm.plasma(np.linspace(0.05, 0.85, len(cfg.widths)))):
        sub = [r for r in rows if r["width"] == w]
        ax_p.errorbar([r["P"] for r in sub], [r["memorization_fraction"] for r in sub],
                      yerr=[r["memorization_fraction_stderr"] or 0.0 for r in sub], fmt="-o", ms=3, color=color,
                      label=f"width {w}")
    for ax, xl in ((ax_w, "network width"), (ax_p, "training-set size P")):
        ax.set_xscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel(f"memorized fraction after {cfg.steps} steps")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    fig.suptitle(f"Memorization vs capacity and data: {cfg.data}, N = {cfg.dim}")
    return save_figure(fig, path)
