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
from diffsim.data import DataName
from diffsim.measure.separation import LossGap, measure_loss_gap
from diffsim.observe import fit_power_law
from diffsim.process import separations_time_from_t
from diffsim.results import finite_or_none
from diffsim.score import TrainingSet
from diffsim.studies._common import config_json
from diffsim.theory import separation as theory
from diffsim.theory.spectrum import Spectrum

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
    """One point of the loss-gap study: a data model, a dimension ``dim`` (N), a training-set size
    ``n_train`` (P) and the ``times`` (our clock) of the curve.

    Data: ``gaussian`` (isotropic, variance sigma^2), ``mixture`` (``n_components`` isotropic clusters
    of variance sigma^2: two at ``+-v``, ``|v|^2 = N mtilde^2``, or K > 2 at ``mtilde sqrt(N) e_k``,
    well separated for mtilde >~ 2), ``hmm`` (linear hidden manifold, ``D = round(alpha_d N)``; the
    only HMM with an exact score). Monte Carlo: ``n_samples`` draws per time and estimator, in
    batches of ``batch`` queries.

    Attributes:
        data: data model with an exact score: gaussian (isotropic), mixture or hmm (linear).
        dim: dimension N.
        n_train: training-set size P.
        times: increasing times of the curve (OU time t, our clock; the paper's is 2t).
        n_samples: Monte-Carlo draws per time and estimator.
        batch: queries per streamed evaluation.
        seed: random seed.
        sigma: gaussian: standard deviation; mixture: cluster standard deviation (hmm: unused).
        mtilde: mixture: separation: |v|^2 = N mtilde^2 (two clusters), or means mtilde sqrt(N) e_k.
        n_components: mixture: number of clusters K (at most N; K > 2: means mtilde sqrt(N) e_k).
        alpha_d: hmm: latent ratio D/N (D = round(alpha_d N)).
    """

    data: DataName = "gaussian"
    dim: int = 8
    n_train: int = 256
    times: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    n_samples: int = 4096
    batch: int = 512
    seed: int = 0
    sigma: float = 1.0
    mtilde: float = 2.0
    n_components: int = 2
    alpha_d: float = 0.5

    def validate(self) -> "LossGapConfig":
        _validate.choice("data", self.data, SEPARATION_DATA)
        _validate.integer("dim", self.dim, minimum=1, maximum=100_000)
        _validate.integer("n_train", self.n_train, minimum=2)
        _validate.increasing("times", self.times)
        for t in self.times:
            _validate.positive("times", t, upper=50.0)
        _validate.integer("n_samples", self.n_samples, minimum=2)
        _validate.integer("batch", self.batch, minimum=1)
        _validate.integer("seed", self.seed, minimum=0)
        _validate.positive("sigma", self.sigma)
        _validate.positive("mtilde", self.mtilde)
        _validate.integer("n_components", self.n_components, minimum=2,
                          maximum=max(2, self.dim) if self.data == "mixture" else None)
        _validate.positive("alpha_d", self.alpha_d, upper=1.0)
        _validate.memory(
            f"the training set ({self.n_train} x {self.dim}) and {self.n_samples} samples at {len(self.times)} times",
            8.0 * self.n_train * self.dim + 16.0 * len(self.times) * self.n_samples
            + 4.0 * 4 * self.batch * (min(self.n_train, 8192) + self.dim),
        )
        return self


def loss_gap_model(config: LossGapConfig, key=None):
    """``(model, condensed_spectrum, collapse_spectrum, dilute_spectrum)`` of a config: the data
    model (exact ``.score``), the spectrum whose ``<rho/(1+rho)>`` gives the condensed gap (the
    covariance for Gaussian data, the within-cluster ``sigma^2`` for the mixture), the one that sets
    ``t_C`` (covariance; cluster variance for the mixture, as in THEORY.md section 4) and the one of
    the dilute ``1/P`` law (Gaussian data only, else None)."""
    config.validate()
    if config.data == "mixture":
        if config.n_components == 2:
            model = data.make("mixture", config.dim, sigma=config.sigma, mtilde=config.mtilde)
        else:
            means = config.mtilde * math.sqrt(config.dim) * jnp.eye(config.dim)[: config.n_components]
            model = data.GaussianMixture.create(means, config.sigma)
        within = Spectrum.isotropic(config.sigma**2)
        return model, within, within, None
    model = data.make(config.data, config.dim, sigma=config.sigma, alpha_d=config.alpha_d, key=key)
    spec = Spectrum.from_eigenvalues(np.maximum(model.covariance_spectrum(), 0.0))
    return model, spec, spec, spec


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
                "data": self.config.data, "N": r.dim, "P": r.n_points, "t": float(t),
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


def run_loss_gap(config: LossGapConfig, key=None, *, progress=None) -> LossGapResult:
    """Draw P training points (``fold_in(key, 1)``; HMM features from ``fold_in(key, 0)``) and measure
    the loss gap and Fisher divergence at ``config.times`` (:func:`diffsim.measure.separation.measure_loss_gap`,
    key ``fold_in(key, 2)``); ``key`` defaults to ``PRNGKey(config.seed)``."""
    config.validate()
    start = time.time()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model, cond_spec, tc_spec, dil_spec = loss_gap_model(config, jax.random.fold_in(key, 0))
    points = model.sample(jax.random.fold_in(key, 1), config.n_train)
    train = TrainingSet.from_points(points, batch=2 * config.batch)
    meas = measure_loss_gap(jax.random.fold_in(key, 2), train, model.score, times=config.times,
                            n_samples=config.n_samples, batch=config.batch)
    t = np.asarray(config.times, dtype=float)
    p, n = config.n_train, config.dim
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

