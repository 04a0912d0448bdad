"""Collapse (memorization) time measured by four estimators, against theory (THEORY.md section 4).

One config is one point: a data model, a load ``alpha`` and a dimension ``dim`` (``P =
round(exp(alpha N))`` training points). The study is config -> data -> :func:`diffsim.measure.measure_collapse`
-> rows; the theory for the point (:func:`collapse_predictions`) is a separate call. Analyses over points,
such as the extrapolation in ``1/N`` (:func:`extrapolate`), are functions of results or of result
tables, shared by the CLI, the sweep summary and the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from diffsim import _validate
from diffsim._protocols import DataModel
from diffsim.observe import Estimate
from diffsim.measure.collapse import ESTIMATORS, CollapseMeasurement, CollapseOptions, measure_collapse
from diffsim.specs import DataSpec, config_json, validate_parts
from diffsim.observe import extrapolate_inverse_n
from diffsim.score import TrainingSet
from diffsim.theory.collapse import collapse_time, collapse_time_isotropic, excess_entropy
from diffsim.theory.hmm import hmm_collapse_theory
from diffsim.theory.speciation import speciation_time, two_cluster_largest_eigenvalue
from diffsim.theory.spectrum import Spectrum
from diffsim.studies._registry import register_study

__all__ = ["ESTIMATORS", "CollapseConfig", "CollapseResult", "run_collapse", "collapse_predictions", "extrapolate",
           "summarize", "collapse_payload"]

@dataclass(frozen=True)
class CollapseConfig:
    """One point of the collapse study: a data model at a load and a dimension, and the options of
    :func:`~diffsim.measure.measure_collapse`.

    Attributes:
        data: the data model, N and the load alpha (P = round(exp(alpha N)) training points).
        measure: the options of measure_collapse (trajectories, time grid, clone and entropy estimators).
        seed: random seed (PRNGKey(seed) folded in with N: each N draws its own data).
    """

    data: DataSpec = DataSpec()
    measure: CollapseOptions = CollapseOptions()
    seed: int = 0

    def validate(self) -> "CollapseConfig":
        validate_parts(self)
        m = self.measure
        # besides the training set: the recorded trajectories and states
        records = max(1000, 2 * (m.n_steps // m.record_every + 1))
        _validate.dims_at_load((self.data.dim,), self.data.alpha, name="data.dim",
                               bytes_besides=lambda n: 4.0 * m.n_trajectories * n * records,
                               knobs={"measure.n_trajectories": m.n_trajectories})
        _validate.integer("seed", self.seed, minimum=0)
        return self

    @property
    def n_points(self) -> int:
        """``P = round(exp(alpha N))``."""
        return self.data.n_points


def collapse_predictions(config: CollapseConfig, model: DataModel | None = None) -> dict:
    """Theory for this point: ``t_collapse`` (isotropic formula with the (cluster) variance
    sigma^2, the N -> infinity prediction), ``t_speciation`` for the mixture, and
    ``t_collapse_spectrum`` from the finite-N covariance spectrum at ``alpha = log(P)/N`` (of
    ``model`` when given, else of ``data.make``'s default instance).

    ``data="hmm"``: ``t_collapse`` is the Marchenko-Pastur value for linear phi ([derived]) and the
    Gaussian-equivalent value for nonlinear phi (an approximation), with ``t_collapse_linear_hmm``,
    ``t_collapse_gaussian_equivalent`` and ``t_collapse_isotropic`` (unstructured data at the same
    alpha) for comparison (:func:`diffsim.theory.hmm.hmm_collapse_theory`)."""
    d = config.data
    n = d.dim
    if d.model == "hmm":
        out = hmm_collapse_theory(d.alpha, d.alpha_d, d.nonlinearity)
        out = {"t_collapse": out["t_collapse_gaussian_equivalent"], **out}
    else:
        out = {"t_collapse": float(collapse_time_isotropic(d.alpha, d.sigma))}
    if d.model == "mixture":
        out["t_speciation"] = float(speciation_time(two_cluster_largest_eigenvalue(math.sqrt(n) * d.mtilde, d.sigma)))
    model = _make_model(config, None) if model is None else model
    spec = Spectrum.from_eigenvalues(model.covariance_spectrum())
    out["t_collapse_spectrum"] = float(collapse_time(d.load, spec))
    return out


@dataclass(frozen=True)
class CollapseResult:
    """One point: the config, its theory, the measurement, and the excess-entropy theory curve."""

    config: CollapseConfig
    theory: dict
    measurement: CollapseMeasurement
    entropy_theory: np.ndarray

    @property
    def estimates(self) -> dict:
        return self.measurement.estimates

    def to_json(self) -> dict:
        """One JSON object: ``config``, ``theory``, ``N``, ``P`` and ``estimates``."""
        m = self.measurement
        return {
            "config": config_json(self.config),
            "theory": self.theory,
            "N": m.dim,
            "P": m.n_points,
            "estimates": {k: {"value": v, "stderr": s} for k, (v, s) in m.estimates.items()},
        }

    def rows(self) -> list[dict]:
        """Tidy table: one row per quantity[, t]."""
        m = self.measurement
        base = {"N": m.dim, "P": m.n_points}
        out = []
        for name, value in self.theory.items():
            if name.startswith("t_") and name != "t_collapse_spectrum" and isinstance(value, float):
                out.append({**base, "quantity": f"theory/{name}", "t": None, "value": value, "stderr": None})
        out.append({**base, "quantity": "theory/t_collapse_spectrum", "t": None,
                    "value": self.theory["t_collapse_spectrum"], "stderr": None})
        for name, (v, s) in m.estimates.items():
            out.append({**base, "quantity": f"t_collapse/{name}", "t": None, "value": v, "stderr": s})
        for t, f in zip(m.record_times, m.condensed_fraction):
            out.append({**base, "quantity": "condensed_fraction", "t": float(t), "value": float(f), "stderr": None})
        for t, f in zip(m.branch_times, m.clone_agreement):
            out.append({**base, "quantity": "clone_agreement", "t": float(t), "value": float(f), "stderr": None})
        for t, f, s, th in zip(m.entropy_times, m.entropy_mean, m.entropy_stderr, self.entropy_theory):
            out.append({**base, "quantity": "excess_entropy", "t": float(t), "value": float(f), "stderr": float(s)})
            out.append({**base, "quantity": "theory/excess_entropy", "t": float(t), "value": float(th), "stderr": None})
        return out


def _make_model(config: CollapseConfig, data_key):
    """The data model at dimension N; for ``hmm`` the features come from ``fold_in(data_key, 1)``."""
    hmm = config.data.model == "hmm" and data_key is not None
    return config.data.make(jax.random.fold_in(data_key, 1) if hmm else None)


def extrapolate(results) -> dict:
    """Extrapolation in ``1/N`` (weighted fit ``a + b/N``) of every estimator over ``results``
    (points of one load and data model at several N): name -> :class:`Estimate` of ``a``."""
    results = sorted(results, key=lambda r: r.measurement.dim)
    if len(results) < 2:
        return {}
    dims = [r.measurement.dim for r in results]
    out = {}
    for name in results[0].estimates:
        a, a_err, _ = extrapolate_inverse_n(dims, [r.estimates[name].value for r in results],
                                            [r.estimates[name].stderr for r in results])
        out[name] = Estimate(a, a_err)
    return out


def summarize(rows: list[dict], by: tuple[str, ...] = ()) -> list[dict]:
    """Analyses over the points of a result table (sweep rows): for every group of rows sharing the
    columns ``by`` (e.g. ``alpha``, ``data``, ``seed``) and every estimator, the ``1/N``
    extrapolation ``a + b/N`` of ``t_collapse/<estimator>`` over the group's dimensions, with the
    theory ``t_collapse`` beside it. Returns summary rows ``{*by, quantity, value (a), stderr,
    slope (b), n_dims}``."""
    groups: dict = {}
    for row in rows:
        q = row.get("quantity") or ""
        key = tuple(row.get(b) for b in by)
        g = groups.setdefault(key, {"theory": None, "est": {}})
        if q == "theory/t_collapse":
            g["theory"] = row["value"]
        elif q.startswith("t_collapse/") and row.get("N") is not None:
            g["est"].setdefault(q.split("/", 1)[1], []).append((int(row["N"]), row["value"], row["stderr"]))
    out = []
    for key, g in groups.items():
        base = dict(zip(by, key))
        if g["theory"] is not None:
            out.append({**base, "quantity": "theory/t_collapse", "value": g["theory"], "stderr": None, "slope": None,
                        "n_dims": None})
        for name, pts in g["est"].items():
            dims = sorted({p[0] for p in pts})
            if len(dims) < 2:
                continue
            pts = sorted(pts)
            a, a_err, b = extrapolate_inverse_n([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts])
            out.append({**base, "quantity": f"t_collapse/{name}/extrapolated", "value": a, "stderr": a_err,
                        "slope": b, "n_dims": len(dims)})
    return out


def collapse_payload(results) -> dict:
    """One JSON object for points at several N: ``config`` and ``theory`` of the first point (the
    N -> infinity theory is the same for all), ``rows`` (one per N, with ``theory/t_collapse_spectrum``)
    and ``extrapolated`` (:func:`extrapolate`)."""
    results = sorted(results, key=lambda r: r.measurement.dim)
    first = results[0].to_json()
    theory = {k: v for k, v in first["theory"].items() if k != "t_collapse_spectrum"}
    rows = []
    for r in results:
        j = r.to_json()
        rows.append({"N": j["N"], "P": j["P"], "theory/t_collapse_spectrum": r.theory["t_collapse_spectrum"],
                     "estimates": j["estimates"]})
    return {
        "config": {**first["config"], "dims": [r.measurement.dim for r in results]},
        "theory": theory,
        "rows": rows,
        "extrapolated": {k: {"value": v, "stderr": s} for k, (v, s) in extrapolate(results).items()},
    }


@register_study("collapse", CollapseConfig,
                description="collapse time by four estimators vs theory",
                summarize=summarize)
def run_collapse(config: CollapseConfig, key=None, *, progress=None) -> CollapseResult:
    """Run one point: draw the data, :func:`~diffsim.measure.measure_collapse`, add the theory.

    ``key`` defaults to ``PRNGKey(config.seed)``; the point uses ``fold_in(key, dim)`` (so that a
    point gives the same numbers whatever other dimensions a sweep holds), and the data come from
    the first of its six subkeys, which :func:`measure_collapse` leaves unused.
    """
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    key = jax.random.fold_in(key, config.data.dim)
    data_key = jax.random.split(key, 6)[0]
    model = _make_model(config, data_key)
    train = TrainingSet.from_points(model.sample(data_key, config.n_points))
    theory = collapse_predictions(config, model)
    measurement = measure_collapse(key, train, t_ref=theory["t_collapse_spectrum"], **config.measure.as_kwargs())
    spec = Spectrum.from_eigenvalues(model.covariance_spectrum())
    ent_t = measurement.entropy_times  # the measurement's grid (empty without the entropy estimator)
    entropy_theory = (np.asarray(excess_entropy(ent_t, config.data.load, spec))
                      if ent_t.size else np.array([]))
    if progress is not None:
        progress(f"N={config.data.dim}")
    return CollapseResult(config, theory, measurement, entropy_theory)
