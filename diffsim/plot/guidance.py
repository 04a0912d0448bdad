"""Figures of the guidance study (:mod:`diffsim.studies.guidance`; THEORY.md section 9).

Drawers take a list of row dicts (``GuidanceResult.rows()``, the CLI's JSON rows, or a results
table's rows), draw one panel on the axes they are given and return the artists they drew;
:func:`guidance_figure` composes the three panels, one row of them per data model, in the one
diffsim style (``paper_figures/guidance.py``); :func:`figure_from_rows` writes it for one set of
rows to a file (``diffsim guidance --figure``). No power law is fitted here.

Panels: :func:`draw_decomposition`, :func:`draw_deviation_vs_severity`, :func:`draw_guidance_sweep`.
Figure: :func:`guidance_figure`. File: :func:`figure_from_rows`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from diffsim.plot._base import save_figure, style, subplots
from diffsim.studies.guidance import guidance_trend

__all__ = [
    "draw_decomposition",
    "draw_deviation_vs_severity",
    "draw_guidance_sweep",
    "guidance_figure",
    "figure_from_rows",
]


def _true(value) -> bool:
    """A boolean cell of a row (``True`` from a result, ``"true"`` from a CSV table)."""
    return value is True or str(value).lower() == "true"


def _cells(rows, score=None):
    return [r for r in rows if r.get("kind") == "cell" and (score is None or r["score"] == score)]


def _pick_conditions(rows, score, guidance):
    """A memorized condition (smallest class among memorized) and a generalized one (largest class)."""
    cells = [r for r in _cells(rows, score) if r["guidance"] == guidance]
    mem = sorted((r for r in cells if _true(r["memorized_condition"])), key=lambda r: r["n_class_points"])
    gen = sorted((r for r in cells if not _true(r["memorized_condition"])), key=lambda r: -r["n_class_points"])
    return (mem[0] if mem else None), (gen[0] if gen else None)


def draw_decomposition(ax, rows, *, score, guidance):
    """``E[w0](t)`` and ``E[wT](t)`` against the schedule ``m_t``, ``sqrt(Delta_t)`` for a memorized and
    a generalized condition."""
    artists = []
    mem, gen = _pick_conditions(rows, score, guidance)
    curves = [r for r in rows if r.get("kind") == "curve" and r["score"] == score and r["guidance"] == guidance]
    first = True
    for cell, color, name in ((mem, "C3", "memorized"), (gen, "C0", "generalized")):
        if cell is None:
            continue
        cr = sorted((r for r in curves if r["condition"] == cell["condition"]), key=lambda r: -r["t"])
        t = np.array([r["t"] for r in cr])
        if first:
            artists += ax.plot(t, [r["m_t"] for r in cr], "k-", lw=1, label="$m_t$ (schedule)")
            artists += ax.plot(t, [r["sqrt_delta"] for r in cr], "k--", lw=1, label="$\\sqrt{\\Delta_t}$ (schedule)")
            first = False
        label = f"{name} (class of {cell['n_class_points']})"
        artists += ax.plot(t, [r["w0"] for r in cr], "-", color=color, label=f"$w_0$, {label}")
        artists += ax.plot(t, [r["wT"] for r in cr], "--", color=color, label=f"$w_T$, {label}")
    ax.set_xlabel("diffusion time t (OU clock; sampling runs right to left)")
    ax.set_ylabel("least-squares weight over seeds")
    ax.invert_xaxis()
    ax.set_title(f"$x_t \\approx w_0 x^* + w_T x_T$, score {score}, g = {guidance:g}")
    ax.legend()
    return artists


def draw_deviation_vs_severity(ax, rows, *, score, guidance, summary=None):
    """D1 and D2 of every condition against its distance to x* (severity = -distance), with the
    correlations from the summary rows."""
    cells = [r for r in _cells(rows, score) if r["guidance"] == guidance]
    artists = []
    for d, marker in (("D1", "o"), ("D2", "s")):
        x = np.array([r["distance"] for r in cells], dtype=float)
        y = np.array([np.nan if r[d] is None else r[d] for r in cells], dtype=float)
        c = np.array([r["memorized_fraction"] for r in cells], dtype=float)
        corr = [s for s in (summary or rows) if s.get("kind") == "summary" and s["score"] == score
                and s["guidance"] == guidance and s["quantity"] == f"corr_{d}" and s["severity"] == "neg_distance"]
        note = ""
        if corr and corr[0]["pearson"] is not None:
            note = f" (Pearson {corr[0]['pearson']:.2f}, Spearman {corr[0]['spearman']:.2f}, {corr[0]['n_conditions']} cond.)"
        artists.append(ax.scatter(x, y, c=c, cmap="coolwarm", vmin=0, vmax=1, marker=marker, label=f"{d}{note}"))
    ax.set_xlabel("distance of samples to $x^*$ / $\\sqrt{N}$ (small = severe memorization)")
    ax.set_ylabel("deviation from the schedule")
    ax.set_title(f"D1, D2 vs severity, score {score}, g = {guidance:g} (colour: memorized fraction)")
    ax.legend()
    return artists


def draw_guidance_sweep(ax, rows, *, small_class: int = 3):
    """Memorized fraction (left axis) and collapse time (right axis) of the small classes vs g, per
    score, mean over the small classes with combined stderr."""
    artists = []
    twin = ax.twinx()
    for i, score in enumerate(sorted({r["score"] for r in _cells(rows)})):
        cells = _cells(rows, score)
        mf = guidance_trend(cells, "memorized_fraction", small_class=small_class)
        tc = guidance_trend(cells, "t_collapse", small_class=small_class)
        g = np.array(mf["guidance"])
        val = lambda tr: np.array([np.nan if v is None else v for v in tr["value"]])  # noqa: E731
        err = lambda tr: np.array([np.nan if v is None else v for v in tr["stderr"]])  # noqa: E731
        artists.append(ax.errorbar(g, val(mf), err(mf), fmt="o-", color=f"C{i}", label=f"memorized fraction, {score}"))
        artists.append(twin.errorbar(g, val(tc), err(tc), fmt="s--", color=f"C{i}", label=f"collapse time, {score}"))
    ax.set_xlabel("guidance scale g")
    ax.set_ylabel(f"memorized fraction (classes of <= {small_class} points)")
    twin.set_ylabel("collapse time (backward clock: larger = earlier)")
    ax.set_ylim(-0.05, 1.05)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="center right")
    ax.set_title("Guidance vs memorization of the small classes")
    return artists


def _score_and_guidance(rows, score, guidance):
    """The score drawn in the first two panels (``score``, else "net" where present, else the first)
    and the guidance scale of its cells nearest ``guidance``."""
    scores = sorted({r["score"] for r in _cells(rows)})
    if not scores:
        raise ValueError("guidance rows hold no cell rows (kind == 'cell'): nothing to draw")
    if score is None:
        score = "net" if "net" in scores else scores[0]
    gs = sorted({r["guidance"] for r in _cells(rows, score)})
    return score, min(gs, key=lambda x: abs(x - guidance))


def guidance_figure(row_sets, *, labels=None, score: str | None = None, guidance: float = 7.5,
                    small_class: int = 3, title: str | None = None) -> Figure:
    """One row of three panels per set of rows in ``row_sets`` (e.g. one per data model): the
    decomposition (:func:`draw_decomposition`) and D1/D2 vs severity
    (:func:`draw_deviation_vs_severity`) for ``score`` (default "net" where present, else the first)
    at the guidance scale nearest ``guidance``, and the guidance sweep (:func:`draw_guidance_sweep`).
    ``labels``: one per set, prefixed to its panels' titles."""
    row_sets = [list(rows) for rows in row_sets]
    labels = [None] * len(row_sets) if labels is None else list(labels)
    with style():
        fig, axes = subplots(len(row_sets), 3, figsize=(18, 4.8 * len(row_sets)), squeeze=False)
        for row_axes, rows, label in zip(axes, row_sets, labels):
            s, g = _score_and_guidance(rows, score, guidance)
            draw_decomposition(row_axes[0], rows, score=s, guidance=g)
            draw_deviation_vs_severity(row_axes[1], rows, score=s, guidance=g)
            draw_guidance_sweep(row_axes[2], rows, small_class=small_class)
            if label:
                for ax in row_axes:
                    ax.set_title(f"{label}: {ax.get_title()}")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def figure_from_rows(rows, path, *, guidance: float = 7.5, small_class: int = 3):
    """Write :func:`guidance_figure` of one set of ``rows`` (the decomposition for "net" if present,
    else the first score, at the guidance scale nearest ``guidance``) to ``path``."""
    return save_figure(guidance_figure([rows], guidance=guidance, small_class=small_class), path)
