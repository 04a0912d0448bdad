"""Collapse (memorization) time of any training set, by four estimators (THEORY.md section 4).

:func:`measure_collapse` runs ``B`` backward SDE trajectories driven by the exact empirical score of
``train`` from ``N(0, I)`` at ``t_max`` and measures:

1. ``condensation``: time at which half the trajectories have a max posterior weight > 1/2;
2. ``freezing``: mean over trajectories of the last time the nearest training point changes;
3. ``clones``: branch time at which half of the clone pairs end on the same training point (clones
   run to ``clone_t_end * t_ref``, deep in the collapsed phase where the nearest point no longer changes);
4. ``entropy``: zero crossing of the Monte-Carlo excess entropy, read where the median of its
   per-sample values falls to ``log(2)/N`` (:func:`diffsim.observe.excess_entropy_time`).

Each estimate is an :class:`~diffsim.measure.Estimate` with a bootstrap standard error (resampling
trajectories, clone pairs or entropy samples). No theory enters the estimates; ``t_ref`` only places
the clone branch window and the entropy time grid (default: the collapse time of the Gaussian with
the training set's own sample covariance at its load, :func:`diffsim.theory.collapse_time`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim._protocols import Drift
from diffsim.specs import Options, options_of
from diffsim.observe import Estimate, bootstrap
from diffsim.measure._queries import noised_training_queries, query_statistics
from diffsim.observe import (
    branch_indices,
    clone_agreement,
    condensation_time,
    condensed_fraction,
    crossing_time,
    excess_entropy_time,
    freezing_times,
)
from diffsim.process import time_grid
from diffsim.sample import branch_and_continue, sample
from diffsim.score import EmpiricalScore, TrainingSet
from diffsim.theory.collapse import collapse_time
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "ESTIMATORS",
    "Estimator",
    "CollapseMeasurement",
    "CollapseOptions",
    "check_collapse_options",
    "measure_collapse",
    "clone_protocol",
    "excess_entropy_samples",
    "reference_collapse_time",
]

Estimator = Literal["condensation", "freezing", "clones", "entropy"]
ESTIMATORS: tuple[Estimator, ...] = ("condensation", "freezing", "clones", "entropy")


@dataclass(frozen=True)
class CollapseMeasurement:
    """What :func:`measure_collapse` measured on one training set.

    Attributes:
      n_points, dim, load: P, N and the load ``log(P) / N``.
      t_ref: the time scale that placed the clone window and the entropy grid.
      estimates: estimator name -> :class:`Estimate` of the collapse time.
      record_times ``[R]``, condensed_fraction ``[R]``: fraction of trajectories with max weight > 1/2.
      branch_times ``[K]``, clone_agreement ``[K]``: fraction of clone pairs ending on the same point.
      entropy_times ``[T]``, entropy_mean ``[T]``, entropy_stderr ``[T]``: Monte-Carlo excess entropy.
    """

    n_points: int
    dim: int
    load: float
    t_ref: float
    estimates: dict
    record_times: np.ndarray
    condensed_fraction: np.ndarray
    branch_times: np.ndarray
    clone_agreement: np.ndarray
    entropy_times: np.ndarray
    entropy_mean: np.ndarray
    entropy_stderr: np.ndarray


def reference_collapse_time(train: TrainingSet) -> float:
    """Collapse time of the Gaussian with the sample covariance of ``train`` at its load
    ``log(P) / N``: the default time scale of :func:`measure_collapse`'s windows."""
    points = np.asarray(train.points, dtype=np.float64)
    return float(collapse_time(math.log(train.n_points) / train.dim, Spectrum.from_points(points)))


def clone_protocol(key: jax.Array, drift: Drift, traj: Any, indices: np.ndarray, t_min: float,
                   endpoint: Callable[[jax.Array, Any], jax.Array], *, n_pairs: int,
                   n_steps: int) -> tuple[np.ndarray, jax.Array]:
    """Clone protocol (sections 3-4) on trajectories recorded with ``keep_states=True``.

    At each record index in ``indices`` the first ``n_pairs`` states are cloned into two copies
    that continue to ``t_min`` with independent noise (:func:`diffsim.sample.branch_and_continue`);
    ``endpoint(final_states, final_records) -> [M]`` labels where each clone ends (a class, or a
    training index). Returns ``(branch_times [K], same [K, n_pairs] as float)``.
    """
    branch_t = np.asarray(traj.times)[indices]
    states = traj.states[indices][:, :n_pairs]
    clones = branch_and_continue(key, drift, states, branch_t, t_min, n_steps=n_steps)
    final_records = jax.tree_util.tree_map(lambda r: r[-1], clones.records)
    labels = endpoint(clones.final, final_records).reshape(len(indices), 2, -1)
    return branch_t, clone_agreement(labels).astype(jnp.float32)


def excess_entropy_samples(key: jax.Array, train: TrainingSet, times: ArrayLike, n_samples: int) -> jax.Array:
    """Monte-Carlo excess entropy (section 4), per sample: ``[T, n_samples]``.

    ``f_e(t) = alpha + 0.5 log(2 pi e Delta_t) + (1/N) E log p_t^e(x)`` with
    ``x = m_t a_mu + sqrt(Delta_t) xi``, mu uniform. Writing ``log p_t^e(x)`` through the posterior
    weight of the point x was noised from gives the exact identity
    ``f_e(t) = (1/N) E[-log w_mu(x, t)] + (1/N) E[(|xi|^2 - N) / 2]``, and the second term has
    mean zero; it is dropped as a control variate. Each returned sample ``-log w_mu / N`` is >= 0,
    its mean is the estimate of f_e(t), and its variance is far below that of the plain estimator.
    """
    times = np.asarray(times)
    queries = noised_training_queries(key, train, times, n_samples)
    stats = query_statistics(queries, train, block=queries.x.shape[0])
    return -stats["own_log_weight"].reshape(times.shape[0], n_samples) / train.dim


def check_collapse_options(*, n_trajectories, t_max, t_min, n_steps, record_every, n_clone_pairs, n_branch,
                           clone_window, clone_steps, clone_t_end, entropy_samples, entropy_times, n_bootstrap,
                           estimators) -> None:
    """Range checks of :func:`measure_collapse`'s options (one :class:`~diffsim.ConfigError` naming
    the first bad option and its range), for the API and for configs before any work."""
    _validate.integer("n_trajectories", n_trajectories, minimum=2)
    _validate.positive("t_max", t_max, upper=50.0)
    _validate.positive("t_min", t_min, upper=t_max)
    _validate.integer("n_steps", n_steps, minimum=2, maximum=_validate.MAX_STEPS)
    _validate.integer("record_every", record_every, minimum=1, maximum=n_steps)
    if n_steps % record_every:
        raise _validate.ConfigError(f"record_every={record_every} is out of range: expected a divisor of n_steps={n_steps}")
    _validate.integer("n_clone_pairs", n_clone_pairs, minimum=2)
    _validate.integer("n_branch", n_branch, minimum=2)
    _validate.integer("clone_steps", clone_steps, minimum=2, maximum=_validate.MAX_STEPS)
    if len(clone_window) != 2:
        raise _validate.ConfigError(f"clone_window={clone_window!r} is out of range: expected (low, high) in units of t_ref")
    _validate.increasing("clone_window", clone_window)
    _validate.positive("clone_window[0]", clone_window[0])
    _validate.positive("clone_t_end", clone_t_end, upper=0.4)
    _validate.integer("entropy_samples", entropy_samples, minimum=2)
    _validate.integer("entropy_times", entropy_times, minimum=4)
    _validate.integer("n_bootstrap", n_bootstrap, minimum=10)
    if not estimators:
        raise _validate.ConfigError("estimators=() is out of range: expected some of " + ", ".join(ESTIMATORS))
    for name in estimators:
        _validate.choice("estimators", name, ESTIMATORS)


def measure_collapse(
    key: jax.Array,
    train: TrainingSet,
    *,
    n_trajectories: int = 256,
    t_max: float = 5.0,
    t_min: float = 1e-3,
    n_steps: int = 600,
    record_every: int = 5,
    n_clone_pairs: int = 256,
    n_branch: int = 12,
    clone_window: tuple[float, float] = (0.6, 2.0),
    clone_steps: int = 40,
    clone_t_end: float = 0.2,
    entropy_samples: int = 512,
    entropy_times: int = 48,
    n_bootstrap: int = 200,
    estimators: Sequence[Estimator] = ESTIMATORS,
    t_ref: float | None = None,
) -> CollapseMeasurement:
    """Collapse time of the exact empirical-score dynamics of ``train`` by four estimators.

    Args:
      key: PRNG key. It is split in six; the first subkey is left unused, so that a study may draw
        its data from it and give the same numbers as a study that measured inline.
      train: the training set (any ``[P, N]`` array, ``TrainingSet.from_points(points)``).
      n_trajectories: backward SDE trajectories ``B`` from ``N(0, I)`` at ``t_max``.
      t_max: first time of the backward SDE (OU time t).
      t_min: last time of the backward SDE (OU time t).
      n_steps: backward SDE steps on a log grid from t_max to t_min.
      record_every: record the observables every this many steps (a divisor of n_steps).
      n_clone_pairs: clones estimator: clone pairs per branch time.
      n_branch: clones estimator: branch times in clone_window.
      clone_window: clones estimator: (low, high) branch window in units of t_ref (unless given, the
        collapse time of the Gaussian with the training set's sample covariance).
      clone_steps: clones estimator: SDE steps of each clone continuation.
      clone_t_end: clones estimator: the clones run to clone_t_end * t_ref.
      entropy_samples: entropy estimator: Monte-Carlo samples per time.
      entropy_times: entropy estimator: log-spaced times over [t_ref/4, 4 t_ref].
      n_bootstrap: bootstrap resamples of each standard error.
      estimators: which estimators to run (condensation, freezing, clones, entropy).
      t_ref: time scale of the windows (default :func:`reference_collapse_time`).

    Returns:
      :class:`CollapseMeasurement` (``.estimates[name]`` is an :class:`Estimate`).
    """
    if not isinstance(train, TrainingSet):
        raise _validate.ConfigError(
            f"train={type(train).__name__} is not a TrainingSet: build one with TrainingSet.from_points(points)"
        )
    check_collapse_options(
        n_trajectories=n_trajectories, t_max=t_max, t_min=t_min, n_steps=n_steps, record_every=record_every,
        n_clone_pairs=n_clone_pairs, n_branch=n_branch, clone_window=clone_window, clone_steps=clone_steps,
        clone_t_end=clone_t_end, entropy_samples=entropy_samples, entropy_times=entropy_times,
        n_bootstrap=n_bootstrap, estimators=estimators)
    t_ref = reference_collapse_time(train) if t_ref is None else _validate.positive("t_ref", t_ref)
    _, init_key, sde_key, clone_key, entropy_key, boot_key = jax.random.split(key, 6)
    n = train.dim
    drift = EmpiricalScore(train)
    wanted = set(estimators)
    estimates = {}

    times = time_grid(t_max, t_min, n_steps, "log")
    x_init = jax.random.normal(init_key, (n_trajectories, n), train.chunks.dtype)
    traj = sample(sde_key, drift, x_init, times, record_every=record_every, keep_states="clones" in wanted)
    rec_t = np.asarray(traj.times)
    max_w = traj.records["max_weight"]
    boot_keys = jax.random.split(boot_key, 4)
    if "condensation" in wanted:
        estimates["condensation"] = bootstrap(
            boot_keys[0], lambda w: condensation_time(jnp.asarray(rec_t), w), max_w, axis=1, n_boot=n_bootstrap
        )
    if "freezing" in wanted:
        estimates["freezing"] = Estimate.of_mean(freezing_times(jnp.asarray(rec_t), traj.records["argmax"]))

    branch_t, agree = np.array([]), np.array([])
    if "clones" in wanted:
        idx = branch_indices(rec_t, clone_window[0] * t_ref, clone_window[1] * t_ref, n_branch)
        t_end = max(t_min, clone_t_end * t_ref)
        branch_t, same = clone_protocol(
            clone_key, drift, traj, idx, t_end, lambda x, rec: rec["argmax"], n_pairs=n_clone_pairs, n_steps=clone_steps,
        )
        agree = np.asarray(jnp.mean(same, axis=1))
        estimates["clones"] = bootstrap(
            boot_keys[1], lambda s: crossing_time(jnp.asarray(branch_t), jnp.mean(s, axis=1), 0.5), same,
            axis=1, n_boot=n_bootstrap,
        )

    ent_t = np.exp(np.linspace(np.log(4.0 * t_ref), np.log(0.25 * t_ref), entropy_times))
    fe, fe_err = np.array([]), np.array([])
    if "entropy" in wanted:
        samples = excess_entropy_samples(entropy_key, train, ent_t, entropy_samples)
        fe = np.asarray(jnp.mean(samples, axis=1))
        fe_err = np.asarray(jnp.std(samples, axis=1, ddof=1)) / math.sqrt(entropy_samples)
        estimates["entropy"] = bootstrap(
            boot_keys[2], lambda s: excess_entropy_time(jnp.asarray(ent_t), s, n), samples, axis=1, n_boot=n_bootstrap
        )
    return CollapseMeasurement(
        n_points=train.n_points,
        dim=n,
        load=math.log(train.n_points) / n,
        t_ref=float(t_ref),
        estimates={k: estimates[k] for k in ESTIMATORS if k in estimates},
        record_times=rec_t,
        condensed_fraction=np.asarray(condensed_fraction(max_w)),
        branch_times=np.asarray(branch_t),
        clone_agreement=agree,
        entropy_times=ent_t if "entropy" in wanted else np.array([]),
        entropy_mean=fe,
        entropy_stderr=fe_err,
    )


@options_of(measure_collapse, exclude=("t_ref",), check=check_collapse_options)
class CollapseOptions(Options):
    """The options of :func:`measure_collapse` as a config part (its keyword arguments but ``t_ref``)."""
