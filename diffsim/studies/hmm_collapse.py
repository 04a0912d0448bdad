"""Collapse time on the Hidden Manifold Model, linear and nonlinear (THEORY.md sections 2 and 4).

One point is one ``(alpha, alpha_D)``, data model and dimension N: the study draws ``n_datasets``
independent feature matrices ``F`` and training sets of ``P = round(exp(alpha N))`` points and
measures ``t_C`` from queries at fixed times drawn by forward noising
(:mod:`diffsim.measure.collapse_queries`; their law is exactly the marginal ``p_t^e`` of the backward
empirical-score SDE, so no trajectory is integrated), pooled over the draws:

* ``own``: time at which half of the queries noised from a training point have that point at
  posterior weight > 1/2 (the excess-entropy zero crossing of section 4, estimator 4, read at the
  median as in :func:`diffsim.observe.excess_entropy_time`);
* ``condensation``: time at which half of the ``p_t^e`` queries have some weight > 1/2 (estimator 1
  at a single time).

The trajectory estimators (freezing, clones) run through :mod:`diffsim.studies.collapse` with
``data="hmm"``. Theory reported with every row: the Marchenko-Pastur ``t_C`` of the linear HMM
([derived]), the Gaussian-equivalent ``t_C`` for nonlinear ``phi`` (an approximation), the
isotropic-Gaussian ``t_C`` at the same ``alpha`` (what unstructured data would give), and the
finite-N ``t_C`` of the exact covariance spectrum of each draw. The ``1/N`` extrapolation over points at
several N (:func:`extrapolate`, :func:`extrapolated_rows`) is given plain and *spectrum-corrected*: each estimate minus the offset ``t_C(exact covariance of the draw) -
t_C(N -> inf spectrum)``, which removes the O(1/N) sample-to-sample scatter of the Wishart spectrum
of ``F`` (known exactly for every draw) and leaves the finite-size bias of the estimator itself. Models: ``linear``, ``tanh``,
``sign``, ``relu`` (HMM) and ``gaussian`` (isotropic ``N(0, I)``, the unstructured reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal, get_args

import jax
import numpy as np

from diffsim import _validate
from diffsim._protocols import DataModel
from diffsim.theory.hmm import Nonlinearity
from diffsim.observe import Estimate
from diffsim.measure.collapse_queries import (
    ESTIMATORS,
    CollapseQueriesMeasurement,
    CollapseQueriesOptions,
    measure_pooled_collapse_queries,
)
from diffsim.observe import extrapolate_inverse_n
from diffsim.score import TrainingSet
from diffsim.specs import DataSpec, config_json, validate_parts
from diffsim.studies._common import validate_data
from diffsim.theory.collapse import collapse_time, collapse_time_hmm_linear, collapse_time_isotropic
from diffsim.theory.hmm import hmm_collapse_theory
from diffsim.theory.spectrum import Spectrum
from diffsim.studies._registry import register_study

__all__ = [
    "MODELS",
    "ESTIMATORS",
    "HmmCollapseConfig",
    "HmmCollapseResult",
    "run_hmm_collapse",
    "time_window",
    "extrapolate",
    "extrapolated_rows",
    "results_json",
]

HmmModel = Literal[Nonlinearity, "gaussian"]
"""A data model of the study: an HMM activation, or ``gaussian`` (isotropic ``N(0, I)``)."""
MODELS: tuple[HmmModel, ...] = get_args(HmmModel)


@dataclass(frozen=True)
class HmmCollapseConfig:
    """One point (validated by :meth:`validate`): load ``data.alpha``, latent ratio ``data.alpha_d``,
    the data (an HMM with its nonlinearity, or gaussian) and dimension ``data.dim``.

    Attributes:
        data: the data: model hmm (nonlinearity linear, tanh, sign or relu) or gaussian (isotropic
            N(0, I), the unstructured reference; nonlinearity linear), unit variance, N, the load alpha
            (P = round(exp(alpha N)) training points) and alpha_d (gaussian: unused for the data, but
            it sets the time window with alpha).
        measure: the options of measure_pooled_collapse_queries (queries per time and draw, bootstrap).
        n_datasets: independent (feature matrix F, training set) draws, pooled.
        n_times: log-spaced times (OU time t) in [0.5 min(t_lin, t_iso), 1.8 max(t_lin, t_iso)], the
            linear-HMM and isotropic collapse times at this load.
        seed: random seed (PRNGKey(seed) folded in with the model and N).
    """

    data: DataSpec = DataSpec(model="hmm", dim=60, alpha=0.1)
    measure: CollapseQueriesOptions = CollapseQueriesOptions()
    n_datasets: int = 2
    n_times: int = 40
    seed: int = 0

    def validate(self) -> "HmmCollapseConfig":
        validate_parts(self)
        validate_data(self.data, ("hmm", "gaussian"))
        if self.data.model == "gaussian":
            _validate.choice("data.nonlinearity", self.data.nonlinearity, ("linear",))
        _validate.integer("n_datasets", self.n_datasets, minimum=1, maximum=10_000)
        _validate.integer("n_times", self.n_times, minimum=4, maximum=100_000)
        n_queries = self.measure.n_queries
        _validate.dims_at_load((self.data.dim,), self.data.alpha, name="data.dim",
                               bytes_besides=lambda n: 4.0 * n_queries * self.n_times * n,
                               knobs={"measure.n_queries": n_queries, "n_times": self.n_times})
        _validate.integer("seed", self.seed, minimum=0)
        return self

    @property
    def model(self) -> HmmModel:
        """The data model of the rows: the HMM nonlinearity, or ``gaussian``."""
        return "gaussian" if self.data.model == "gaussian" else self.data.nonlinearity


@dataclass(frozen=True)
class HmmCollapseResult:
    """One point: the pooled measurement, ``t_C`` of the draws' exact spectra (mean) and the theory."""

    config: HmmCollapseConfig
    measurement: CollapseQueriesMeasurement
    p: int
    latent_dim: int
    t_collapse_spectrum: float
    theory: dict  # hmm_collapse_theory

    @property
    def n(self) -> int:
        return self.config.data.dim

    @property
    def estimates(self) -> dict:
        return self.measurement.estimates

    def rows(self) -> list[dict]:
        """Tidy table: one row per estimator (measured ``t_collapse``, ``stderr``), with the theory
        values ``theory/t_collapse_spectrum`` (mean over the draws' exact spectra) and the keys of
        :func:`~diffsim.theory.hmm.hmm_collapse_theory` under ``theory/``."""
        c = self.config
        return [{
            "alpha": c.data.alpha, "alpha_d": c.data.alpha_d, "model": c.model, "N": c.data.dim, "P": self.p, "D": self.latent_dim,
            "estimator": name, "t_collapse": est.value, "stderr": est.stderr,
            "theory/t_collapse_spectrum": self.t_collapse_spectrum, **{f"theory/{k}": v for k, v in self.theory.items()},
        } for name, est in self.measurement.estimates.items()]

    def curves(self) -> dict:
        c, m = self.config, self.measurement
        return {"alpha": c.data.alpha, "alpha_d": c.data.alpha_d, "model": c.model, "N": c.data.dim, "t": m.times.tolist(),
                "own_fraction": m.own_fraction.tolist(), "condensed_fraction": m.condensed_fraction.tolist()}

    def to_json(self) -> dict:
        return results_json([self])


DEFINITION = ("t_C: half of the forward-noised queries have a posterior weight > 1/2 "
              "(own: on the point they were noised from; condensation: on any point)")


def time_window(alpha: float, alpha_d: float, n_times: int) -> np.ndarray:
    """Decreasing times bracketing every model's ``t_C`` at finite N: ``[0.5 t_lin, 1.8 t_iso]``, log-spaced."""
    t_lin = float(collapse_time_hmm_linear(alpha, alpha_d))
    t_iso = float(collapse_time_isotropic(alpha))
    return np.exp(np.linspace(np.log(1.8 * max(t_lin, t_iso)), np.log(0.5 * min(t_lin, t_iso)), n_times))


@partial(jax.jit, static_argnames=("n_points",))
def training_set(model: DataModel, key: jax.Array, *, n_points: int) -> TrainingSet:
    """``P = n_points`` samples of ``model`` laid out for the streamed kernel (one compile per model type/shape)."""
    return TrainingSet.from_points(model.sample(key, n_points))


@register_study("hmm_collapse", HmmCollapseConfig,
                description="collapse time on the hidden manifold (linear, nonlinear, Gaussian) vs Marchenko-Pastur "
                "theory",
                summarize=lambda rows, by: extrapolated_rows(rows))
def run_hmm_collapse(config: HmmCollapseConfig, key=None, *, progress=None) -> HmmCollapseResult:
    """Data -> measure -> theory at one point; ``key`` defaults to ``PRNGKey(seed)``; the point uses
    ``fold_in(fold_in(fold_in(key, 0), model index), N)``, so points are independent of which others run.
    Each of the ``n_datasets`` draws uses ``split(point key, n_datasets)`` (features, data, queries)."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    spec, model = config.data, config.model
    alpha, alpha_d, n = spec.alpha, spec.alpha_d, spec.dim
    point_key = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, 0), MODELS.index(model)), n)
    p = spec.n_points
    times = time_window(alpha, alpha_d, config.n_times)
    draws, t_spec = [], []
    for k in jax.random.split(point_key, config.n_datasets):  # a handful of independent datasets
        feature_key, data_key, query_key = jax.random.split(k, 3)
        model_obj = spec.make(feature_key)
        draws.append((query_key, training_set(model_obj, data_key, n_points=p)))
        spectrum = Spectrum.from_eigenvalues(model_obj.covariance_spectrum())
        t_spec.append(float(collapse_time(spec.load, spectrum)))
    measurement = measure_pooled_collapse_queries(point_key, draws, times=times, **config.measure.as_kwargs())
    if progress is not None:
        progress(f"alpha={alpha} alpha_d={alpha_d} {model} N={n}")
    d = n if model == "gaussian" else max(1, round(alpha_d * n))
    theory = hmm_collapse_theory(alpha, alpha_d, "linear" if model == "gaussian" else model)
    return HmmCollapseResult(config, measurement, p, d, float(np.mean(t_spec)), theory)


# ----------------------------------------------------------------------------- analyses over points


def _spectral_reference(row: dict) -> float:
    """``N -> inf`` ``t_C`` of the Gaussian with this model's covariance: isotropic, Marchenko-Pastur,
    or (nonlinear phi) the Gaussian-equivalent spectrum."""
    if row["model"] == "gaussian":
        return row["theory/t_collapse_isotropic"]
    return row["theory/t_collapse_gaussian_equivalent"]


def extrapolated_rows(rows: list[dict]) -> list[dict]:
    """``1/N -> 0`` extrapolations of a row table (rows of points at several N; grouped by
    ``(alpha, alpha_d, model)`` and, when present, ``seed``): for each estimator a row with ``N = None``
    and ``estimator`` ``"<name>/extrapolated"`` and ``"<name>/spectrum_corrected/extrapolated"`` (each
    estimate minus ``t_C(exact spectrum of the draw) - t_C(N -> inf spectrum)``), with the theory
    columns. Groups with fewer than two N are left out."""
    groups: dict = {}
    for r in rows:
        if r.get("N") is None or r["estimator"] not in ESTIMATORS:
            continue
        groups.setdefault((r["alpha"], r["alpha_d"], r["model"], r.get("seed")), []).append(r)
    out = []
    theory_keys = ("theory/t_collapse_linear_hmm", "theory/t_collapse_gaussian_equivalent", "theory/t_collapse_isotropic")
    for (alpha, alpha_d, model, seed), group in groups.items():
        for name in ESTIMATORS:
            pts = sorted((r for r in group if r["estimator"] == name), key=lambda r: r["N"])
            if len(pts) < 2:
                continue
            dims = [r["N"] for r in pts]
            vals = [r["t_collapse"] for r in pts]
            errs = [r["stderr"] for r in pts]
            corrected = [v - (r["theory/t_collapse_spectrum"] - _spectral_reference(r)) for v, r in zip(vals, pts)]
            base = {"alpha": alpha, "alpha_d": alpha_d, "model": model, "N": None, "P": None, "D": None,
                    "theory/t_collapse_spectrum": None, **{k: pts[0][k] for k in theory_keys}}
            if seed is not None:
                base["seed"] = seed
            for label, values in ((name, vals), (f"{name}/spectrum_corrected", corrected)):
                v, s = extrapolate_inverse_n(dims, values, errs)[:2]
                out.append({**base, "estimator": f"{label}/extrapolated", "t_collapse": v, "stderr": s})
    return out


def extrapolate(results: list[HmmCollapseResult]) -> dict:
    """``{(alpha, alpha_d, model, estimator): Estimate}`` of the ``1/N -> 0`` extrapolations over the
    points in ``results`` (``estimator``: ``own``, ``own/spectrum_corrected``, ``condensation``, ...)."""
    rows = [row for r in results for row in r.rows()]
    return {(r["alpha"], r["alpha_d"], r["model"], r["estimator"].removesuffix("/extrapolated")):
            Estimate(r["t_collapse"], r["stderr"]) for r in extrapolated_rows(rows)}


def results_json(results: list[HmmCollapseResult]) -> dict:
    """One JSON object for several points: configs, rows (with the extrapolation rows where a group has
    at least two N) and the curves behind every estimate."""
    rows = [row for r in results for row in r.rows()]
    return {"configs": [config_json(r.config) for r in results], "definition": DEFINITION,
            "rows": rows + extrapolated_rows(rows), "curves": [r.curves() for r in results]}
