"""Figures of the denoiser and guidance studies (diffsim.plot.nets, diffsim.plot.guidance), drawn
from small synthetic results built here: the panels, the drawn data, and no power law drawn as a fit
through two training-set sizes."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from diffsim.plot import guidance as gplot
from diffsim.plot import nets
from diffsim.measure.denoiser import DenoiserMeasurement
from diffsim.nets import TrainConfig
from diffsim.specs import DataSpec
from diffsim.studies.denoiser import DenoiserConfig, DenoiserResult, MemberCurves

STEPS = np.array([0, 10, 20, 40, 80, 160, 320, 640])
TIMES = np.array([0.01, 0.1, 1.0])
DIM = 4


def _member(width, p, seed, jump, *, lr_shift=0.0):
    """A member whose memorized fraction jumps from 0 to 1 between checkpoints ``jump`` and
    ``jump + 1`` (never with ``jump=None``): it crosses any level l at ``STEPS[jump] * 2**l`` (the
    grid doubles and the crossing is linear in log step)."""
    c, t = len(STEPS), len(TIMES)
    mem = np.zeros(c) if jump is None else (np.arange(c) > jump).astype(float)
    ramp = np.linspace(1.0, 0.5, c)[:, None] * np.ones((1, t))
    curves = {"memorized_fraction": mem, "loss_test": 2.0 * ramp, "loss_train": ramp,
              "sliced_wasserstein": np.ones(c), "mmd": np.ones(c), "diverged": np.zeros(c),
              "t_condensation": np.ones(c)}
    for law in ("train", "test"):
        curves[f"err_true_{law}"] = (1.0 + seed + lr_shift) * ramp
        curves[f"err_emp_{law}"] = 3.0 * ramp
        curves[f"gap_{law}"] = np.tile(1.0 / (TIMES + 0.1), (c, 1))
    tau_mem = float("nan") if jump is None else float(STEPS[jump] * np.sqrt(2.0))
    return MemberCurves(width=width, n_train=p, seed=seed, dim=DIM, steps=STEPS, eval_times=TIMES, curves=curves,
                        loss_steps=np.zeros(0), train_loss=np.zeros(0), record_times=np.zeros(0),
                        condensed=np.zeros(0), tau_gen=float(10 + p), tau_mem=tau_mem)


def _result(jumps, *, widths=(16, 64), learning_rate=3e-3, data="mixture"):
    """Two seeds per (width, P); ``jumps[P]`` the checkpoint after which P memorizes (None: never).
    With jumps 1, 2, 3 at P = 4, 8, 16, tau_mem = 10 sqrt(2) P / 4: exactly proportional to P."""
    n_train = tuple(jumps)
    cfg = DenoiserConfig(data=DataSpec(model=data, dim=DIM), n_train=n_train, widths=widths, n_seeds=2,
                         train=TrainConfig(steps=640, batch_size=64, learning_rate=learning_rate,
                                           steps_per_dispatch=25, n_checkpoints=16))
    members = tuple(_member(w, p, s, jumps[p]) for w in widths for p in n_train for s in (0, 1))
    measurement = DenoiserMeasurement(widths, n_train, members, {}, float("nan"))
    return DenoiserResult(cfg, measurement, {"t_collapse": {p: None for p in n_train}})


LINEAR = {4: 1, 8: 2, 16: 3}    # tau_mem(level l) = 10 2^l P / 4: proportional to P at every level
TWO_P = {4: 1, 8: 2, 16: None}  # P = 16 never memorizes: two P left


def _labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_taus_fit_over_three_p_is_the_constructed_power_law():
    fig = nets.memorization_dynamics_figure(_result(LINEAR), width=16)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    ax = fig.axes[2]
    fit = [ln for ln in ax.get_lines() if ln.get_label().startswith("fit $\\tau_{mem}$")]
    assert len(fit) == 1 and "(3 P)" in fit[0].get_label()
    # tau_mem = 10 sqrt(2) P / 4 exactly, so the fitted line is that line at every P
    np.testing.assert_allclose(fit[0].get_ydata(), 10 * np.sqrt(2) * np.array([4, 8, 16]) / 4, rtol=1e-9)
    assert not any(nets.TWO_POINTS in label for label in _labels(ax))


def test_taus_through_two_p_is_a_labelled_segment_not_a_fit_and_one_p_draws_none():
    fig = nets.memorization_dynamics_figure([_result(TWO_P)], dsm_loss=False, guide=1.0)
    assert fig.axes[1].get_subplotspec().get_geometry()[:2] == (1, 2)
    ax = fig.axes[1]
    tau_mem_lines = [ln for ln in ax.get_lines() if ln.get_label().startswith("$\\tau_{mem}$ $\\propto$")]
    assert len(tau_mem_lines) == 1
    seg = tau_mem_lines[0]
    assert nets.TWO_POINTS in seg.get_label() and seg.get_linestyle() == "-."
    np.testing.assert_allclose(seg.get_xdata(), [4, 8])  # between the two points only, not over every P
    np.testing.assert_allclose(seg.get_ydata(), 10 * np.sqrt(2) * np.array([1.0, 2.0]), rtol=1e-9)
    assert not any(label.startswith("fit $\\tau_{mem}$") for label in _labels(ax))
    # the P^1 guide through the smallest-P tau_mem
    guide = [ln for ln in ax.get_lines() if "guide" in ln.get_label()][0]
    np.testing.assert_allclose(guide.get_ydata(), 10 * np.sqrt(2) * np.array([4, 8, 16]) / 4, rtol=1e-9)

    one = nets.memorization_dynamics_figure(_result({4: 1, 8: None, 16: None}), dsm_loss=False)
    assert "$\\tau_{mem}$: fewer than two P, no slope" in _labels(one.axes[1])
    assert not [ln for ln in one.axes[1].get_lines() if "$\\tau_{mem}$ $\\propto$" in ln.get_label()]


def test_tau_mem_scaling_figure_marks_two_point_slopes():
    fits = nets.tau_mem_scaling_figure(_result(LINEAR), [_result(LINEAR, widths=(16,), learning_rate=lr)
                                                         for lr in (1e-3, 3e-3)])
    two = nets.tau_mem_scaling_figure(_result(TWO_P), [_result(TWO_P, widths=(16,), learning_rate=lr)
                                                       for lr in (1e-3, 3e-3)])
    for fig in (fits, two):
        assert isinstance(fig, Figure) and len(fig.axes) == 3
    ax_tau, ax_b, ax_lr = fits.axes
    # three P: fitted lines y = 10 sqrt(2) P / 4, exponents b = 1 at every threshold (the jump crosses
    # any level l at STEPS[jump] 2^l, still proportional to P), no two-point marker
    lines = [ln for ln in ax_tau.get_lines() if ln.get_linestyle() == "-"]
    assert len(lines) == 2
    for ln in lines:
        np.testing.assert_allclose(ln.get_ydata(), 10 * np.sqrt(2) * np.array([4, 8, 16]) / 4, rtol=1e-9)
    assert all("fit $\\propto$ $P^{1.00" in label for label in _labels(ax_tau) if label.startswith("width"))
    for ax in (ax_b, ax_lr):
        joined = [ln for ln in ax.get_lines() if ln.get_label().startswith(("width", "threshold"))]
        assert joined and all(np.allclose(ln.get_ydata(), 1.0) for ln in joined)
        assert nets.TWO_POINTS not in _labels(ax) and "fitted over every P (± stderr)" in _labels(ax)
    # two P: dash-dotted segments labelled as slopes, open triangles in the exponent panels
    ax_tau, ax_b, ax_lr = two.axes
    assert not [ln for ln in ax_tau.get_lines() if ln.get_linestyle() == "-"]
    segments = [ln for ln in ax_tau.get_lines() if ln.get_linestyle() == "-."]
    assert len(segments) == 2 and all(len(ln.get_xdata()) == 2 for ln in segments)
    assert all(nets.TWO_POINTS in label for label in _labels(ax_tau) if label.startswith("width"))
    for ax in (ax_b, ax_lr):
        assert nets.TWO_POINTS in _labels(ax)
        triangles = [ln for ln in ax.get_lines() if ln.get_marker() == "^" and len(ln.get_xdata())]
        assert len(triangles) == 6  # widths x thresholds, thresholds x learning rates
        assert not ax.containers  # no error bar: a slope through two points has no fit error


def test_score_errors_figure_draws_delta_t_times_the_errors():
    result = _result(LINEAR)
    fig = nets.score_errors_figure(result, n_train=(4, 16), n_curves=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    d = (1.0 - np.exp(-2.0 * TIMES)) / DIM  # Delta_t / N of the OU process
    for ax in fig.axes:
        gap = [ln for ln in ax.get_lines() if ln.get_label() == "$s_e$ vs $s_{true}$ (gap)"][0]
        np.testing.assert_allclose(gap.get_xdata(), TIMES)
        np.testing.assert_allclose(gap.get_ydata(), d / (TIMES + 0.1), rtol=1e-5)
        steps = [ln for ln in ax.get_lines() if ln.get_label().startswith("step ")]
        assert len(steps) == 3
    # seed mean of err_true: (1 + 0) and (1 + 1) times the ramp -> 1.5 at the last checkpoint (ramp 0.5)
    last = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == f"step {STEPS[-1]}"][0]
    np.testing.assert_allclose(last.get_ydata(), d * 1.5 * 0.5, rtol=1e-5)
    assert len(nets.score_errors_figure(result).axes) == 2  # one P by default


def test_memorization_vs_capacity_figure_draws_final_fractions():
    fig = nets.memorization_vs_capacity_figure(_result({4: 1, 8: 2, 16: None}))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax_w, ax_p = fig.axes
    assert len(ax_w.containers) == 3 and len(ax_p.containers) == 2  # one line per P, one per width
    by_p = {c.get_label(): np.asarray(c.lines[0].get_ydata(), dtype=float) for c in ax_w.containers}
    np.testing.assert_allclose(by_p["P = 4"], [1.0, 1.0])
    np.testing.assert_allclose(by_p["P = 16"], [0.0, 0.0])


def test_plot_functions_save_their_figures(monkeypatch):
    """The CLI's plot_* save the figure of the matching *_figure function (saving itself: _base)."""
    saved = []
    monkeypatch.setattr(nets, "save_figure", lambda fig, path: saved.append((fig, path)) or path)
    result = _result(TWO_P)
    assert nets.plot_memorization_dynamics(result, "dyn.png", width=64) == "dyn.png"
    nets.plot_score_errors(result, "scores.png", n_train=8, n_curves=2)
    nets.plot_memorization_vs_capacity(result, "cap.png")
    (dyn, _), (scores, _), (cap, _) = saved
    assert len(dyn.axes) == 3 and "width 64" in dyn.axes[0].get_title()
    assert len(scores.axes) == 2 and scores.axes[0].get_title().startswith("P = 8")
    assert len(cap.axes) == 2


# ----------------------------------------------------------------------------- guidance


def _guidance_rows():
    t = np.linspace(0.1, 2.0, 5)
    rows = []
    for score in ("exact", "net"):
        for g in (1.0, 7.5):
            for cond, (n_pts, mem) in enumerate(((1, True), (2, True), (64, False))):
                rows.append({"kind": "cell", "score": score, "guidance": g, "condition": cond, "n_class_points": n_pts,
                             "memorized_condition": "true" if mem else "false", "distance": 0.1 + cond,
                             "D1": 1.0 + cond, "D2": None if cond == 2 else 2.0,
                             "memorized_fraction": 0.9 if mem else 0.0,
                             "memorized_fraction_stderr": 0.01, "t_collapse": g / 10, "t_collapse_stderr": 0.01})
                rows += [{"kind": "curve", "score": score, "guidance": g, "condition": cond, "t": ti,
                          "m_t": np.exp(-ti), "sqrt_delta": np.sqrt(1 - np.exp(-2 * ti)), "w0": 0.5, "wT": 0.5}
                         for ti in t]
            rows.append({"kind": "summary", "score": score, "guidance": g, "quantity": "corr_D1",
                         "severity": "neg_distance", "pearson": 0.9, "spearman": 0.8, "n_conditions": 3})
    return rows, t


def test_guidance_figure_rows_of_panels_and_schedule_curves(monkeypatch):
    rows, t = _guidance_rows()
    fig = gplot.guidance_figure([rows, rows], labels=["A", "B"], guidance=7.0)
    assert isinstance(fig, Figure)
    main = [ax for ax in fig.axes if ax.get_title()]
    assert len(main) == 6 and len(fig.axes) == 8  # 2 x 3 panels plus the sweep panels' twin axes
    ax = main[0]
    assert ax.get_title().startswith("A: ") and "score net, g = 7.5" in ax.get_title()
    m_t = [ln for ln in ax.get_lines() if ln.get_label() == "$m_t$ (schedule)"][0]
    np.testing.assert_allclose(m_t.get_xdata(), t[::-1])
    np.testing.assert_allclose(m_t.get_ydata(), np.exp(-t[::-1]))
    assert any("Pearson 0.90" in label for label in _labels(main[1]))
    # the sweep: memorized fraction of the classes of <= 3 points (0.9) at both g, per score
    sweep = [c for c in main[2].containers if c.get_label().startswith("memorized fraction")]
    assert len(sweep) == 2 and all(np.allclose(c.lines[0].get_ydata(), 0.9) for c in sweep)
    saved = []
    monkeypatch.setattr(gplot, "save_figure", lambda fig, path: saved.append(fig) or path)
    assert gplot.figure_from_rows(rows, "g.png", guidance=1.2) == "g.png"
    assert len(saved[0].axes) == 4 and "score net, g = 1" in saved[0].axes[0].get_title()
    with pytest.raises(ValueError, match="no cell rows"):
        gplot.guidance_figure([[r for r in rows if r["kind"] != "cell"]])
