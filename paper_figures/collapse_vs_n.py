"""Collapse time vs dimension: four estimators, their 1/N extrapolation, and theory.

Paper claim (Biroli, Bonnaire, de Bortoli, Mezard, "Dynamical regimes of diffusion models";
THEORY.md section 4): the backward dynamics driven by the exact empirical score collapses onto the
training points at t_C = 0.5 log(1 + sigma^2 / (exp(2 alpha) - 1)) as N -> infinity at fixed
alpha = log(P)/N; finite N shifts every estimator (condensation, nearest-point freezing, clones,
excess-entropy zero crossing), roughly like 1/N, and the 1/N extrapolations approach the theory.
For the two-cluster mixture the same formula holds with the cluster variance.

Reads: results/collapse_gaussian/<scale>/table.csv, results/collapse_mixture/<scale>/table.csv.
Theory: closed forms from diffsim.theory (no simulation is run here).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from _common import load, parse_args, save, scale_note, seed_mean
from diffsim.studies.collapse import ESTIMATORS, CollapseConfig, collapse_predictions, summarize

EXPERIMENTS = ("collapse_gaussian", "collapse_mixture")
STYLE = {
    "condensation": ("o", "tab:blue"),
    "freezing": ("s", "tab:orange"),
    "clones": ("^", "tab:green"),
    "entropy": ("D", "tab:red"),
}


def _config(results, cell: int) -> CollapseConfig:
    """The cell's config as recorded in the metadata (fields this version lacks are dropped)."""
    known = set(CollapseConfig.__dataclass_fields__)
    raw = results.cell_config(cell)
    return CollapseConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known})


def panel(ax, results, alpha: float) -> None:
    table = results.table.where(alpha=alpha)
    cells = sorted({r["cell"] for r in table.rows})
    configs = {c: _config(results, c) for c in cells}
    dims = np.array(sorted({configs[c].dim for c in cells}), dtype=float)
    inv = 1.0 / dims
    x_fit = np.linspace(0.0, inv.max() * 1.05, 50)
    for name in ESTIMATORS:
        rows = table.where(quantity=f"t_collapse/{name}")
        if not len(rows):
            continue
        n, t, err = seed_mean(rows, by="N")
        marker, color = STYLE[name]
        ax.errorbar(1.0 / n, t, yerr=err, fmt=marker, color=color, ms=4, capsize=2, label=name)
        ok = np.isfinite(t) & np.isfinite(err) & (err > 0)
        if ok.sum() >= 3:  # the study's own analysis over points, on the seed means
            means = [{"N": int(ni), "quantity": f"t_collapse/{name}", "value": ti, "stderr": ei}
                     for ni, ti, ei in zip(n[ok], t[ok], err[ok])]
            (fit,) = summarize(means)
            a, a_err, b = fit["value"], fit["stderr"], fit["slope"]
            ax.plot(x_fit, a + b * x_fit, "--", color=color, lw=0.8)
            ax.errorbar([0.0], [a], yerr=[a_err], fmt=marker, mfc="white", color=color, ms=5, capsize=2)
    config = configs[cells[0]]
    t_inf = collapse_predictions(config)["t_collapse"]
    t_finite = [collapse_predictions(configs[c])["t_collapse_spectrum"] for c in cells]
    n_cells = [configs[c].dim for c in cells]
    order = np.argsort(n_cells)
    ax.axhline(t_inf, color="k", lw=1.2, label="theory, N → ∞")
    ax.plot(1.0 / np.array(n_cells)[order], np.array(t_finite)[order], "k:", marker="x", ms=4,
            label="theory at finite N (spectrum, α = log P / N)")
    ax.set_xlim(-0.005, inv.max() * 1.08)
    ax.set_xlabel("inverse dimension 1/N")
    ax.set_ylabel("collapse time $t_C$ (OU time, dimensionless)")


def main() -> None:
    args = parse_args(__doc__)
    runs = [load(args, name) for name in EXPERIMENTS]
    alphas = sorted({a for r in runs for a in r.table.unique("alpha")})
    fig, axes = plt.subplots(len(runs), len(alphas), figsize=(4.2 * len(alphas), 3.6 * len(runs)), squeeze=False)
    for i, results in enumerate(runs):
        data = results.params.get("data", "?")
        for j, alpha in enumerate(alphas):
            ax = axes[i, j]
            panel(ax, results, alpha)
            ax.set_title(f"{data} data, α = {alpha}", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(
        "Collapse time vs 1/N: estimators (filled), 1/N extrapolations (open, dashed) and theory (black)\n"
        + "; ".join(scale_note(r) for r in runs),
        fontsize=9,
    )
    fig.tight_layout()
    save(fig, "collapse_vs_n", args)


if __name__ == "__main__":
    main()
