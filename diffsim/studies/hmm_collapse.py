"""Collapse time on the Hidden Manifold Model, linear and nonlinear (THEORY.md sections 2 and 4).

For each ``(alpha, alpha_D)`` pair, data model and dimension N the study draws ``n_datasets``
independent feature matrices ``F`` and training sets of ``P = round(exp(alpha N))`` points and
measures ``t_C`` from queries at fixed times drawn by forward noising (their law is exactly the
marginal ``p_t^e`` of the backward empirical-score SDE, so no trajectory is integrated):

* ``own``: time at which half of the queries noised from a training point have that point at
  posterior weight > 1/2 (the excess-entropy zero crossing of section 4, estimator 4, read at the
  median as in :func:`diffsim.observe.excess_entropy_time`);
* ``condensation``: time at which half of the ``p_t^e`` queries have some weight > 1/2 (estimator 1
  at a single time).

The trajectory estimators (freezing, clones) run through :mod:`diffsim.studies.collapse` with
``data="hmm"``. Theory reported with every row: the Marchenko-Pastur ``t_C`` of the linear HMM
([derived]), the Gaussian-equivalent ``t_C`` for nonlinear ``phi`` (an approximation), the
isotropic-Gaussian ``t_C`` at the same ``alpha`` (what unstructured data would give), and the
finite-N ``t_C`` of the exact covariance spectrum of each draw. The ``1/N`` extrapolation is given
plain and *spectrum-corrected*: each estimate minus the offset ``t_C(exact covariance of the draw) -
t_C(N -> inf spectrum)``, which removes the O(1/N) sample-to-sample scatter of the Wishart spectrum
of ``F`` (known exactly for every draw) and leaves the finite-size bias of the estimator itself. Models: ``linear``, ``tanh``,
``sign``, ``relu`` (HMM) and ``gaussian`` (isotropic ``N(0, I)``, the unstructured reference).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate, data
from diffsim.data.hmm import NONLINEARITIES
from diffsim.observe import crossing_time, extrapolate_inverse_n
from diffsim.score import TrainingSet
from diffsim.studies._queries import noised_training_queries, query_statistics
from diffsim.theory.collapse import collapse_time, collapse_time_hmm_linear, collapse_time_isotropic
from diffsim.theory.hmm import hmm_collapse_theory
from diffsim.theory.spectrum import Spectrum

__all__ = ["MODELS", "ESTIMATORS", "HmmCollapseConfig", "HmmCollapseResult", "run_hmm_collapse", "hmm_collapse_theory"]

MODELS = NONLINEARITIES + ("gaussian",)
ESTIMATORS = ("own", "condensation")


@dataclass(frozen=True)
class HmmCollapseConfig:
    """Parameters (validated by :meth:`validate`); ``pairs`` are ``(alpha, alpha_d)``."""

    pairs: tuple[tuple[float, float], ...] = ((0.1, 0.5),)
    models: tuple[str, ...] = ("linear",)
    dims: tuple[int, ...] = (40, 60, 80)
    n_datasets: int = 2
    n_samples: int = 256
    n_times: int = 40
    seed: int = 0
    n_bootstrap: int = 200

    def validate(self) -> "HmmCollapseConfig":
        if not self.pairs:
            raise _validate.ConfigError("pairs=() is out of range: expected at least one (alpha, alpha_d)")
        for pair in self.pairs:
            if len(pair) != 2:
                raise _validate.ConfigError(f"pairs entry {pair!r} is out of range: expected (alpha, alpha_d)")
            _validate.positive("alpha", pair[0], upper=5.0)
            _validate.positive("alpha_d", pair[1], upper=1.0)
        for name in self.models:
            _validate.choice("models", name, MODELS)
        for alpha, _ in self.pairs:
            _validate.dims_at_load(self.dims, alpha, bytes_besides=lambda n: 4.0 * self.n_samples * self.n_times * n)
        _validate.integer("n_datasets", self.n_datasets, minimum=1)
        _validate.integer("n_samples", self.n_samples, minimum=8)
        _validate.integer("n_times", self.n_times, minimum=4)
        _validate.integer("seed", self.seed, minimum=0)
        _validate.integer("n_bootstrap", self.n_bootstrap, minimum=10)
        return self


@dataclass(frozen=True)
class CellResult:
    """One (alpha, alpha_d, model, N): estimates ``{name: (value, stderr)}`` and the curves behind them."""

    alpha: float
    alpha_d: float
    model: str
    n: int
    p: int
    latent_dim: int
    estimates: dict
    t_collapse_spectrum: float
    times: np.ndarray
    own_fraction: np.ndarray
    condensed_fraction: np.ndarray


@dataclass(frozen=True)
class HmmCollapseResult:
    config: HmmCollapseConfig
    theory: dict  # "(alpha, alpha_d, model)" -> hmm_collapse_theory
    cells: tuple[CellResult, ...]
    extrapolated: dict  # (alpha, alpha_d, model, estimator) -> (value, stderr)

    def cell(self, alpha, alpha_d, model, n) -> CellResult:
        for c in self.cells:
            if (c.alpha, c.alpha_d, c.model, c.n) == (alpha, alpha_d, model, n):
                return c
        raise KeyError((alpha, alpha_d, model, n))

    def rows(self) -> list[dict]:
        """Tidy table: one row per (alpha, alpha_d, model, N, estimator), with the theory values,
        plus rows with ``N = None`` for the ``1/N -> 0`` extrapolations."""
        out = []
        for c in self.cells:
            th = self.theory[_theory_key(c.alpha, c.alpha_d, c.model)]
            for name, (v, s) in c.estimates.items():
                out.append({
                    "alpha": c.alpha, "alpha_d": c.alpha_d, "model": c.model, "N": c.n, "P": c.p, "D": c.latent_dim,
                    "estimator": name, "t_collapse": v, "stderr": s,
                    "t_collapse_spectrum": c.t_collapse_spectrum, **th,
                })
        for (alpha, alpha_d, model, name), (v, s) in self.extrapolated.items():  # noqa: B007
            out.append({
                "alpha": alpha, "alpha_d": alpha_d, "model": model, "N": None, "P": None, "D": None,
                "estimator": f"{name}/extrapolated", "t_collapse": v, "stderr": s, "t_collapse_spectrum": None,
                **self.theory[_theory_key(alpha, alpha_d, model)],
            })
        return out

    def to_json(self) -> dict:
        return {
            "config": _config_json(self.config),
            "definition": "t_C: half of the forward-noised queries have a posterior weight > 1/2 "
                          "(own: on the point they were noised from; condensation: on any point)",
            "rows": self.rows(),
            "curves": [
                {"alpha": c.alpha, "alpha_d": c.alpha_d, "model": c.model, "N": c.n, "t": c.times.tolist(),
                 "own_fraction": c.own_fraction.tolist(), "condensed_fraction": c.condensed_fraction.tolist()}
                for c in self.cells
            ],
        }


def _config_json(config) -> dict:
    return {k: [list(x) if isinstance(x, tuple) else x for x in v] if isinstance(v, tuple) else v
            for k, v in asdict(config).items()}


def _theory_key(alpha, alpha_d, model) -> str:
    return f"{alpha}/{alpha_d}/{model}"


def _make_model(model: str, n: int, alpha_d: float, key):
    if model == "gaussian":
        return data.make("gaussian", n)
    return data.make("hmm", n, alpha_d=alpha_d, nonlinearity=model, key=key)


def time_window(alpha: float, alpha_d: float, n_times: int) -> np.ndarray:
    """Decreasing times bracketing every model's ``t_C`` at finite N: ``[0.5 t_lin, 1.8 t_iso]``, log-spaced."""
    t_lin = float(collapse_time_hmm_linear(alpha, alpha_d))
    t_iso = float(collapse_time_isotropic(alpha))
    return np.exp(np.linspace(np.log(1.8 * max(t_lin, t_iso)), np.log(0.5 * min(t_lin, t_iso)), n_times))


@partial(jax.jit, static_argnames=("n_points",))
def training_set(model, key, *, n_points: int) -> TrainingSet:
    """``P = n_points`` samples of ``model`` laid out for the streamed kernel (one compile per model type/shape)."""
    return TrainingSet.from_points(model.sample(key, n_points))


@partial(jax.jit, static_argnames=("n_samples",))
def _collapse_indicators(train: TrainingSet, query_key, times, *, n_samples: int):
    """Forward-noised queries and their ``(own, condensed)`` ``[T, S]`` booleans: own weight > 1/2, max
    weight > 1/2. One compile per training-set shape (P, N), shared by every data model of that shape."""
    stats = query_statistics(noised_training_queries(query_key, train, times, n_samples), train)
    shape = (times.shape[0], n_samples)
    return stats["own_log_weight"].reshape(shape) > -math.log(2.0), stats["max_weight"].reshape(shape) > 0.5


@partial(jax.jit, static_argnames=("n_boot",))
def crossing_with_error(key, times, indicators, *, n_boot: int = 200):
    """Time at which the mean of ``indicators`` ``[T, S]`` (times decreasing) first reaches 1/2, and its
    bootstrap standard error over the S samples: ``(value, stderr)`` scalars."""
    value = crossing_time(times, jnp.mean(indicators, 1), 0.5)
    idx = jax.random.randint(key, (n_boot, indicators.shape[1]), 0, indicators.shape[1])
    reps = jax.vmap(lambda i: crossing_time(times, jnp.mean(indicators[:, i], 1), 0.5))(idx)
    finite = jnp.isfinite(reps)
    mean = jnp.sum(jnp.where(finite, reps, 0.0)) / jnp.sum(finite)
    var = jnp.sum(jnp.where(finite, (reps - mean) ** 2, 0.0)) / jnp.maximum(jnp.sum(finite) - 1, 1)
    return value, jnp.sqrt(var)


def _measure_cell(config: HmmCollapseConfig, alpha, alpha_d, model, n, key) -> CellResult:
    p = round(math.exp(alpha * n))
    times = time_window(alpha, alpha_d, config.n_times)
    own, cond, t_spec = [], [], []
    for k in jax.random.split(key, config.n_datasets):  # a handful of independent datasets
        feature_key, data_key, query_key = jax.random.split(k, 3)
        model_obj = _make_model(model, n, alpha_d, feature_key)
        train = training_set(model_obj, data_key, n_points=p)
        o, c = _collapse_indicators(train, query_key, jnp.asarray(times, jnp.float32), n_samples=config.n_samples)
        own.append(o)
        cond.append(c)
        spec = Spectrum.from_eigenvalues(model_obj.covariance_spectrum())
        t_spec.append(float(collapse_time(math.log(p) / n, spec)))
    own = jnp.concatenate(own, axis=1).astype(jnp.float32)
    cond = jnp.concatenate(cond, axis=1).astype(jnp.float32)
    t = jnp.asarray(times, jnp.float32)
    boot_own, boot_cond = jax.random.split(jax.random.fold_in(key, 1))
    estimates = {
        name: tuple(float(v) for v in crossing_with_error(k, t, ind, n_boot=config.n_bootstrap))
        for name, k, ind in (("own", boot_own, own), ("condensation", boot_cond, cond))
    }
    d = n if model == "gaussian" else max(1, round(alpha_d * n))
    return CellResult(alpha, alpha_d, model, n, p, d, estimates, float(np.mean(t_spec)), times,
                      np.asarray(jnp.mean(own, 1)), np.asarray(jnp.mean(cond, 1)))


def _spectral_reference(theory: dict, model: str) -> float:
    """``N -> inf`` ``t_C`` of the Gaussian with this model's covariance: isotropic, Marchenko-Pastur,
    or (nonlinear phi) the Gaussian-equivalent spectrum."""
    if model == "gaussian":
        return theory["t_collapse_isotropic"]
    return theory["t_collapse_gaussian_equivalent"]


def run_hmm_collapse(config: HmmCollapseConfig, key=None, *, progress=None) -> HmmCollapseResult:
    """Run the study; ``key`` defaults to ``PRNGKey(seed)``; each cell uses a key folded from
    (pair index, model, N), so cells are independent of which others are run."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    cells, theory, extrapolated = [], {}, {}
    for i, (alpha, alpha_d) in enumerate(config.pairs):
        pair_key = jax.random.fold_in(key, i)
        for model in config.models:
            nl = "linear" if model == "gaussian" else model
            theory[_theory_key(alpha, alpha_d, model)] = hmm_collapse_theory(alpha, alpha_d, nl)
            model_key = jax.random.fold_in(pair_key, MODELS.index(model))
            row = [_measure_cell(config, alpha, alpha_d, model, n, jax.random.fold_in(model_key, n)) for n in config.dims]
            cells.extend(row)
            if progress is not None:
                progress(f"alpha={alpha} alpha_d={alpha_d} {model}")
            if len(row) >= 2:
                reference = _spectral_reference(theory[_theory_key(alpha, alpha_d, model)], model)
                dims, corrections = [c.n for c in row], [c.t_collapse_spectrum - reference for c in row]
                for name in ESTIMATORS:
                    vals, errs = [c.estimates[name][0] for c in row], [c.estimates[name][1] for c in row]
                    extrapolated[(alpha, alpha_d, model, name)] = extrapolate_inverse_n(dims, vals, errs)[:2]
                    corrected = [v - dc for v, dc in zip(vals, corrections)]
                    extrapolated[(alpha, alpha_d, model, f"{name}/spectrum_corrected")] = extrapolate_inverse_n(
                        dims, corrected, errs)[:2]
    return HmmCollapseResult(config, theory, tuple(cells), extrapolated)
