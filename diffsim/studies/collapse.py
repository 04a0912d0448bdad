"""Collapse (memorization) time measured by four estimators, against theory (THEORY.md section 4).

One config is one point: a data model, a load ``alpha`` and a dimension ``dim`` (``P =
round(exp(alpha N))`` training points). The study is config -> data -> :func:`diffsim.measure.measure_collapse`
-> rows; the theory for the point (:func:`collapse_predictions`) is a separate call. Analyses over points,
such as the extrapolation in ``1/N`` (:func:`extrapolate`), are functions of results or of result
tables, shared by the CLI, the sweep summary and the figures.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import jax
import numpy as np

from diffsim import _validate, data
from diffsim._protocols import DataModel
from diffsim.observe import Estimate
from diffsim.data import DataName, Nonlinearity
from diffsim.measure.collapse import ESTIMATORS, CollapseMeasurement, Estimator, measure_collapse
from diffsim.observe import extrapolate_inverse_n
from diffsim.score import TrainingSet
from diffsim.theory.collapse import collapse_time, collapse_time_isotropic, excess_entropy
from diffsim.theory.hmm import hmm_collapse_theory
from diffsim.theory.speciation import speciation_time, two_cluster_largest_eigenvalue
from diffsim.theory.spectrum import Spectrum

__all__ = ["ESTIMATORS", "CollapseConfig", "CollapseResult", "run_collapse", "collapse_predictions", "extrapolate",
           "summarize", "collapse_payload"]

# Options passed through to measure_collapse (the rest of the config chooses the data).
_MEASURE_OPTIONS = ("n_trajectories", "t_max", "t_min", "n_steps", "record_every", "n_clone_pairs", "n_branch",
                    "clone_window", "clone_steps", "clone_t_end", "entropy_samples", "entropy_times", "n_bootstrap",
                    "estimators")


@dataclass(frozen=True)
class CollapseConfig:
    """One point of the collapse study (all keyword, all validated by :meth:`validate`).

    Attributes:
        data: data model: gaussian (isotropic), mixture (two clusters) or hmm (hidden manifold).
        alpha: load alpha = log(P)/N (P = round(exp(alpha N)) training points).
        dim: dimension N.
        n_trajectories: backward SDE trajectories from N(0, I) at t_max.
        seed: random seed (PRNGKey(seed) folded in with N: each N draws its own data).
        sigma: gaussian: standard deviation; mixture: cluster standard deviation (hmm: unused).
        mtilde: mixture: cluster separation, |v|^2 = N mtilde^2 for the centres +-v.
        t_max: first time of the backward SDE (OU time t).
        t_min: last time of the backward SDE (OU time t).
        n_steps: backward SDE steps on a log grid from t_max to t_min.
        record_every: record the observables every this many steps (a divisor of n_steps).
        n_clone_pairs: clones estimator: clone pairs per branch time.
        n_branch: clones estimator: branch times in clone_window.
        clone_window: clones estimator: (low, high) branch window in units of t_ref, the collapse
            time of the Gaussian with the training set's sample covariance.
        clone_steps: clones estimator: SDE steps of each clone continuation.
        clone_t_end: clones estimator: the clones run to clone_t_end * t_ref.
        entropy_samples: entropy estimator: Monte-Carlo samples per time.
        entropy_times: entropy estimator: log-spaced times over [t_ref/4, 4 t_ref].
        n_bootstrap: bootstrap resamples of each standard error.
        estimators: which estimators to run.
        alpha_d: hmm: latent ratio D/N (D = round(alpha_d N)).
        nonlinearity: hmm: activation phi of the hidden manifold.
    """

    data: DataName = "gaussian"
    alpha: float = 0.2
    dim: int = 20
    n_trajectories: int = 256
    seed: int = 0
    sigma: float = 1.0
    mtilde: float = 1.0
    t_max: float = 5.0
    t_min: float = 1e-3
    n_steps: int = 600
    record_every: int = 5
    n_clone_pairs: int = 256
    n_branch: int = 12
    clone_window: tuple[float, float] = (0.6, 2.0)
    clone_steps: int = 40
    clone_t_end: float = 0.2
    entropy_samples: int = 512
    entropy_times: int = 48
    n_bootstrap: int = 200
    estimators: tuple[Estimator, ...] = ESTIMATORS
    alpha_d: float = 0.5
    nonlinearity: Nonlinearity = "linear"

    def validate(self) -> "CollapseConfig":
        _validate.choice("data", self.data, data.DATA_MODELS)
        _validate.positive("alpha_d", self.alpha_d, upper=1.0)
        _validate.choice("nonlinearity", self.nonlinearity, data.NONLINEARITIES)
        _validate.positive("alpha", self.alpha, upper=5.0)
        _validate.integer("n_trajectories", self.n_trajectories, minimum=2)
        _validate.integer("n_steps", self.n_steps, minimum=2, maximum=_validate.MAX_STEPS)
        _validate.integer("record_every", self.record_every, minimum=1, maximum=self.n_steps)
        # besides the training set: the recorded trajectories and states
        records = max(1000, 2 * (self.n_steps // self.record_every + 1))
        _validate.dims_at_load((self.dim,), self.alpha, name="dim",
                               bytes_besides=lambda n: 4.0 * self.n_trajectories * n * records,
                               knobs={"n_trajectories": self.n_trajectories})
        _validate.integer("seed", self.seed, minimum=0)
        _validate.positive("sigma", self.sigma)
        _validate.positive("mtilde", self.mtilde)
        _validate.positive("t_max", self.t_max, upper=50.0)
        _validate.positive("t_min", self.t_min, upper=self.t_max)
        if self.n_steps % self.record_every:
            raise _validate.ConfigError(
                f"record_every={self.record_every} is out of range: expected a divisor of n_steps={self.n_steps}"
            )
        _validate.integer("n_clone_pairs", self.n_clone_pairs, minimum=2)
        _validate.integer("n_branch", self.n_branch, minimum=2)
        _validate.integer("clone_steps", self.clone_steps, minimum=2, maximum=_validate.MAX_STEPS)
        if len(self.clone_window) != 2:
            raise _validate.ConfigError(f"clone_window={self.clone_window!r} is out of range: expected (low, high) in units of t_C")
        _validate.increasing("clone_window", self.clone_window)
        _validate.positive("clone_window[0]", self.clone_window[0])
        _validate.positive("clone_t_end", self.clone_t_end, upper=0.4)
        _validate.integer("entropy_samples", self.entropy_samples, minimum=2)
        _validate.integer("entropy_times", self.entropy_times, minimum=4)
        _validate.integer("n_bootstrap", self.n_bootstrap, minimum=10)
        for name in self.estimators:
            _validate.choice("estimators", name, ESTIMATORS)
        return self

    @property
    def n_points(self) -> int:
        """``P = round(exp(alpha N))``."""
        return data.points_at_load(self.alpha, self.dim)

    @property
    def measure_options(self) -> dict:
        """Keyword arguments of :func:`~diffsim.measure.measure_collapse` set by this config."""
        return {name: getattr(self, name) for name in _MEASURE_OPTIONS}


def collapse_predictions(config: CollapseConfig, model: DataModel | None = None) -> dict:
    """Theory for this point: ``t_collapse`` (isotropic formula with the (cluster) variance
    sigma^2, the N -> infinity prediction), ``t_speciation`` for the mixture, and
    ``t_collapse_spectrum`` from the finite-N covariance spectrum at ``alpha = log(P)/N`` (of
    ``model`` when given, else of ``data.make``'s default instance).

    ``data="hmm"``: ``t_collapse`` is the Marchenko-Pastur value for linear phi ([derived]) and the
    Gaussian-equivalent value for nonlinear phi (an approximation), with ``t_collapse_linear_hmm``,
    ``t_collapse_gaussian_equivalent`` and ``t_collapse_isotropic`` (unstructured data at the same
    alpha) for comparison (:func:`diffsim.theory.hmm.hmm_collapse_theory`)."""
    n = config.dim
    if config.data == "hmm":
        out = hmm_collapse_theory(config.alpha, config.alpha_d, config.nonlinearity)
        out = {"t_collapse": out["t_collapse_gaussian_equivalent"], **out}
    else:
        out = {"t_collapse": float(collapse_time_isotropic(config.alpha, config.sigma))}
    if config.data == "mixture":
        out["t_speciation"] = float(speciation_time(two_cluster_largest_eigenvalue(math.sqrt(n) * config.mtilde, config.sigma)))
    model = _make_model(config, None) if model is None else model
    spec = Spectrum.from_eigenvalues(model.covariance_spectrum())
    out["t_collapse_spectrum"] = float(collapse_time(math.log(config.n_points) / n, spec))
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
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()},
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
    if config.data != "hmm":
        return data.make(config.data, config.dim, sigma=config.sigma, mtilde=config.mtilde)
    key = None if data_key is None else jax.random.fold_in(data_key, 1)
    return data.make("hmm", config.dim, alpha_d=config.alpha_d, nonlinearity=config.nonlinearity, key=key)


def run_collapse(config: CollapseConfig, key=None, *, progress=None) -> CollapseResult:
    """Run one point: draw the data, :func:`~diffsim.measure.measure_collapse`, add the theory.

    ``key`` defaults to ``PRNGKey(config.seed)``; the point uses ``fold_in(key, dim)`` (so that a
    point gives the same numbers whatever other dimensions a sweep holds), and the data come from
    the first of its six subkeys, which :func:`measure_collapse` leaves unused.
    """
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    key = jax.random.fold_in(key, config.dim)
    data_key = jax.random.split(key, 6)[0]
    model = _make_model(config, data_key)
    train = TrainingSet.from_points(model.sample(data_key, config.n_points))
    theory = collapse_predictions(config, model)
    measurement = measure_collapse(key, train, t_ref=theory["t_collapse_spectrum"], **config.measure_options)
    spec = Spectrum.from_eigenvalues(model.covariance_spectrum())
    ent_t = measurement.entropy_times  # the measurement's grid (empty without the entropy estimator)
    entropy_theory = (np.asarray(excess_entropy(ent_t, math.log(config.n_points) / config.dim, spec))
                      if ent_t.size else np.array([]))
    if progress is not None:
        progress(f"N={config.dim}")
    return CollapseResult(config, theory, measurement, entropy_theory)


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
