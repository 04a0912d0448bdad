"""Training-time mitigation (THEORY.md section 8): memorization vs quality when one sigma window is undertrained.

Paper claim ("Two Calm Ends and the Wild Middle", arXiv 2602.17846): undertraining the medium-noise
danger zone reduces memorization while preserving quality, at equal training budget.

Each point is one training schedule at equal steps: the standard DSM schedule (black) and, joined to it by a
line, the paired schedule (same training set, seeds, minibatches and sampler noise) with
the loss set to ``zone_weight`` inside one window (colours: the danger zone [sigma_cov, sigma_w], its
width-matched controls, the small and large ends), seed means with 1.96 stderr over paired seeds.
Left: memorized fraction (1/3 rule) vs score error to the true score; right: vs sliced Wasserstein to fresh
samples (dotted: the floor between two fresh sample sets). One marker per training-set size P.

Reads: results/geometry_mitigation/<scale>/table.csv.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from _common import load, parse_args, save, scale_note

EXPERIMENTS = ("geometry_mitigation",)
COLORS = {"small": "C2", "control_below": "C1", "medium": "C3", "control_above": "C0", "large": "C4"}
MARKERS = ("o", "s", "^", "D")


def summary(rows, variant: str, quantity: str):
    """Seed-pooled mean and stderr (the study's summary row, ``member`` empty) of one variant and quantity."""
    sel = [r for r in rows if r["variant"] == variant and r["quantity"] == quantity and r.get("member") in (None, "")]
    return sel[0]["value"], sel[0]["stderr"]


def main():
    args = parse_args(__doc__)
    res = load(args, "geometry_mitigation")
    table = res.table
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    floor = None
    for p, marker in zip(sorted(table.unique("P")), MARKERS):
        for zone in table.where(P=p).unique("zone"):
            for weight in table.where(P=p, zone=zone).unique("zone_weight"):
                rows = table.where(P=p, zone=zone, zone_weight=weight).rows
                mem = {v: summary(rows, v, "memorized") for v in ("standard", "mitigated")}
                for ax, q in zip(axes, ("score_error_true", "sliced_wasserstein")):
                    xs = [summary(rows, v, q)[0] for v in ("standard", "mitigated")]
                    ax.plot(xs, [mem["standard"][0], mem["mitigated"][0]], color=COLORS.get(zone, "C7"), lw=0.8)
                    for variant, color in (("standard", "k"), ("mitigated", COLORS.get(zone, "C7"))):
                        x, xe = summary(rows, variant, q)
                        ax.errorbar(x, mem[variant][0], yerr=1.96 * mem[variant][1], xerr=1.96 * xe, color=color,
                                    marker=marker, ms=6, capsize=2, ls="none",
                                    label=f"{zone}, weight {weight:g}, P={p}" if variant == "mitigated" and ax is axes[0] else None)
                fl = [r for r in rows if r["quantity"] == "sliced_wasserstein" and r.get("sw_floor") not in (None, "")]
                floor = fl[0]["sw_floor"] if fl else floor
    if floor is not None:
        axes[1].axvline(floor, color="k", ls=":", lw=0.8)
    axes[0].set(xlabel="score error to the true score (noise units / dim)", ylabel="memorized fraction (1/3 rule)",
                title="undertrained window vs standard (black)")
    axes[1].set(xlabel="sliced Wasserstein to fresh samples", title="quality")
    axes[0].legend(fontsize=6)
    fig.text(0.01, -0.03, scale_note(res), fontsize=7)
    save(fig, "geometry_mitigation", args)


if __name__ == "__main__":
    main()
