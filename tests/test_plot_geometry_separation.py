"""The geometry and separation figures (diffsim.plot.geometry, diffsim.plot.separation) from small
synthetic tables: the panels, the seed averages they draw, the theory curves, and no power-law fit
through two points."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from diffsim.plot.geometry import (EXACT_SWAP_NAMES, SWAP_WINDOWS, geometry_figure,
                                   geometry_mitigation_figure, geometry_swap_figure)
from diffsim.plot.separation import (separation_loss_gap_figure, separation_pruning_figure,
                                     separation_size_figure)
from diffsim.results import Table
from diffsim.theory.geometry import collapse_sigma, coverage_edge_isotropic
from diffsim.theory.separation import loss_gap_condensed
from diffsim.theory.spectrum import Spectrum


def table(rows: list[dict]) -> Table:
    columns = tuple(dict.fromkeys(k for r in rows for k in r))
    return Table(columns, tuple({c: r.get(c) for c in columns} for r in rows))


def lines(ax, ls=None):
    return [ln for ln in ax.get_lines() if ls is None or ln.get_linestyle() == ls]


def same(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.allclose(a, b)


def bar_heights(ax):
    return [p.get_height() for c in ax.containers if isinstance(c, BarContainer) for p in c]


# --------------------------------------------------------------------------- geometry


def geometry_tables():
    """Two seeds (the second shifted by 0.2 in the boundaries) at N = 16, 24; theory C = 0.5."""
    iso, hmm = [], []
    for n in (16, 24):
        for seed, shift in ((0, 0.0), (1, 0.2)):
            def row(quantity, sigma, value, stderr=0.0, theory=None):
                return {"seed": seed, "N": n, "P": 25, "quantity": quantity, "sigma": sigma, "value": value,
                        "stderr": stderr, "theory": theory}
            for s in (0.1, 1.0, 10.0):
                iso += [row("W", s, 1.0 / (1.0 + s), 0.01), row("C", s, s / (1.0 + s), 0.01, 0.5),
                        row("emp_lin", s, 1.0 / s), row("emp_exact", s, 2.0 / s)]
            iso += [row("sigma_cov", None, 0.5 + shift), row("sigma_w", None, 2.0 + shift),
                    row("log_width", None, 1.0 + shift, 0.1)]
            hmm += [{**row("log_width", None, ad + shift), "alpha_d": ad} for ad in (0.25, 1.0)]
    return table(iso), table(hmm)


def test_geometry_figure_draws_seed_means_and_the_exact_width():
    iso, hmm = geometry_tables()
    dims = (16, 20, 60)  # the exact width costs ~0.3-2 s per N: the figure's default goes to N = 1000
    fig = geometry_figure(iso, hmm, alpha=0.2, tolerance=0.1, exact_dims=dims)
    assert isinstance(fig, Figure)
    ax_wc, ax_n, ax_ad, ax_lin = fig.axes[:4]
    # the danger zone of each N spans the seed means of sigma_cov and sigma_w (0.6, 2.1)
    spans = {(round(r.get_x(), 9), round(r.get_x() + r.get_width(), 9)) for r in ax_wc.patches}
    assert spans == {(0.6, 2.1)}, spans
    sc = float(collapse_sigma(0.2, Spectrum.isotropic(1.0)))
    assert any(same(ln.get_xdata(), [sc, sc]) for ln in lines(ax_wc)), "no sigma_C line"
    assert sum(same(ln.get_ydata(), [0.5] * 3) for ln in lines(ax_wc, ":")) == 2  # exact coverage, one per N
    # measured log-width: the seed mean 1.1 at each N; exact: log(sigma_C / sigma_cov) at P = e^{alpha N}
    measured = ax_n.get_lines()[0]
    np.testing.assert_allclose(np.asarray(measured.get_ydata(), dtype=float), [1.1, 1.1])
    exact = next(ln for ln in lines(ax_n) if ln.get_marker() == "s")
    want = [math.log(sc / coverage_edge_isotropic(round(math.exp(0.2 * n)), n)) for n in dims]
    np.testing.assert_allclose(exact.get_xdata(), dims)
    np.testing.assert_allclose(exact.get_ydata(), want, rtol=1e-9)
    assert np.all(np.diff(want) < 0), "the exact zone should narrow with N"
    # log-width vs alpha_D, one line per N, seed means ad + 0.1
    hmm_lines = [ln for ln in lines(ax_ad) if ln.get_marker() in ("o", "s")]
    assert len(hmm_lines) == 2
    np.testing.assert_allclose(np.asarray(hmm_lines[0].get_ydata(), dtype=float), [0.35, 1.1])
    # linearity: the tolerance line and the seed means of the distances
    assert any(same(ln.get_ydata(), [0.1, 0.1]) for ln in lines(ax_lin, ":"))
    assert any(same(ln.get_ydata(), [20.0, 2.0, 0.2]) for ln in lines(ax_lin, "--"))


def swap_rows(names: dict, extra: dict, values: dict):
    rows = []
    for seed, shift in ((0, -0.05), (1, 0.05)):
        for key in ("all_gen", "all_mem"):
            rows.append({**extra, "seed": seed, "direction": names[key], "window": None,
                         "value": values[key] + shift, "stderr": 0.01})
        for k, w in enumerate(SWAP_WINDOWS):
            rows.append({**extra, "seed": seed, "direction": names["mem_in_gen"], "window": w,
                         "value": 0.1 * k + 0.5 + shift, "stderr": 0.01})
            rows.append({**extra, "seed": seed, "direction": names["gen_in_mem"], "window": w,
                         "value": 0.1 * k + 0.1 + shift, "stderr": 0.01})
    return rows


def test_geometry_swap_figure_bars_are_seed_means():
    exact = table(swap_rows(EXACT_SWAP_NAMES, {"N": 20, "P": 55}, {"all_gen": 0.1, "all_mem": 0.9}))
    same = {k: k for k in EXACT_SWAP_NAMES}
    nets = table([{**r, "family": fam} for fam in ("exact", "nets")
                  for r in swap_rows(same, {"N": 8, "P_few": 8, "P_many": 32}, {"all_gen": 0.2, "all_mem": 0.8})])
    fig = geometry_swap_figure(exact, nets)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    for ax, (gen, mem) in zip(fig.axes, ((0.1, 0.9), (0.2, 0.8), (0.2, 0.8))):
        heights = bar_heights(ax)
        np.testing.assert_allclose(heights, [0.5, 0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5], atol=1e-12)
        baselines = [ln.get_ydata()[0] for ln in lines(ax, "--")]
        np.testing.assert_allclose(sorted(baselines), [gen, mem])


def test_geometry_mitigation_figure_pairs_standard_and_mitigated():
    rows = []
    for zone, mem_mit in (("medium", 0.4), ("control_below", 0.7)):
        for variant, mem, err, sw in (("standard", 0.9, 1.0, 0.5), ("mitigated", mem_mit, 1.2, 0.6)):
            base = {"P": 8, "zone": zone, "zone_weight": 0.0, "variant": variant, "member": None, "sw_floor": None}
            rows += [{**base, "quantity": "memorized_fraction", "value": mem, "stderr": 0.01},
                     {**base, "quantity": "score_error_true", "value": err, "stderr": 0.05},
                     {**base, "quantity": "sliced_wasserstein", "value": sw, "stderr": 0.02, "sw_floor": 0.15}]
            rows.append({**base, "quantity": "memorized_fraction", "member": 0, "value": 0.0, "stderr": 0.0})  # a member row
    fig = geometry_mitigation_figure(table(rows))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax_err, ax_sw = fig.axes
    pairs = [ln for ln in lines(ax_err) if len(ln.get_xdata()) == 2 and ln.get_linestyle() == "-"]
    assert sorted(tuple(ln.get_ydata()) for ln in pairs) == [(0.9, 0.4), (0.9, 0.7)]
    assert all(tuple(ln.get_xdata()) == (1.0, 1.2) for ln in pairs)
    assert any(same(ln.get_xdata(), [0.15, 0.15]) for ln in lines(ax_sw, ":")), "no sliced-W floor"
    assert not lines(ax_err, ":"), "the floor belongs to the sliced-Wasserstein panel only"


# --------------------------------------------------------------------------- separation


def test_separation_loss_gap_figure_scales_by_delta_over_n():
    ts = np.array([0.01, 0.1, 1.0])
    n = 8
    iso = Spectrum.isotropic(1.0)
    rows = []
    for data in ("gaussian", "mixture"):
        for p in (64, 512):
            base = {"model": data, "N": n, "P": p, "seed": 0}
            for t in ts:
                gap = 0.7 * n / -math.expm1(-2 * t)  # drawn as 0.7 after x Delta_t / N
                rows += [{**base, "quantity": "loss_gap", "t": float(t), "value": gap, "stderr": 0.0},
                         {**base, "quantity": "fisher", "t": float(t), "value": gap, "stderr": 0.0},
                         {**base, "quantity": "theory/loss_gap_condensed", "t": float(t),
                          "value": float(loss_gap_condensed(t, iso, n)), "stderr": None}]
            rows.append({**base, "quantity": "theory/t_collapse", "t": None, "value": 0.05 * p ** 0.1, "stderr": None})
    fig = separation_loss_gap_figure(table(rows))
    assert isinstance(fig, Figure)
    main_axes = [ax for ax in fig.axes if ax.get_ylabel()]
    assert [ax.get_title() for ax in main_axes] == ["gaussian, N = 8", "mixture, N = 8"]
    ax = main_axes[0]
    gaps = [ln for ln in lines(ax) if ln.get_marker() == "o" and len(ln.get_xdata()) == 3]
    assert len(gaps) == 4 and all(np.allclose(ln.get_ydata(), 0.7) for ln in gaps)
    # the condensed closed form for unit-variance data is 1 - Delta_t = exp(-2t) (THEORY.md section 10)
    cond = next(ln for ln in lines(ax, "--"))
    np.testing.assert_allclose(cond.get_ydata(), np.exp(-2 * ts), rtol=1e-6)
    assert len(lines(ax, ":")) == 2  # one t_C per P


def test_separation_pruning_figure_bars():
    rows = []
    for stage, off in (("pruned", 0.0), ("finetuned", 0.1)):
        for j, arm in enumerate(("none", "importance", "random")):
            for q in ("memorized_fraction", "score_error_true", "sliced_wasserstein"):
                for seed, shift in ((0, -0.01), (1, 0.01)):
                    rows.append({"P": 16, "stage": stage, "arm": arm, "quantity": q, "seed": seed,
                                 "value": 0.2 * j + off + 0.3 + shift, "stderr": 0.02})
    fig = separation_pruning_figure(table(rows))
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    for ax in fig.axes:
        np.testing.assert_allclose(bar_heights(ax), [0.3, 0.5, 0.7, 0.4, 0.6, 0.8], atol=1e-12)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["P=16\npruned", "P=16\nfinetuned"]


def size_rows(found: dict):
    """Rows of the width study: the per-width memorized fractions (grid 4..256) and the smallest
    widths per criterion (``found[name][P]``, None: not reached)."""
    rows = []
    sizes = sorted({p for v in found.values() for p in v})
    for p in sizes:
        for w in (4, 8, 16, 32, 64, 128, 256):
            rows.append({"P": p, "quantity": "memorized_fraction", "width": w, "seed": 0,
                         "value": min(1.0, w / (8.0 * p)), "stderr": 0.01})
        for name, per_p in found.items():
            if p in per_p:
                rows.append({"P": p, "quantity": name, "width": None, "seed": 0, "value": per_p[p], "stderr": None})
    return table(rows)


def test_separation_size_fits_three_points_but_not_two():
    rows = size_rows({
        "width_memorize": {2: 20.0, 4: 40.0, 8: 80.0},           # 3 points, width = 10 P
        "width_fit_empirical": {2: 12.0, 4: 27.0, 8: None},      # 2 points found: a slope, not a fit
        "width_fit_true": {2: 6.0, 4: None, 8: None},            # 1 point
    })
    fig = separation_size_figure(rows, mem_threshold=0.5, title="synthetic")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax_w, ax_m = fig.axes
    fits = lines(ax_w, "--")
    assert len(fits) == 1, "exactly one fit line: the criterion with three points"
    np.testing.assert_allclose(fits[0].get_ydata(), 10.0 * fits[0].get_xdata(), rtol=1e-6)
    segments = lines(ax_w, ":")
    assert len(segments) == 1
    np.testing.assert_allclose(segments[0].get_xdata(), [2, 4])
    np.testing.assert_allclose(segments[0].get_ydata(), [12.0, 27.0])
    label = segments[0].get_label()
    assert "2 points" in label and "not a fit" in label and f"{math.log2(27 / 12):.2f}" in label
    legend = [t.get_text() for t in ax_w.get_legend().get_texts()]
    assert any("P^1.00" in t for t in legend)
    assert not any("P^" in t for t in legend if "s_e" in t or "s_true" in t)
    # right panel: one line per P and the threshold
    assert any(same(ln.get_ydata(), [0.5, 0.5]) for ln in lines(ax_m, ":"))
    assert len([ln for ln in lines(ax_m, "-") if len(ln.get_xdata()) == 7]) == 3


@pytest.mark.parametrize("n_points", [2, 1])
def test_separation_size_two_or_fewer_points_draw_no_fit(n_points):
    sizes = [2, 4][:n_points]
    rows = size_rows({name: {p: 10.0 * p for p in sizes}
                      for name in ("width_memorize", "width_fit_empirical", "width_fit_true")})
    fig = separation_size_figure(rows)
    ax_w = fig.axes[0]
    assert not lines(ax_w, "--")
    assert len(lines(ax_w, ":")) == (3 if n_points == 2 else 0)
