"""Figures of diffsim.plot.collapse / speciation / hmm built from small synthetic rows: the axes, the
theory curves against diffsim.theory, and no line fitted through fewer than 3 dimensions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from diffsim.plot.collapse import collapse_figure, collapse_vs_n_figure, excess_entropy_figure
from diffsim.plot import subplots
from diffsim.plot.hmm import (
    draw_scaled_collapse_time, generalization_time_figure, hmm_phase_diagram_figure, rem_y2_figure, trap_fraction_figure,
)
from diffsim.plot.speciation import speciation_figure
from diffsim.theory import Spectrum
from diffsim.theory.collapse import collapse_time_hmm_linear, collapse_time_isotropic, excess_entropy
from diffsim.theory.generalization import generalization_time, latent_spectrum
from diffsim.theory.rem import condensation_point
from diffsim.theory.traps import basin_radius, trap_onset_time


def _lines(ax, ls=None):
    return [ln for ln in ax.get_lines() if ls is None or ln.get_linestyle() == ls]


def _labelled(ax, text):
    return [ln for ln in ax.get_lines() if text in str(ln.get_label())]


# ----------------------------------------------------------------------------- collapse


def _collapse_rows(alpha=0.3, dims=(8, 16, 32), a=0.4, b=2.0, two_point=("clones",)):
    """Collapse-sweep rows where every estimator is exactly a + b/N; ``two_point`` estimators only at
    the two largest N."""
    t_inf = float(collapse_time_isotropic(alpha, 1.0))
    rows = []
    for n in dims:
        base = {"alpha": alpha, "N": n, "P": round(math.exp(alpha * n)), "seed": 0, "t": None}
        rows.append({**base, "quantity": "theory/t_collapse", "value": t_inf, "stderr": None})
        rows.append({**base, "quantity": "theory/t_collapse_spectrum", "value": t_inf + 0.1 / n, "stderr": None})
        for name in ("condensation", "clones"):
            if name in two_point and n == dims[0]:
                continue
            rows.append({**base, "quantity": f"t_collapse/{name}", "value": a + b / n, "stderr": 0.01})
        for t in (0.2, 0.5, 1.0, 2.0):
            th = float(excess_entropy(np.array([t]), alpha, Spectrum.isotropic(1.0))[0])
            rows.append({**base, "t": t, "quantity": "excess_entropy", "value": th + 0.01, "stderr": 0.005})
            rows.append({**base, "t": t, "quantity": "theory/excess_entropy", "value": th, "stderr": None})
            rows.append({**base, "t": t, "quantity": "condensed_fraction", "value": float(t < t_inf), "stderr": None})
    return rows


def test_collapse_vs_n_fits_only_three_dimensions_and_recovers_the_intercept():
    fig = collapse_vs_n_figure({"gaussian": _collapse_rows()})
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    fits = _lines(ax, "--")
    assert len(fits) == 1  # condensation (3 N); clones has 2 N: points only, no line
    x, y = fits[0].get_data()
    assert x[0] == 0.0 and y[0] == pytest.approx(0.4, abs=1e-9)  # exact a + b/N data: intercept a
    assert np.allclose(np.diff(y) / np.diff(x), 2.0)
    t_inf = float(collapse_time_isotropic(0.3, 1.0))
    assert any(np.allclose(ln.get_ydata(), t_inf) for ln in ax.get_lines())
    finite = _labelled(ax, "finite N")[0]
    assert np.allclose(finite.get_xdata(), [1 / 8, 1 / 16, 1 / 32]) and np.allclose(finite.get_ydata(), t_inf + 0.1 * finite.get_xdata())
    assert fig._suptitle is not None and "scale" not in fig._suptitle.get_text()


def test_collapse_vs_n_panels_per_data_and_load():
    rows = _collapse_rows(alpha=0.3) + _collapse_rows(alpha=0.5)
    fig = collapse_vs_n_figure({"gaussian": rows, "mixture": rows})
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes[:2]] == ["gaussian data, α = 0.3", "gaussian data, α = 0.5"]


def test_excess_entropy_figure_draws_the_theory_rows_and_t_c():
    fig = excess_entropy_figure(_collapse_rows(alpha=0.3) + _collapse_rows(alpha=0.5))
    assert len(fig.axes) == 2
    for ax, alpha in zip(fig.axes, (0.3, 0.5)):
        theory = _labelled(ax, "N=8: theory")[0]
        t = theory.get_xdata()
        assert np.allclose(theory.get_ydata(), excess_entropy(t, alpha, Spectrum.isotropic(1.0)))
        (t_c,) = [ln for ln in _labelled(ax, "$t_C$")]
        assert t_c.get_xdata()[0] == pytest.approx(float(collapse_time_isotropic(alpha, 1.0)))
        assert ax.get_xscale() == "log"


def test_collapse_figure_shares_the_window_around_t_c():
    fig = collapse_figure(_collapse_rows())
    assert len(fig.axes) == 2
    t_c = float(collapse_time_isotropic(0.3, 1.0))
    for ax in fig.axes:
        assert ax.get_xlim() == pytest.approx((0.2 * t_c, 5.0 * t_c))
    assert len(_labelled(fig.axes[1], "N=")) == 3  # one condensed-fraction line per N


# ----------------------------------------------------------------------------- speciation


def test_speciation_figure():
    rows = []
    for cell, n in enumerate((8, 32, 128)):
        t_s = 0.5 * math.log(n + 1.0)
        rows += [{"cell": cell, "N": n, "quantity": "t_speciation", "t": None, "value": t_s + 0.05, "stderr": 0.02},
                 {"cell": cell, "N": n, "quantity": "theory/t_speciation", "t": None, "value": t_s, "stderr": None}]
        for t in (0.5, 1.0, 2.0):
            rows += [{"cell": cell, "N": n, "quantity": "phi", "t": t, "value": 0.7, "stderr": 0.02},
                     {"cell": cell, "N": n, "quantity": "theory/phi", "t": t, "value": 0.75, "stderr": None}]
    fig = speciation_figure(rows[::-1], labels={0: "dim=8"})
    ax_phi, ax_ts = fig.axes
    assert {ln.get_label() for ln in _labelled(ax_phi, "theory")} == {"dim=8: theory", "N=32: theory", "N=128: theory"}
    (theory,) = _labelled(ax_ts, "theory")
    assert np.allclose(theory.get_xdata(), [8, 32, 128])
    assert np.allclose(theory.get_ydata(), 0.5 * np.log(np.array([8, 32, 128]) + 1.0))
    assert ax_ts.get_xscale() == "log"


# ----------------------------------------------------------------------------- REM, traps


def test_rem_figure_theory_is_one_minus_kc():
    alpha, t_c = 0.2, float(collapse_time_isotropic(0.2, 1.0))
    rows = [{"N": n, "P": 25, "t": t, "query": q, "mean_y2": 0.5, "mean_y2_stderr": 0.01, "theory/mean_y2_spectrum": 0.4,
             "log_z_per_dim": -0.5, "log_z_per_dim_stderr": 0.01, "theory/log_z_per_dim_spectrum": -0.45, "theory/t_collapse": t_c}
            for n in (16, 24) for t in (0.2, 0.4, 0.8) for q in ("fresh", "train")]
    fig = rem_y2_figure(rows, alpha=alpha, data="gaussian")
    ax, ax2 = fig.axes
    (theory,) = _labelled(ax, "1 - k_c(t)$ ($N")
    t = theory.get_xdata()
    assert np.allclose(theory.get_ydata(), 1.0 - condensation_point(t, alpha, Spectrum.isotropic(1.0)), atol=1e-9)
    assert len(_labelled(ax2, "fresh")) == 0 and len(ax2.containers) == 2  # fresh log Z per N only


def _trap_rows(alpha=0.2, basin=True):
    t_o = float(trap_onset_time(alpha, Spectrum.isotropic(1.0)))
    return [{"N": n, "P": 25, "t": t, "trap_fraction": float(t < t_o), "start_dominated": float(t < t_o),
             "basin_radius": (0.5 if basin and t < 0.6 else None), "basin_radius_stderr": 0.05,
             "basin_radius_is_bound": basin and t == 0.3, "basin_radius_lower_bound": 3.0 if basin and t == 0.3 else None,
             "attraction_radius": None, "theory/basin_radius_spectrum": 0.5, "theory/t_onset": t_o,
             "theory/t_collapse": float(collapse_time_isotropic(alpha, 1.0)), "theory/t_onset_spectrum": t_o + 0.01}
            for n in (16, 24) for t in (0.3, 0.5, 0.7, 0.9)]


def test_trap_figure_basin_theory_and_bounds():
    fig = trap_fraction_figure(_trap_rows(), alpha=0.2, data="gaussian")
    ax, ax2 = fig.axes
    assert len(_labelled(ax, "owns a trap")) == 2
    (theory,) = _labelled(ax2, "theory $r_b(t)$")
    t = theory.get_xdata()
    assert np.allclose(theory.get_ydata(), basin_radius(t, 0.2, Spectrum.isotropic(1.0)), equal_nan=True)
    bounds = _labelled(ax2, "lower bound")
    assert len(bounds) == 2 and np.allclose(bounds[0].get_ydata(), 3.0)
    assert len(trap_fraction_figure(_trap_rows(basin=False), alpha=0.2, data="gaussian").axes) == 1


# ----------------------------------------------------------------------------- collapse on the hidden manifold


def _hmm_rows():
    """Linear HMM at 3 N and tanh at 2 N; each estimate exactly t_C^MP + 1/N (spectrum = theory)."""
    rows = []
    for model, dims in (("linear", (10, 20, 40)), ("tanh", (20, 40))):
        for alpha_d in (0.25, 0.5):
            t_mp = float(collapse_time_hmm_linear(0.2, alpha_d))
            for n in dims:
                for est in ("own", "condensation"):
                    rows.append({"seed": 0, "alpha": 0.2, "alpha_d": alpha_d, "model": model, "N": n, "estimator": est,
                                 "t_collapse": t_mp + 1.0 / n, "stderr": 0.01, "theory/t_collapse_spectrum": t_mp,
                                 "theory/t_collapse_linear_hmm": t_mp, "theory/t_collapse_gaussian_equivalent": t_mp,
                                 "theory/t_collapse_isotropic": float(collapse_time_isotropic(0.2, 1.0))})
    return rows


def test_hmm_phase_diagram_labels_two_point_extrapolations():
    fig = hmm_phase_diagram_figure(_hmm_rows())
    ax, ax2, _ = fig.axes  # map, t_C vs alpha_D, the colour bar
    (dots,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert "not a fit" not in dots.get_label()
    assert np.allclose(np.sort(dots.get_array()), [collapse_time_hmm_linear(0.2, 0.25), collapse_time_hmm_linear(0.2, 0.5)])
    labels = [c.get_label() for c in ax2.containers]
    assert any("tanh" in s and "not a fit" in s for s in labels)
    assert any("linear" in s and "not a fit" not in s for s in labels)
    (mp,) = _labelled(ax2, "MP theory")
    assert np.allclose(mp.get_ydata(), [collapse_time_hmm_linear(0.2, ad) for ad in mp.get_xdata()])


def test_scaled_collapse_time_panel_draws_the_small_latent_ratio_limit():
    _, ax2 = subplots()
    draw_scaled_collapse_time(ax2, _hmm_rows())
    (limit,) = _labelled(ax2, "alpha_D\\to 0")
    r = limit.get_xdata()
    assert np.allclose(limit.get_ydata(), 1.0 / np.expm1(2 * r))
    assert len(ax2.containers) == 2 * (3 + 2)  # every measured point (own estimator), linear and tanh


# ----------------------------------------------------------------------------- generalization


def test_generalization_figure_theory_times():
    rows = []
    for ad in (0.25, 1.0):
        for n in (20, 30):
            base = {"alpha": 0.1, "alpha_d": ad, "N": n, "P": 10, "D": int(ad * n)}
            rows += [{**base, "quantity": "curve", "t": t, "kl_per_dim": 1.0 / t, "kl_per_dim_stderr": 0.01, "theory/kl_per_dim_spectrum": 1.1 / t}
                     for t in (0.1, 0.3, 1.0)]
            rows.append({**base, "quantity": "t_g", "t_g": 0.4, "t_g_stderr": 0.02, "t_g/sw": None, "theory/t_g_spectrum": 0.45,
                         "theory/t_collapse_spectrum": 0.8})
    fig = generalization_time_figure(rows, data="hmm", n_theory=3)
    ax, ax2 = fig.axes
    assert ax.get_title() == "Generalization error at N = 30" and len(ax.containers) == 2
    (tg,) = _labelled(ax2, "$t_g$ theory")
    ad = tg.get_xdata()[[0, -1]]
    expected = [generalization_time(0.1 / a, latent_spectrum(Spectrum.marchenko_pastur(a))) for a in ad]
    assert np.allclose(tg.get_ydata()[[0, -1]], expected)
    assert not _labelled(ax2, "sliced")  # no t_g^sw measured: none drawn
