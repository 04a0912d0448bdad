"""Overestimation and guidance on class-conditional toy data (THEORY.md section 9).

One config = one data set (one N, one list of class sizes, one score): the training set of
:func:`diffsim.data.conditional.make_conditional`, a conditional denoiser (``exact``: the exact
empirical scores; ``true``: the exact scores of the data model; ``net``: a
:class:`~diffsim.nets.conditional.ConditionalMLP` trained with label dropout on the same points) and
:func:`diffsim.measure.guidance.measure_guidance` over the guidance scales (a measurement grid, like
the times of other studies: the same initial noises and the same network serve every g).

Rows (``kind``):
* ``cell``: one per (condition, g): ``condition``, ``n_class_points``, ``guidance``, ``score``,
  ``overestimation``, ``D1``, ``D2``, ``alignment``, ``guidance_magnitude``, ``memorized_fraction``,
  ``t_collapse``, ``distance``, ``dsm_loss``, each with ``*_stderr``, and ``memorized_condition``
  (memorized fraction >= 1/2 at g = 1, the unguided conditional model);
* ``curve``: per (condition, g, t): ``w0``, ``wT`` and the schedule ``m_t``, ``sqrt_delta``, the
  fraction ``collapsed`` onto x*;
* ``summary``: per g, ``quantity`` in ``corr_D1``/``corr_D2`` (Pearson and Spearman with the
  memorized fraction, and with ``-distance``, over ``n_conditions``), ``auc`` (guidance magnitude as
  a detector of memorized conditions, bootstrap interval over conditions; ``auc_small_class``: as a
  detector of the classes of at most ``small_class`` points), ``dsm_loss_memorized`` /
  ``dsm_loss_generalized`` (mean over those conditions), ``memorized_fraction_small`` /
  ``t_collapse_small`` (mean over the classes of at most ``small_class`` points, stderr combined).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Literal, get_args

import jax
import numpy as np

from diffsim import _validate
from diffsim.data.conditional import CONDITIONAL_DATA, make_conditional
from diffsim.results import finite_or_none
from diffsim.measure.guidance import (
    QUANTITIES,
    GuidanceMeasurement,
    GuidanceOptions,
    correlations,
    detector_auc,
    measure_guidance,
)
from diffsim.nets.conditional import ConditionalTrainConfig, train_conditional
from diffsim.nets.models import ModelConfig
from diffsim.specs import DataSpec, Sampling, config_json, validate_parts
from diffsim.solvers import solver
from diffsim.studies._registry import register_study

__all__ = ["SCORES", "GuidanceConfig", "GuidanceResult", "run_guidance", "guidance_trend"]

Score = Literal["exact", "true", "net"]
"""The conditional score: exact empirical, exact of the data model, or a trained net."""
SCORES: tuple[Score, ...] = get_args(Score)


@dataclass(frozen=True)
class GuidanceConfig:
    """One data set, one score, a grid of guidance scales (validated by :meth:`validate`).

    Attributes:
        data: class-conditional data model: mixture (one Gaussian per class, within-class standard
            deviation sigma) or hmm (classes are regions of one hidden manifold; score true: linear
            only), and N (the training points are class_counts, not alpha or n_train).
        class_counts: training points per class (at least 2 classes).
        separation: spread of the class centres: mu_c ~ N(0, separation^2 I) (hmm: of the latent
            centres nu_c).
        score: the conditional denoiser: exact (exact empirical scores), true (exact scores of
            the data model) or net (a network trained with label dropout).
        sampling: the sampler (ddim, ode or sde) and its time grid (log, uniform or edm).
        measure: the options of measure_guidance (guidance scales, seeds, first steps, DSM-loss
            draws, bootstrap).
        small_class: classes of at most this many points count as small.
        net: score net: the conditional MLP (its data_variance is set from the training points).
        train: score net: DSM training with label dropout (t_max: its largest training time).
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="mixture", dim=8)
    class_counts: tuple[int, ...] = (1, 1, 1, 1, 2, 2, 3, 3, 32, 32, 32, 32, 64, 64, 64, 64)
    separation: float = 0.5
    score: Score = "exact"
    sampling: Sampling = Sampling(solver="ddim", n_steps=50, t_max=5.0, t_min=0.01, grid="uniform")
    measure: GuidanceOptions = GuidanceOptions()
    small_class: int = 3
    net: ModelConfig = ModelConfig(width=128, depth=2, parameterisation="edm")
    train: ConditionalTrainConfig = ConditionalTrainConfig(steps=4000, batch_size=64, learning_rate=2e-3, label_dropout=0.1,
                                                           class_balanced=True, t_min=1e-3, t_max=5.0, steps_per_dispatch=500)
    seed: int = 0

    def validate(self) -> "GuidanceConfig":
        validate_parts(self)
        d, smp = self.data, self.sampling
        _validate.choice("data.model", d.model, CONDITIONAL_DATA)
        _validate.integer("data.dim", d.dim, minimum=1, maximum=4096)
        if len(self.class_counts) < 2:
            raise _validate.ConfigError(f"class_counts={self.class_counts!r} is out of range: expected at least 2 classes")
        for c in self.class_counts:
            _validate.integer("class_counts", c, minimum=1, maximum=10**6)
        _validate.positive("separation", self.separation, upper=1e3)
        _validate.positive("data.sigma", d.sigma, upper=1e3)
        _validate.choice("score", self.score, SCORES)
        if self.score == "true" and d.model == "hmm" and d.nonlinearity != "linear":
            raise _validate.ConfigError(
                f"score='true' with data.nonlinearity={d.nonlinearity!r} is out of range: exact true scores "
                "exist for the mixture and the linear hmm only"
            )
        if smp.t_min >= smp.t_max:
            raise _validate.ConfigError(f"sampling.t_min={smp.t_min} is out of range: expected t_min < t_max={smp.t_max}")
        _validate.integer("measure.n_first_steps", self.measure.n_first_steps, minimum=1, maximum=smp.n_steps + 1)
        _validate.integer("small_class", self.small_class, minimum=1)
        _validate.choice("net.architecture", self.net.architecture, ("mlp",))
        _validate.integer("seed", self.seed, minimum=0)
        n_pairs = len(self.class_counts) * len(self.measure.guidance)
        n_trajectories = self.measure.n_trajectories
        _validate.memory("guided trajectories and their analysis",
                         4.0 * 8 * n_pairs * (smp.n_steps + 1) * n_trajectories * d.dim,
                         knobs={"measure.n_trajectories": n_trajectories, "data.dim": d.dim, "sampling.n_steps": smp.n_steps})
        return self


@dataclass(frozen=True)
class GuidanceResult:
    config: GuidanceConfig
    measurement: GuidanceMeasurement
    summary: list  # summary rows
    seconds: float
    train_losses: tuple = ()

    def memorized_conditions(self) -> dict:
        """Condition -> memorized fraction >= 1/2 at the smallest g (g = 1 in the default sweep)."""
        g0 = min(self.config.measure.guidance)
        return {c.label: bool(c.estimates["memorized_fraction"].value >= 0.5)
                for c in self.measurement.cells if c.guidance == float(g0)}

    def rows(self) -> list[dict]:
        mem = self.memorized_conditions()
        meas = self.measurement
        out = []
        for c in meas.cells:
            row = {"kind": "cell", "condition": c.label, "n_class_points": c.n_class_points, "guidance": c.guidance,
                   "score": meas.score, "memorized_condition": mem[c.label]}
            for name in QUANTITIES:
                row[name] = finite_or_none(c.estimates[name].value)
                row[f"{name}_stderr"] = finite_or_none(c.estimates[name].stderr)
            out.append(row)
        mt, sd = np.exp(-meas.times), np.sqrt(-np.expm1(-2.0 * meas.times))
        for c in meas.cells:
            for j, t in enumerate(meas.times):
                out.append({"kind": "curve", "condition": c.label, "n_class_points": c.n_class_points,
                            "guidance": c.guidance, "score": meas.score, "memorized_condition": mem[c.label],
                            "t": float(t), "w0": finite_or_none(c.curves["w0"][j]),
                            "wT": finite_or_none(c.curves["wT"][j]),
                            "m_t": float(mt[j]), "sqrt_delta": float(sd[j]),
                            "collapsed": finite_or_none(c.curves["collapsed_curve"][j])})
        out.extend(self.summary)
        return out

    def cell_rows(self) -> list[dict]:
        return [r for r in self.rows() if r["kind"] == "cell"]

    def to_json(self) -> dict:
        return {
            "config": config_json(self.config),
            "seconds": self.seconds,
            "train_losses": [finite_or_none(x) for x in self.train_losses],
            "definitions": DEFINITIONS,
            "rows": self.rows(),
        }


DEFINITIONS = {
    "overestimation": "|x0_hat_g - mu| / |x* - mu| at the first step (mu: mean of all training points)",
    "D1": "sum_t (E[w0] - m_t), x_t ~ w0 x* + wT x_T fitted per seed by least squares",
    "D2": "-sum_t (E[wT] - sqrt(Delta_t))",
    "alignment": "cos(eps_c - eps_u, x* - mu) over the first steps (-1: the denoiser difference points at x*)",
    "guidance_magnitude": "|eps_c - eps_u| over the first steps",
    "memorized_fraction": "1/3 rule of the samples x0_hat_g(x_tmin) against the full training set",
    "t_collapse": "first t (backward) where half the trajectories have full-set posterior weight > 1/2 on x*",
    "distance": "|sample - x*| / sqrt(N)",
    "dsm_loss": "E |eps_g - xi|^2 / N on the class's training points, t ~ U[t_min, t_max]",
    "memorized_condition": "memorized_fraction >= 1/2 at the smallest g",
}


def _mean_estimate(values, errors):
    v = np.asarray(values, dtype=float)
    e = np.asarray(errors, dtype=float)
    keep = np.isfinite(v)
    if not keep.any():
        return None, None
    err = math.sqrt(float(np.nansum(e[keep] ** 2))) / int(keep.sum())
    return float(v[keep].mean()), float(err)


def summarize(meas: GuidanceMeasurement, memorized_condition: dict, *, small_class: int, key) -> list[dict]:
    """Summary rows per g (module docstring)."""
    out = []
    labels = sorted({c.label for c in meas.cells})
    positive = np.array([memorized_condition[c] for c in labels])
    for i, g in enumerate(sorted({c.guidance for c in meas.cells})):
        cells = [meas.cell(c, g) for c in labels]
        est = lambda name: np.array([c.estimates[name].value for c in cells])  # noqa: E731
        err = lambda name: np.array([c.estimates[name].stderr for c in cells])  # noqa: E731
        base = {"kind": "summary", "guidance": g, "score": meas.score}
        for d in ("D1", "D2"):
            for sev, values in (("memorized_fraction", est("memorized_fraction")), ("neg_distance", -est("distance"))):
                corr = correlations(est(d), values)
                out.append({**base, "quantity": f"corr_{d}", "severity": sev, "pearson": corr["pearson"],
                            "spearman": corr["spearman"], "n_conditions": corr["n"]})
        small = np.array([c.n_class_points <= small_class for c in cells])
        for name, truth in (("auc", positive), ("auc_small_class", small)):
            auc = detector_auc(jax.random.fold_in(key, i), est("guidance_magnitude"), truth)
            out.append({**base, "quantity": name, "value": finite_or_none(auc["auc"].value),
                        "stderr": finite_or_none(auc["auc"].stderr),
                        "low": auc["low"], "high": auc["high"], "n_positive": auc["n_positive"],
                        "n_negative": auc["n_negative"]})
        for name, sel in (("dsm_loss_memorized", positive), ("dsm_loss_generalized", ~positive)):
            v, e = _mean_estimate(est("dsm_loss")[sel], err("dsm_loss")[sel]) if sel.any() else (None, None)
            out.append({**base, "quantity": name, "value": v, "stderr": e, "n_conditions": int(sel.sum())})
        for name in ("memorized_fraction", "t_collapse"):
            v, e = _mean_estimate(est(name)[small], err(name)[small]) if small.any() else (None, None)
            out.append({**base, "quantity": f"{name}_small", "value": v, "stderr": e, "n_conditions": int(small.sum())})
    return out


@register_study("guidance", GuidanceConfig,
                description="classifier-free guidance on class-conditional data: overestimation, D1/D2 vs schedule, "
                "guidance-magnitude AUC, memorization and collapse time vs g")
def run_guidance(config: GuidanceConfig, key=None, *, progress=None) -> GuidanceResult:
    """Build the data from ``config.seed`` alone (``fold_in(PRNGKey(seed), 0)``: every score of a
    sweep sees the same training set), train the network if ``score = 'net'`` (``fold_in(key, 1)``)
    and measure (``fold_in(key, 2)``); ``key`` defaults to ``PRNGKey(seed)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    start = time.perf_counter()
    d = config.data
    model, data = make_conditional(jax.random.fold_in(jax.random.PRNGKey(config.seed), 0), d.model, d.dim, config.class_counts,
                                   separation=config.separation, sigma=d.sigma, alpha_d=d.alpha_d,
                                   nonlinearity=d.nonlinearity)
    losses: tuple[float, ...] = ()
    denoiser = None
    if config.score == "true":
        denoiser = model.denoiser
    elif config.score == "net":

        variance = float(np.mean(np.var(np.asarray(data.points), axis=0)))
        trained = train_conditional(
            jax.random.fold_in(key, 1), data,
            dataclasses.replace(config.net, data_variance=variance), config.train,
        )
        denoiser, losses = trained.score.denoiser, tuple(float(x) for x in trained.losses)
        if progress is not None:
            progress(f"trained the network ({config.train.steps} steps, final loss {losses[-1]:.3f})")
    smp = config.sampling
    meas = measure_guidance(
        jax.random.fold_in(key, 2), data, denoiser=denoiser, score_name=config.score, n_steps=smp.n_steps,
        t_max=smp.t_max, t_min=smp.t_min, grid=smp.grid, solver=solver(smp.solver), **config.measure.as_kwargs(),
    )
    if progress is not None:
        progress("measured every (condition, g)")
    g0 = min(config.measure.guidance)
    mem = {c.label: bool(c.estimates["memorized_fraction"].value >= 0.5) for c in meas.cells if c.guidance == float(g0)}
    summary = summarize(meas, mem, small_class=config.small_class, key=jax.random.fold_in(key, 3))
    return GuidanceResult(config, meas, summary, time.perf_counter() - start, losses)


def guidance_trend(rows, quantity: str = "t_collapse", *, small_class: int = 3) -> dict:
    """From ``cell`` rows (one or several results): per g, the mean of ``quantity`` over the
    conditions of at most ``small_class`` points with its combined stderr, and whether it is monotone
    (non-decreasing) in g beyond two combined standard errors. Returns ``{"guidance", "value",
    "stderr", "monotone"}``."""
    cells = [r for r in rows if r.get("kind") == "cell" and r["n_class_points"] <= small_class]
    gs = sorted({r["guidance"] for r in cells})
    vals, errs = [], []
    for g in gs:
        sel = [r for r in cells if r["guidance"] == g]
        v, e = _mean_estimate([np.nan if r[quantity] is None else r[quantity] for r in sel],
                              [np.nan if r[f"{quantity}_stderr"] is None else r[f"{quantity}_stderr"] for r in sel])
        vals.append(v)
        errs.append(e)
    ok = all(v is not None for v in vals)
    monotone = ok and all(b - a >= -2 * math.hypot(ea or 0.0, eb or 0.0)
                          for a, b, ea, eb in zip(vals, vals[1:], errs, errs[1:]))
    return {"guidance": gs, "value": vals, "stderr": errs, "monotone": bool(monotone)}
