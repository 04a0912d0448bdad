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

import math
import time
from dataclasses import dataclass
from typing import Literal, get_args

import jax
import numpy as np

from diffsim import _validate
from diffsim.data.conditional import CONDITIONAL_DATA, make_conditional
from diffsim.data.hmm import NONLINEARITIES
from diffsim.results import finite_or_none
from diffsim.theory.hmm import Nonlinearity
from diffsim.measure.guidance import (
    DEFAULT_GUIDANCE,
    QUANTITIES,
    GuidanceMeasurement,
    correlations,
    detector_auc,
    measure_guidance,
)
from diffsim.nets.conditional import ConditionalTrainConfig, train_conditional
from diffsim.nets.models import ModelConfig, Parameterisation
from diffsim.process import GRID_KINDS
from diffsim.solvers import SOLVERS, solver
from diffsim.studies._common import config_json

__all__ = ["SCORES", "GuidanceConfig", "GuidanceResult", "run_guidance", "guidance_trend"]

Score = Literal["exact", "true", "net"]
"""The conditional score: exact empirical, exact of the data model, or a trained net."""
SCORES: tuple[Score, ...] = get_args(Score)
ConditionalData = Literal["mixture", "hmm"]  # diffsim.data.conditional.CONDITIONAL_DATA
GridKind = Literal["log", "uniform", "edm"]  # diffsim.process.GRID_KINDS
Sampler = Literal["ddim", "ode", "sde"]  # the names of diffsim.solvers.SOLVERS


@dataclass(frozen=True)
class GuidanceConfig:
    """One data set, one score, a grid of guidance scales (validated by :meth:`validate`).

    Attributes:
        data: class-conditional data model: mixture (one Gaussian per class) or hmm (classes are
            regions of one hidden manifold).
        dim: dimension N.
        class_counts: training points per class (at least 2 classes).
        separation: spread of the class centres: mu_c ~ N(0, separation^2 I) (hmm: of the latent
            centres nu_c).
        sigma: mixture: within-class standard deviation.
        alpha_d: hmm: latent ratio D/N (D = round(alpha_d N)).
        nonlinearity: hmm: activation phi of the hidden manifold (score true: linear only).
        score: the conditional denoiser: exact (exact empirical scores), true (exact scores of
            the data model) or net (a network trained with label dropout).
        guidance: guidance scales g (1: the unguided conditional model).
        n_trajectories: seeds per (condition, g), the same initial noises for every pair.
        n_steps: sampler steps from t_max to t_min.
        t_max: first sampler time (OU time t; also the net's largest training time).
        t_min: last sampler time (OU time t).
        grid: sampler time grid: uniform, log or edm.
        sampler: ddim (deterministic DDIM), ode (Heun probability flow) or sde (Euler-Maruyama).
        n_first_steps: first sampler steps averaged for the alignment and the guidance magnitude.
        n_loss_samples: DSM-loss draws per (condition, g).
        n_bootstrap: bootstrap resamples of the seeds.
        small_class: classes of at most this many points count as small.
        width: net: MLP width.
        depth: net: residual blocks.
        parameterisation: net: what it predicts: eps (the noise), x0 (the denoised point) or edm.
        steps: net: training steps.
        batch_size: net: minibatch size.
        learning_rate: net: Adam learning rate.
        label_dropout: net: probability of replacing the label by the null (unconditional) label.
        class_balanced: net: draw a class uniformly, then one of its points (else points uniformly).
        seed: random seed.
    """

    data: ConditionalData = "mixture"
    dim: int = 8
    class_counts: tuple[int, ...] = (1, 1, 1, 1, 2, 2, 3, 3, 32, 32, 32, 32, 64, 64, 64, 64)
    separation: float = 0.5
    sigma: float = 1.0
    alpha_d: float = 0.5
    nonlinearity: Nonlinearity = "linear"
    score: Score = "exact"
    guidance: tuple[float, ...] = DEFAULT_GUIDANCE
    n_trajectories: int = 64
    n_steps: int = 50
    t_max: float = 5.0
    t_min: float = 0.01
    grid: GridKind = "uniform"
    sampler: Sampler = "ddim"
    n_first_steps: int = 5
    n_loss_samples: int = 256
    n_bootstrap: int = 200
    small_class: int = 3
    # network (score = "net")
    width: int = 128
    depth: int = 2
    parameterisation: Parameterisation = "edm"
    steps: int = 4000
    batch_size: int = 64
    learning_rate: float = 2e-3
    label_dropout: float = 0.1
    class_balanced: bool = True
    seed: int = 0

    def validate(self) -> "GuidanceConfig":
        _validate.choice("data", self.data, CONDITIONAL_DATA)
        _validate.integer("dim", self.dim, minimum=1, maximum=4096)
        if len(self.class_counts) < 2:
            raise _validate.ConfigError(f"class_counts={self.class_counts!r} is out of range: expected at least 2 classes")
        for c in self.class_counts:
            _validate.integer("class_counts", c, minimum=1, maximum=10**6)
        _validate.positive("separation", self.separation, upper=1e3)
        _validate.positive("sigma", self.sigma, upper=1e3)
        _validate.positive("alpha_d", self.alpha_d, upper=1.0)
        _validate.choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        _validate.choice("score", self.score, SCORES)
        if self.score == "true" and self.data == "hmm" and self.nonlinearity != "linear":
            raise _validate.ConfigError(
                f"score='true' with nonlinearity={self.nonlinearity!r} is out of range: exact true scores "
                "exist for the mixture and the linear hmm only"
            )
        if not self.guidance:
            raise _validate.ConfigError("guidance must be a non-empty list of scales")
        for g in self.guidance:
            _validate.in_range("guidance", g, 0.0, 100.0)
        _validate.integer("n_trajectories", self.n_trajectories, minimum=2, maximum=2**16)
        _validate.integer("n_steps", self.n_steps, minimum=1, maximum=10**5)
        _validate.positive("t_max", self.t_max, upper=50.0)
        _validate.positive("t_min", self.t_min, upper=self.t_max)
        if self.t_min >= self.t_max:
            raise _validate.ConfigError(f"t_min={self.t_min} is out of range: expected t_min < t_max={self.t_max}")
        _validate.choice("grid", self.grid, GRID_KINDS)
        _validate.choice("sampler", self.sampler, SOLVERS)
        _validate.integer("n_first_steps", self.n_first_steps, minimum=1, maximum=self.n_steps + 1)
        _validate.integer("n_loss_samples", self.n_loss_samples, minimum=1, maximum=10**6)
        _validate.integer("n_bootstrap", self.n_bootstrap, minimum=2, maximum=10**5)
        _validate.integer("small_class", self.small_class, minimum=1)
        _validate.integer("width", self.width, minimum=1, maximum=65_536)
        _validate.integer("depth", self.depth, minimum=0, maximum=64)
        _validate.choice("parameterisation", self.parameterisation, ("eps", "x0", "edm"))
        _validate.integer("steps", self.steps, minimum=1, maximum=10**8)
        _validate.integer("batch_size", self.batch_size, minimum=1, maximum=2**16)
        _validate.positive("learning_rate", self.learning_rate, upper=1.0)
        _validate.in_range("label_dropout", self.label_dropout, 0.0, 1.0, closed=False)
        _validate.integer("seed", self.seed, minimum=0)
        n_pairs = len(self.class_counts) * len(self.guidance)
        _validate.memory("guided trajectories and their analysis",
                         4.0 * 8 * n_pairs * (self.n_steps + 1) * self.n_trajectories * self.dim,
                         knobs={"n_trajectories": self.n_trajectories, "dim": self.dim, "n_steps": self.n_steps})
        return self

    @property
    def steps_per_dispatch(self) -> int:
        """Largest divisor of ``steps`` that is at most 500."""
        return max(d for d in range(1, min(500, self.steps) + 1) if self.steps % d == 0)


@dataclass(frozen=True)
class GuidanceResult:
    config: GuidanceConfig
    measurement: GuidanceMeasurement
    summary: list  # summary rows
    seconds: float
    train_losses: tuple = ()

    def memorized_conditions(self) -> dict:
        """Condition -> memorized fraction >= 1/2 at the smallest g (g = 1 in the default sweep)."""
        g0 = min(self.config.guidance)
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


def run_guidance(config: GuidanceConfig, key=None, *, progress=None) -> GuidanceResult:
    """Build the data from ``config.seed`` alone (``fold_in(PRNGKey(seed), 0)``: every score of a
    sweep sees the same training set), train the network if ``score = 'net'`` (``fold_in(key, 1)``)
    and measure (``fold_in(key, 2)``); ``key`` defaults to ``PRNGKey(seed)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    start = time.perf_counter()
    model, data = make_conditional(jax.random.fold_in(jax.random.PRNGKey(config.seed), 0), config.data, config.dim, config.class_counts,
                                   separation=config.separation, sigma=config.sigma, alpha_d=config.alpha_d,
                                   nonlinearity=config.nonlinearity)
    losses: tuple[float, ...] = ()
    denoiser = None
    if config.score == "true":
        denoiser = model.denoiser
    elif config.score == "net":

        variance = float(np.mean(np.var(np.asarray(data.points), axis=0)))
        trained = train_conditional(
            jax.random.fold_in(key, 1), data,
            ModelConfig(width=config.width, depth=config.depth, parameterisation=config.parameterisation,
                        data_variance=variance),
            ConditionalTrainConfig(steps=config.steps, batch_size=config.batch_size,
                                   learning_rate=config.learning_rate, label_dropout=config.label_dropout,
                                   class_balanced=config.class_balanced, t_min=1e-3, t_max=config.t_max,
                                   steps_per_dispatch=config.steps_per_dispatch),
        )
        denoiser, losses = trained.score.denoiser, tuple(float(x) for x in trained.losses)
        if progress is not None:
            progress(f"trained the network ({config.steps} steps, final loss {losses[-1]:.3f})")
    meas = measure_guidance(
        jax.random.fold_in(key, 2), data, denoiser=denoiser, score_name=config.score, guidance=config.guidance,
        n_trajectories=config.n_trajectories, n_steps=config.n_steps, t_max=config.t_max, t_min=config.t_min,
        grid=config.grid, solver=solver(config.sampler), n_first_steps=config.n_first_steps,
        n_loss_samples=config.n_loss_samples, n_bootstrap=config.n_bootstrap,
    )
    if progress is not None:
        progress("measured every (condition, g)")
    g0 = min(config.guidance)
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
