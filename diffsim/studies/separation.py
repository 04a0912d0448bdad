"""Provable separations (Ye, Zhu, Tao, Chen, arXiv 2511.03202; THEORY.md section 10).

Estimation: the loss gap ``l_t(s_true) - l_t(s_e)`` and the Fisher divergence
``E_{p_t^e}|s_e - s_true|^2`` per time on one training set (:func:`run_loss_gap`, one config = one
(data, N, P) point, a list of times as the curve), against the condensed and dilute closed forms
and the collapse time ``t_C(P)`` (:mod:`diffsim.theory.separation`). Analyses over several P
(:func:`gap_decay`) are plain functions of results.

Approximation: the smallest MLP width that memorizes / fits the empirical score / fits the true
score, per P (:func:`run_size`, see :mod:`diffsim.studies.separation_size`).

Times are in our clock ``m_t = exp(-t)``; every row also carries ``t_paper = 2t``, the clock of
the paper (``dX = -X/2 ds + dB``), converted by :func:`diffsim.process.separations_time_from_t`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate, data
from diffsim.measure.separation import LossGap, LossGapOptions, measure_loss_gap
from diffsim.observe import fit_power_law
from diffsim.process import separations_time_from_t
from diffsim.results import finite_or_none
from diffsim.score import TrainingSet
from diffsim.specs import DataSpec, config_json, validate_parts
from diffsim.theory import separation as theory
from diffsim.theory.spectrum import Spectrum
from diffsim.studies._registry import register_study

__all__ = [
    "SEPARATION_DATA",
    "LossGapConfig",
    "LossGapResult",
    "run_loss_gap",
    "loss_gap_model",
    "gap_decay",
]

SEPARATION_DATA = ("gaussian", "mixture", "hmm")


@dataclass(frozen=True)
class LossGapConfig:
    """One point of the loss-gap study: a data model, a dimension N, a training-set size P
    (``data.n_train``) and the times (our clock) of the curve.

    Data: ``gaussian`` (isotropic, variance sigma^2), ``mixture`` (``n_components`` isotropic clusters
    of variance sigma^2: two at ``+-v``, ``|v|^2 = N mtilde^2``, or K > 2 at ``mtilde sqrt(N) e_k``,
    well separated for mtilde >~ 2), ``hmm`` (linear hidden manifold, ``D = round(alpha_d N)``; the
    only HMM with an exact score). Monte Carlo: ``measure.n_samples`` draws per time and estimator,
    in batches of ``measure.batch`` queries.

    Attributes:
        data: data model with an exact score (gaussian, mixture or linear hmm), N and P.
        measure: the options of measure_loss_gap (times, Monte-Carlo draws, batch).
        n_components: mixture: number of clusters K (at most N; K > 2: means mtilde sqrt(N) e_k).
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="gaussian", dim=8, n_train=256, mtilde=2.0)
    measure: LossGapOptions = LossGapOptions()
    n_components: int = 2
    seed: int = 0

    def validate(self) -> "LossGapConfig":
        validate_parts(self)
        d, m = self.data, self.measure
        _check_data(d, self.n_components)
        _validate.integer("seed", self.seed, minimum=0)
        p = d.n_points
        _validate.memory(
            f"the training set ({p} x {d.dim}) and {m.n_samples} samples at {len(m.times)} times",
            8.0 * p * d.dim + 16.0 * len(m.times) * m.n_samples + 4.0 * 4 * m.batch * (min(p, 8192) + d.dim),
        )
        return self


def _check_data(spec: DataSpec, n_components: int) -> None:
    _validate.choice("data.model", spec.model, SEPARATION_DATA)
    _validate.integer("data.dim", spec.dim, minimum=1, maximum=100_000)
    if spec.model == "hmm":
        _validate.choice("data.nonlinearity", spec.nonlinearity, ("linear",))
    _validate.integer("n_components", n_components, minimum=2,
                      maximum=max(2, spec.dim) if spec.model == "mixture" else None)


def loss_gap_model(spec: DataSpec, n_components: int = 2, key=None):
    """``(model, condensed_spectrum, collapse_spectrum, dilute_spectrum)`` of a data spec: the data
    model (exact ``.score``; a mixture of ``n_components`` clusters), the spectrum whose
    ``<rho/(1+rho)>`` gives the condensed gap (the covariance for Gaussian data, the within-cluster
    ``sigma^2`` for the mixture), the one that sets ``t_C`` (covariance; cluster variance for the
    mixture, as in THEORY.md section 4) and the one of the dilute ``1/P`` law (Gaussian data only,
    else None)."""
    spec.validate()
    _check_data(spec, n_components)
    if spec.model == "mixture":
        if n_components == 2:
            model = data.make("mixture", spec.dim, sigma=spec.sigma, mtilde=spec.mtilde)
        else:
            means = spec.mtilde * math.sqrt(spec.dim) * jnp.eye(spec.dim)[:n_components]
            model = data.GaussianMixture.create(means, spec.sigma)
        within = Spectrum.isotropic(spec.sigma**2)
        return model, within, within, None
    model = data.make(spec.model, spec.dim, sigma=spec.sigma, alpha_d=spec.alpha_d, key=key)
    cov = Spectrum.from_eigenvalues(np.maximum(model.covariance_spectrum(), 0.0))
    return model, cov, cov, cov


@dataclass(frozen=True)
class LossGapResult:
    """Result of :func:`run_loss_gap`: the measurement and the theory at its times."""

    config: LossGapConfig
    measurement: LossGap
    theory: dict  # t_collapse, t_dilute (or None), condensed_limit, loss_gap_condensed [T], loss_gap_dilute [T] or None
    seconds: float

    def summary(self) -> list[dict]:
        """One wide row per time: ``P, N, t, t_paper, loss_gap(_stderr), fisher(_stderr), loss_true,
        loss_empirical, scaled_gap(_stderr) (= gap Delta_t / N)`` and the theory columns
        ``theory/loss_gap_condensed``, ``theory/loss_gap_dilute``, ``theory/t_collapse(_paper)``,
        ``theory/t_dilute``."""
        r, th = self.measurement, self.theory
        scaled, scaled_err = r.scaled_gap()
        rows = []
        for i, t in enumerate(r.times):
            dil = th["loss_gap_dilute"]
            rows.append({
                "data": self.config.data.model, "N": r.dim, "P": r.n_points, "t": float(t),
                "t_paper": float(separations_time_from_t(float(t))),
                "loss_gap": finite_or_none(r.loss_gap[i].value),
                "loss_gap_stderr": finite_or_none(r.loss_gap[i].stderr),
                "fisher": finite_or_none(r.fisher[i].value), "fisher_stderr": finite_or_none(r.fisher[i].stderr),
                "loss_true": finite_or_none(r.loss_true[i].value),
                "loss_empirical": finite_or_none(r.loss_empirical[i].value),
                "scaled_gap": finite_or_none(scaled[i]), "scaled_gap_stderr": finite_or_none(scaled_err[i]),
                "theory/loss_gap_condensed": finite_or_none(th["loss_gap_condensed"][i]),
                "theory/loss_gap_dilute": None if dil is None else finite_or_none(dil[i]),
                "theory/t_collapse": th["t_collapse"],
                "theory/t_collapse_paper": float(separations_time_from_t(th["t_collapse"])),
                "theory/t_dilute": th["t_dilute"],
            })
        return rows

    def rows(self) -> list[dict]:
        """Tidy table: one row per (quantity, t), keys ``N, P, quantity, t, t_paper, value, stderr``."""
        base = {"N": self.measurement.dim, "P": self.measurement.n_points}
        out = [
            {**base, "quantity": f"theory/{k}", "t": None, "t_paper": None, "value": v, "stderr": None}
            for k, v in (("t_collapse", self.theory["t_collapse"]), ("t_dilute", self.theory["t_dilute"]),
                         ("condensed_limit", self.theory["condensed_limit"]))
        ]
        for row in self.summary():
            tt = {"t": row["t"], "t_paper": row["t_paper"]}
            for q in ("loss_gap", "fisher", "scaled_gap"):
                out.append({**base, "quantity": q, **tt, "value": row[q], "stderr": row[f"{q}_stderr"]})
            for q in ("loss_true", "loss_empirical"):
                out.append({**base, "quantity": q, **tt, "value": row[q], "stderr": None})
            for q in ("theory/loss_gap_condensed", "theory/loss_gap_dilute"):
                if row[q] is not None:
                    out.append({**base, "quantity": q, **tt, "value": row[q], "stderr": None})
        return out

    def to_json(self) -> dict:
        return {
            "config": config_json(self.config),
            "theory": {k: self.theory[k] for k in ("t_collapse", "t_dilute", "condensed_limit")},
            "rows": self.summary(),
            "seconds": self.seconds,
        }


@register_study("separation_loss_gap", LossGapConfig,
                description="loss gap l_t(s_true) - l_t(s_e) vs Fisher divergence per t at one (data, N, P)")
def run_loss_gap(config: LossGapConfig, key=None, *, progress=None) -> LossGapResult:
    """Draw P training points (``fold_in(key, 1)``; HMM features from ``fold_in(key, 0)``) and measure
    the loss gap and Fisher divergence at ``config.measure.times`` (:func:`diffsim.measure.separation.measure_loss_gap`,
    key ``fold_in(key, 2)``); ``key`` defaults to ``PRNGKey(config.seed)``."""
    config.validate()
    start = time.time()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model, cond_spec, tc_spec, dil_spec = loss_gap_model(config.data, config.n_components, jax.random.fold_in(key, 0))
    p, n = config.data.n_points, config.data.dim
    points = model.sample(jax.random.fold_in(key, 1), p)
    train = TrainingSet.from_points(points, batch=2 * config.measure.batch)
    meas = measure_loss_gap(jax.random.fold_in(key, 2), train, model.score, **config.measure.as_kwargs())
    t = np.asarray(config.measure.times, dtype=float)
    th = {
        "t_collapse": theory.collapse_time_of_size(p, n, tc_spec),
        "t_dilute": None if dil_spec is None else theory.dilute_time(p, n, dil_spec),
        "condensed_limit": theory.condensed_gap_limit(cond_spec),
        "loss_gap_condensed": theory.loss_gap_condensed(t, cond_spec, n),
        "loss_gap_dilute": None if dil_spec is None else theory.loss_gap_dilute(t, dil_spec, n, p),
    }
    if callable(progress):
        progress(f"loss gap P={p} N={n}")
    return LossGapResult(config, meas, th, time.time() - start)


def gap_decay(results: list[LossGapResult]) -> list[dict]:
    """Decay of the gap with P at each time: a weighted power-law fit ``gap ~ P^b`` over the results
    (same data, N and times; different P) whose ``t_C(P)`` lies below ``t``, at least three of them. Rows ``t, t_paper, b,
    b_stderr, n_sizes, paper_rate`` (``-1/N``, the paper's lower-bound rate) and ``dilute_rate`` (-1)."""

    if not results:
        return []
    times = results[0].measurement.times
    n = results[0].measurement.dim
    out = []
    for i, t in enumerate(times):
        use = [r for r in results if r.theory["t_collapse"] < t]
        p = [r.measurement.n_points for r in use]
        g = [r.measurement.loss_gap[i].value for r in use]
        e = [r.measurement.loss_gap[i].stderr for r in use]
        b, b_err, _ = fit_power_law(p, g, e)  # NaN below three P: two give a slope, not a fit
        out.append({"t": float(t), "t_paper": float(separations_time_from_t(float(t))),
                    "exponent": finite_or_none(b), "exponent_stderr": finite_or_none(b_err), "n_sizes": len(use),
                    "paper_rate": -1.0 / n, "dilute_rate": -1.0})
    return out

