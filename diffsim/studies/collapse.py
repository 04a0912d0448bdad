"""Collapse (memorization) time measured by four estimators, against theory (THEORY.md section 4).

For each dimension N the study draws ``P = round(exp(alpha N))`` training points, runs ``B``
backward SDE trajectories driven by the exact empirical score from ``N(0, I)`` at ``t_max``, and
measures:

1. ``condensation``: time at which half the trajectories have a max posterior weight > 1/2;
2. ``freezing``: mean over trajectories of the last time the nearest training point changes;
3. ``clones``: branch time at which half of the clone pairs end on the same training point (clones
   run to ``clone_t_end * t_C``, deep in the collapsed phase where the nearest point no longer changes);
4. ``entropy``: zero crossing of the Monte-Carlo excess entropy, read where the median of its
   per-sample values falls to ``log(2)/N`` (see :func:`diffsim.observe.excess_entropy_time`).

Each estimate carries a bootstrap standard error (resampling trajectories, clone pairs or
entropy samples), and every estimator is extrapolated linearly in ``1/N``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate, data
from diffsim.theory.collapse import collapse_time, collapse_time_isotropic, excess_entropy
from diffsim.theory.hmm import hmm_collapse_theory
from diffsim.theory.spectrum import Spectrum
from diffsim.observe import (
    bootstrap,
    branch_indices,
    clone_protocol,
    condensation_time,
    condensed_fraction,
    crossing_time,
    excess_entropy_mc,
    excess_entropy_time,
    extrapolate_inverse_n,
    freezing_times,
)
from diffsim.process import time_grid
from diffsim.sample import sample
from diffsim.score import EmpiricalScore, TrainingSet

__all__ = ["ESTIMATORS", "CollapseConfig", "CollapseResult", "run_collapse", "collapse_theory"]

ESTIMATORS = ("condensation", "freezing", "clones", "entropy")


@dataclass(frozen=True)
class CollapseConfig:
    """Parameters of the collapse study (all keyword, all validated by :meth:`validate`)."""

    data: str = "gaussian"
    alpha: float = 0.2
    dims: tuple[int, ...] = (16, 20, 24, 28)
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
    estimators: tuple[str, ...] = ESTIMATORS
    alpha_d: float = 0.5  # data="hmm": D = round(alpha_d N)
    nonlinearity: str = "linear"  # data="hmm": linear, tanh, sign or relu

    def validate(self) -> "CollapseConfig":
        _validate.choice("data", self.data, data.DATA_MODELS)
        _validate.positive("alpha_d", self.alpha_d, upper=1.0)
        _validate.choice("nonlinearity", self.nonlinearity, data.NONLINEARITIES)
        _validate.positive("alpha", self.alpha, upper=5.0)
        # besides the training set: the recorded trajectories and states
        _validate.dims_at_load(self.dims, self.alpha, bytes_besides=lambda n: 4.0 * self.n_trajectories * n * 1000)
        _validate.integer("n_trajectories", self.n_trajectories, minimum=2)
        _validate.integer("seed", self.seed, minimum=0)
        _validate.positive("sigma", self.sigma)
        _validate.positive("mtilde", self.mtilde)
        _validate.positive("t_max", self.t_max, upper=50.0)
        _validate.positive("t_min", self.t_min, upper=self.t_max)
        _validate.integer("n_steps", self.n_steps, minimum=2)
        _validate.integer("record_every", self.record_every, minimum=1, maximum=self.n_steps)
        if self.n_steps % self.record_every:
            raise _validate.ConfigError(
                f"record_every={self.record_every} is out of range: expected a divisor of n_steps={self.n_steps}"
            )
        _validate.integer("n_clone_pairs", self.n_clone_pairs, minimum=2)
        _validate.integer("n_branch", self.n_branch, minimum=2)
        _validate.integer("clone_steps", self.clone_steps, minimum=2)
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


def collapse_theory(config: CollapseConfig, n: int | None = None, model=None) -> dict:
    """Theory for this config: ``t_collapse`` (isotropic formula with the (cluster) variance
    sigma^2, the N -> infinity prediction), ``t_speciation`` for the mixture, and, for a given N,
    ``t_collapse_spectrum`` from the finite-N covariance spectrum at ``alpha = log(P)/N`` (of
    ``model`` when given, else of ``data.make``'s default instance).

    ``data="hmm"``: ``t_collapse`` is the Marchenko-Pastur value for linear phi ([derived]) and the
    Gaussian-equivalent value for nonlinear phi (an approximation), with ``t_collapse_linear_hmm``,
    ``t_collapse_gaussian_equivalent`` and ``t_collapse_isotropic`` (unstructured data at the same
    alpha) for comparison (:func:`diffsim.theory.hmm.hmm_collapse_theory`)."""
    if config.data == "hmm":
        out = hmm_collapse_theory(config.alpha, config.alpha_d, config.nonlinearity)
        out = {"t_collapse": out["t_collapse_gaussian_equivalent"], **out}
    else:
        out = {"t_collapse": float(collapse_time_isotropic(config.alpha, config.sigma))}
    if config.data == "mixture":
        lam = n * config.mtilde**2 + config.sigma**2 if n else None
        if lam is not None:
            out["t_speciation"] = 0.5 * math.log(lam)
    if n is not None:
        p = round(math.exp(config.alpha * n))
        if model is None:
            model = _make_model(config, n, None)
        spec = Spectrum.from_eigenvalues(model.covariance_spectrum())
        out["t_collapse_spectrum"] = float(collapse_time(math.log(p) / n, spec))
    return out


@dataclass(frozen=True)
class DimensionResult:
    """Measurements at one N: estimates (name -> (value, stderr)) and the curves behind them."""

    n: int
    p: int
    t_collapse_spectrum: float
    estimates: dict
    record_times: np.ndarray
    condensed: np.ndarray
    branch_times: np.ndarray
    clone_agreement: np.ndarray
    entropy_times: np.ndarray
    entropy_mean: np.ndarray
    entropy_stderr: np.ndarray
    entropy_theory: np.ndarray


@dataclass(frozen=True)
class CollapseResult:
    config: CollapseConfig
    theory: dict
    per_dim: tuple[DimensionResult, ...]
    extrapolated: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """One JSON object: ``theory``, ``rows`` (N, P, estimates) and ``extrapolated``."""
        return {
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()},
            "theory": self.theory,
            "rows": [
                {"N": d.n, "P": d.p, "t_collapse_spectrum": d.t_collapse_spectrum, "estimates": {k: {"value": v, "stderr": s} for k, (v, s) in d.estimates.items()}}
                for d in self.per_dim
            ],
            "extrapolated": {k: {"value": v, "stderr": s} for k, (v, s) in self.extrapolated.items()},
        }

    def rows(self) -> list[dict]:
        """Tidy table: one row per (N, quantity[, t])."""
        out = []
        for name, value in self.theory.items():
            if name.startswith("t_") and isinstance(value, float):
                out.append({"N": None, "P": None, "quantity": f"theory/{name}", "t": None, "value": value, "stderr": None})
        for d in self.per_dim:
            base = {"N": d.n, "P": d.p}
            out.append({**base, "quantity": "theory/t_collapse_spectrum", "t": None, "value": d.t_collapse_spectrum, "stderr": None})
            for name, (v, s) in d.estimates.items():
                out.append({**base, "quantity": f"t_collapse/{name}", "t": None, "value": v, "stderr": s})
            for t, f in zip(d.record_times, d.condensed):
                out.append({**base, "quantity": "condensed_fraction", "t": float(t), "value": float(f), "stderr": None})
            for t, f in zip(d.branch_times, d.clone_agreement):
                out.append({**base, "quantity": "clone_agreement", "t": float(t), "value": float(f), "stderr": None})
            for t, f, s, th in zip(d.entropy_times, d.entropy_mean, d.entropy_stderr, d.entropy_theory):
                out.append({**base, "quantity": "excess_entropy", "t": float(t), "value": float(f), "stderr": float(s)})
                out.append({**base, "quantity": "excess_entropy_theory", "t": float(t), "value": float(th), "stderr": None})
        for name, (v, s) in self.extrapolated.items():
            out.append({"N": None, "P": None, "quantity": f"t_collapse/{name}/extrapolated", "t": None, "value": v, "stderr": s})
        return out


def _make_model(config: CollapseConfig, n: int, data_key):
    """The data model at dimension N; for ``hmm`` the features come from ``fold_in(data_key, 1)``."""
    if config.data != "hmm":
        return data.make(config.data, n, sigma=config.sigma, mtilde=config.mtilde)
    key = None if data_key is None else jax.random.fold_in(data_key, 1)
    return data.make("hmm", n, alpha_d=config.alpha_d, nonlinearity=config.nonlinearity, key=key)


def _measure_dimension(config: CollapseConfig, n: int, key, progress=None) -> DimensionResult:
    data_key, init_key, sde_key, clone_key, entropy_key, boot_key = jax.random.split(key, 6)
    p = round(math.exp(config.alpha * n))
    model = _make_model(config, n, data_key)
    train = TrainingSet.from_points(model.sample(data_key, p))
    drift = EmpiricalScore(train)
    t_c = collapse_theory(config, n, model)["t_collapse_spectrum"]
    wanted = set(config.estimators)
    estimates = {}

    times = time_grid(config.t_max, config.t_min, config.n_steps, "log")
    x_init = jax.random.normal(init_key, (config.n_trajectories, n))
    traj = sample(sde_key, drift, x_init, times, record_every=config.record_every, keep_states="clones" in wanted)
    rec_t = np.asarray(traj.times)
    max_w = traj.records["max_weight"]
    boot_keys = jax.random.split(boot_key, 4)
    if "condensation" in wanted:
        estimates["condensation"] = bootstrap(
            boot_keys[0], lambda w: condensation_time(jnp.asarray(rec_t), w), max_w, axis=1, n_boot=config.n_bootstrap
        )
    if "freezing" in wanted:
        ft = np.asarray(freezing_times(jnp.asarray(rec_t), traj.records["argmax"]))
        estimates["freezing"] = (float(ft.mean()), float(ft.std(ddof=1) / math.sqrt(ft.size)))

    branch_t = np.array([])
    agree = np.array([])
    if "clones" in wanted:
        idx = branch_indices(rec_t, config.clone_window[0] * t_c, config.clone_window[1] * t_c, config.n_branch)
        t_end = max(config.t_min, config.clone_t_end * t_c)
        branch_t, same = clone_protocol(
            clone_key, drift, traj, idx, t_end, lambda x, rec: rec["argmax"],
            n_pairs=config.n_clone_pairs, n_steps=config.clone_steps,
        )
        agree = np.asarray(jnp.mean(same, axis=1))
        estimates["clones"] = bootstrap(
            boot_keys[1],
            lambda s: crossing_time(jnp.asarray(branch_t), jnp.mean(s, axis=1), 0.5),
            same,
            axis=1,
            n_boot=config.n_bootstrap,
        )

    ent_t = np.exp(np.linspace(np.log(4.0 * t_c), np.log(0.25 * t_c), config.entropy_times))
    fe = np.array([])
    fe_err = np.array([])
    if "entropy" in wanted:
        samples = excess_entropy_mc(entropy_key, train, ent_t, config.entropy_samples)
        fe = np.asarray(jnp.mean(samples, axis=1))
        fe_err = np.asarray(jnp.std(samples, axis=1, ddof=1)) / math.sqrt(config.entropy_samples)
        estimates["entropy"] = bootstrap(
            boot_keys[2],
            lambda s: excess_entropy_time(jnp.asarray(ent_t), s, n),
            samples,
            axis=1,
            n_boot=config.n_bootstrap,
        )
    spec = Spectrum.from_eigenvalues(model.covariance_spectrum())
    fe_theory = np.asarray(excess_entropy(ent_t, math.log(p) / n, spec))
    if progress is not None:
        progress(n)
    return DimensionResult(
        n=n,
        p=p,
        t_collapse_spectrum=t_c,
        estimates={k: estimates[k] for k in ESTIMATORS if k in estimates},
        record_times=rec_t,
        condensed=np.asarray(condensed_fraction(max_w)),
        branch_times=branch_t,
        clone_agreement=agree,
        entropy_times=ent_t,
        entropy_mean=fe,
        entropy_stderr=fe_err,
        entropy_theory=fe_theory,
    )


def run_collapse(config: CollapseConfig, key=None, *, progress=None) -> CollapseResult:
    """Run the collapse study; ``key`` defaults to ``PRNGKey(config.seed)``. Each N uses
    ``fold_in(key, N)``, so adding or removing a dimension leaves the others unchanged."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    per_dim = tuple(
        _measure_dimension(config, n, jax.random.fold_in(key, n), progress) for n in config.dims
    )
    extrapolated = {}
    if len(per_dim) >= 2:
        for name in per_dim[0].estimates:
            vals = [d.estimates[name][0] for d in per_dim]
            errs = [d.estimates[name][1] for d in per_dim]
            a, a_err, _ = extrapolate_inverse_n(config.dims, vals, errs)
            extrapolated[name] = (a, a_err)
    return CollapseResult(config, collapse_theory(config), per_dim, extrapolated)
