"""Speciation time by the clone protocol (THEORY.md section 3), for any drift and class labelling.

:func:`measure_speciation` runs trajectories of ``drift`` (default: the exact empirical score of
``train``) from ``N(0, I)``; at branch times around ``t_ref`` each state is cloned into two copies that
continue independently to ``t_min``, and ``phi(t)`` is the fraction of clone pairs that end in the
same class (``label_of``; default: the side of the training set's top principal axis). The
speciation time is read where ``phi`` crosses ``level`` (default: the two-cluster value at ``t_S``
for unit variance, :func:`diffsim.theory.clone_agreement_at_speciation`, the convention of
THEORY.md section 3 for data of unknown structure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim._protocols import Drift
from diffsim.observe import Estimate, bootstrap
from diffsim.measure.collapse import clone_protocol
from diffsim.observe import branch_indices, crossing_time
from diffsim.process import time_grid
from diffsim.sample import sample
from diffsim.score import EmpiricalScore, TrainingSet
from diffsim.specs import Options, options_of
from diffsim.theory.speciation import clone_agreement_at_speciation, speciation_time

__all__ = ["SpeciationMeasurement", "SpeciationOptions", "check_speciation_options", "measure_speciation",
           "principal_axis_labels"]


@dataclass(frozen=True)
class SpeciationMeasurement:
    """What :func:`measure_speciation` measured: the speciation time ``t_speciation``
    (:class:`Estimate`), the crossing ``level``, the reference time ``t_ref`` that placed the branch
    window, and the curve ``phi [K]`` (with ``phi_stderr``) at ``branch_times [K]``."""

    dim: int
    t_speciation: Estimate
    level: float
    t_ref: float
    branch_times: np.ndarray
    phi: np.ndarray
    phi_stderr: np.ndarray


def principal_axis_labels(train: TrainingSet) -> Callable[[jax.Array], jax.Array]:
    """Labeller ``x [B, N] -> [B]``: the side (0/1) of the training set's top principal axis
    through its mean (the two classes of a two-cluster mixture)."""
    points = np.asarray(train.points, dtype=np.float64)
    mean = points.mean(axis=0)
    _, vecs = np.linalg.eigh(np.atleast_2d(np.cov(points, rowvar=False)))
    axis, center = jnp.asarray(vecs[:, -1], train.chunks.dtype), jnp.asarray(mean, train.chunks.dtype)
    return lambda x: ((x - center) @ axis > 0).astype(jnp.int32)


def check_speciation_options(*, n_pairs, n_branch, t_min, n_steps, record_every, clone_steps, n_bootstrap) -> None:
    """Range checks of :func:`measure_speciation`'s size options (one :class:`~diffsim.ConfigError`
    naming the first bad option and its range), for the API and for configs before any work."""
    _validate.integer("n_pairs", n_pairs, minimum=2)
    _validate.integer("n_branch", n_branch, minimum=2)
    _validate.positive("t_min", t_min, upper=1.0)
    _validate.integer("n_steps", n_steps, minimum=2, maximum=_validate.MAX_STEPS)
    _validate.integer("record_every", record_every, minimum=1, maximum=n_steps)
    if n_steps % record_every:
        raise _validate.ConfigError(f"record_every={record_every} is out of range: expected a divisor of n_steps={n_steps}")
    _validate.integer("clone_steps", clone_steps, minimum=2, maximum=_validate.MAX_STEPS)
    _validate.integer("n_bootstrap", n_bootstrap, minimum=10)


def measure_speciation(
    key: jax.Array,
    train: TrainingSet | None,
    *,
    dim: int | None = None,
    drift: Drift | None = None,
    label_of: Callable[[jax.Array], jax.Array] | None = None,
    level: float | None = None,
    t_ref: float | None = None,
    n_pairs: int = 512,
    n_branch: int = 16,
    t_min: float = 1e-2,
    n_steps: int = 400,
    record_every: int = 2,
    clone_steps: int = 100,
    n_bootstrap: int = 200,
) -> SpeciationMeasurement:
    """Clone agreement ``phi(t)`` and the speciation time.

    Args:
      key: PRNG key (split into the initial noise, the SDE noise, the clones' noise, the bootstrap).
      train: the training set; it sets the default drift (its exact empirical score), labeller and
        ``t_ref = 0.5 log Lambda`` (``Lambda`` the top eigenvalue of its sample covariance). ``None``
        for a drift that needs no training set (a data model's exact score): then ``dim``, ``drift``,
        ``label_of`` and ``t_ref`` are required.
      dim: N, when ``train`` is None.
      drift: any drift ``(x, t) -> score`` (e.g. a data model's exact ``score``).
      label_of: ``x [B, N] -> [B]`` class of an end point.
      level: ``phi`` level that defines the speciation time.
      t_ref: time scale of the window: trajectories start at ``t_ref + 4`` and branch in
        ``[0.4 t_ref, min(2 t_ref, t_ref + 2.5)]``.
      n_pairs: trajectories, and clone pairs per branch time.
      n_branch: branch times in [0.4 t_ref, min(2 t_ref, t_ref + 2.5)].
      t_min: last time of the trajectories and clones (OU time t; they start at t_ref + 4).
      n_steps: backward SDE steps on a log grid from t_ref + 4 to t_min.
      record_every: record the states every this many steps, the candidate branch times (a divisor
        of n_steps).
      clone_steps: SDE steps of each clone continuation to t_min.
      n_bootstrap: bootstrap resamples of the standard error of t_S.
    """
    if train is None:
        missing = [k for k, v in (("dim", dim), ("drift", drift), ("label_of", label_of), ("t_ref", t_ref)) if v is None]
        if missing:
            raise _validate.ConfigError(f"train=None needs {', '.join(missing)}: give a TrainingSet, or all of dim, drift, label_of, t_ref")
        n = _validate.integer("dim", dim, minimum=1)
    elif not isinstance(train, TrainingSet):
        raise _validate.ConfigError(f"train={type(train).__name__} is not a TrainingSet: build one with TrainingSet.from_points(points)")
    else:
        n = train.dim
    check_speciation_options(n_pairs=n_pairs, n_branch=n_branch, t_min=t_min, n_steps=n_steps,
                             record_every=record_every, clone_steps=clone_steps, n_bootstrap=n_bootstrap)
    if t_ref is None:
        assert train is not None  # train=None needs t_ref, drift and label_of (checked above)
        lam = float(np.linalg.eigvalsh(np.atleast_2d(np.cov(np.asarray(train.points, np.float64), rowvar=False)))[-1])
        t_ref = float(speciation_time(lam))
    t_ref = _validate.positive("t_ref", t_ref)
    if level is None:
        level = float(clone_agreement_at_speciation(math.sqrt(math.expm1(2.0 * t_ref))))
    level = _validate.in_range("level", level, 0.0, 1.0)
    if drift is None or label_of is None:
        assert train is not None  # as above
        drift = EmpiricalScore(train) if drift is None else drift
        label_of = principal_axis_labels(train) if label_of is None else label_of

    init_key, sde_key, clone_key, boot_key = jax.random.split(key, 4)
    times = time_grid(t_ref + 4.0, t_min, n_steps, "log")
    x_init = jax.random.normal(init_key, (n_pairs, n))
    traj = sample(sde_key, drift, x_init, times, record_every=record_every, keep_states=True)
    idx = branch_indices(np.asarray(traj.times), 0.4 * t_ref, min(2.0 * t_ref, t_ref + 2.5), n_branch)
    branch_t, same = clone_protocol(
        clone_key, drift, traj, idx, t_min, lambda x, rec: label_of(x), n_pairs=n_pairs, n_steps=clone_steps,
    )
    phi = np.asarray(jnp.mean(same, axis=1))
    phi_err = np.asarray(jnp.std(same, axis=1, ddof=1)) / math.sqrt(same.shape[1])
    t_meas = bootstrap(
        boot_key, lambda s: crossing_time(jnp.asarray(branch_t), jnp.mean(s, axis=1), level), same,
        axis=1, n_boot=n_bootstrap,
    )
    return SpeciationMeasurement(n, t_meas, level, t_ref, np.asarray(branch_t), phi, phi_err)


@options_of(measure_speciation, exclude=("dim", "drift", "label_of", "level", "t_ref"), check=check_speciation_options)
class SpeciationOptions(Options):
    """The size options of :func:`measure_speciation` as a config part (its keyword arguments less
    the drift, labeller, level and time scale, which a study derives from its data)."""
