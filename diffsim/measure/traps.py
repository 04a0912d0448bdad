"""Traps and basins of ``U_t = -log p_t^e`` on any training set (THEORY.md section 6).

At each time ``t``, on ``K`` probed training points (the first ``K``: pass a shuffled set if its order
is not random):

* ``trap_fraction``: the fraction whose mean-shift iteration started at ``m_t a_mu`` ends at a fixed
  point with weight > 1/2 on mu (mu owns a trap); also the fractions ending on another training point
  or on a spurious mixture state, and ``start_dominated``, the fraction with ``w_mu(m_t a_mu) > 1/2``;
* ``basin_radius``: median over probed points of the dominance radius (bisection on ``r`` in
  ``[0, r_max]`` of ``w_mu(m_t a_mu + sqrt(N Delta_t) r u) = 1/2``). Where at least half of the points
  are still dominated at ``r_max`` the median is only known to exceed ``r_max``: ``basin_radius`` is
  then NaN and ``basin_radius_is_bound`` is set (``r_max`` is a lower bound);
* with held-out points (``fresh``): random starts ``m_t a_0 + sqrt(Delta_t) xi``, the fraction
  converging to a training point, to a spurious state, and the number of distinct spurious fixed
  points (points closer than ``0.01 sqrt(N)`` are one).

Times below :func:`diffsim.landscape.smallest_time` (the logits overflow the dtype) are refused with a
:class:`~diffsim.ConfigError` before any work. The predictions are :func:`diffsim.theory.traps.traps_theory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim.landscape import (
    OTHER,
    OWN,
    SPURIOUS,
    attraction_radius,
    check_times,
    classify,
    distinct_count,
    dominance_radius,
    mean_shift,
    own_trap_classes,
    own_weight,
    random_directions,
    trap_starts,
)
from diffsim.observe import Estimate
from diffsim.measure._queries import Fresh, fresh_queries
from diffsim.score import TrainingSet
from diffsim.specs import Options, options_of

__all__ = ["TrapsMeasurement", "TrapsOptions", "check_traps_options", "measure_traps"]


@dataclass(frozen=True)
class TrapsMeasurement:
    """Curves at ``times`` ``[T]``, each ``[T]`` (NaN where not measured); ``r_max`` the bisection limit."""

    n_points: int
    dim: int
    n_probed: int
    times: np.ndarray
    trap_fraction: np.ndarray
    other_fraction: np.ndarray
    spurious_fraction: np.ndarray
    start_dominated: np.ndarray
    basin_radius: np.ndarray  # median dominance radius; NaN where it is a bound
    basin_radius_stderr: np.ndarray
    basin_radius_is_bound: np.ndarray  # bool: the median is >= r_max (a lower bound, not a value)
    attraction_radius: np.ndarray
    random_to_training: np.ndarray
    random_spurious: np.ndarray
    spurious_count: np.ndarray
    max_residual: float
    r_max: float

    def basin_radius_estimate(self, j: int) -> Estimate:
        """:class:`Estimate` of the median dominance radius at time index ``j`` (NaN where a bound)."""
        return Estimate(float(self.basin_radius[j]), float(self.basin_radius_stderr[j]))


def _fraction(classes: np.ndarray, code: int) -> np.ndarray:
    """Per-time fraction of ``classes == code`` (NaN where the classes were not measured, -1)."""
    measured = classes >= 0
    return np.where(measured.all(1), (classes == code).mean(1), np.nan)


def _median_with_error(values: np.ndarray) -> tuple[float, float]:
    """Median and its large-sample standard error ``1.2533 * 1.4826 MAD / sqrt(K)``."""
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return med, 1.2533 * 1.4826 * mad / math.sqrt(values.size)


def check_traps_options(*, times, n_starts, n_random, n_bisect, r_max, step_size, tol, max_iter, **flags) -> None:
    """Range checks of :func:`measure_traps`'s options that need no training set (a
    :class:`~diffsim.ConfigError` naming the first bad one; the flags need none)."""
    if len(times) == 0:
        raise _validate.ConfigError("times=() is out of range: expected a non-empty list")
    for t in times:
        _validate.positive("times", t, upper=20.0)
    _validate.integer("n_starts", n_starts, minimum=1)
    _validate.integer("n_random", n_random, minimum=0)
    _validate.integer("n_bisect", n_bisect, minimum=1, maximum=60)
    _validate.positive("r_max", r_max, upper=100.0)
    _validate.positive("step_size", step_size, upper=1.0)
    _validate.positive("tol", tol, upper=1.0)
    _validate.integer("max_iter", max_iter, minimum=1)


def measure_traps(key: jax.Array, train: TrainingSet, *, times: ArrayLike, n_starts: int = 256, fresh: Fresh | None = None, n_random: int = 128,
                  n_bisect: int = 20, r_max: float = 3.0, step_size: float = 1.0, tol: float = 1e-5,
                  max_iter: int = 2000, traps: bool = True, basin: bool = True,
                  attraction: bool = False) -> TrapsMeasurement:
    """Trap fractions, basin radii and (with ``fresh``) random-start statistics at ``times``.

    Args:
        key: PRNG key; directions use ``fold_in(key, 2)``, random starts ``fold_in(key, 3)``.
        train: the training set (``TrainingSet.from_points`` of any ``[P, N]`` array).
        times: times of the measurement (OU time t, in (0, 20]), each at least
            :func:`diffsim.landscape.smallest_time` for this set.
        n_starts: training points probed (the first min(n_starts, P)).
        fresh: held-out points ``[M, N]`` (``M >= T * n_random``) or a sampler ``(key, n) -> [n, N]``
            for the random starts; ``None`` (or ``n_random = 0``) skips them.
        n_random: random starts per time, from held-out points, for the spurious states (0: none).
        n_bisect: bisection steps of the basin (and attraction) radius.
        r_max: largest basin radius searched, in units of sqrt(N Delta_t); a median at r_max is
            reported as a lower bound.
        step_size: step eta of the fixed-point iteration: 1 is mean-shift, < 1 a damped ascent
            of log p_t^e (:func:`diffsim.landscape.mean_shift`).
        tol: convergence threshold of the residual |m_t x0_hat(x) - x| / sqrt(N).
        max_iter: largest number of fixed-point iterations.
        traps: run the fixed-point iteration from every probed training point (the trap fractions).
        basin: measure the basin (dominance) radius of the probed points.
        attraction: also measure the mean-shift attraction radius (with basin only).
    """
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size == 0:
        raise _validate.ConfigError(f"times of shape {times.shape} is out of range: expected a non-empty list")
    check_traps_options(times=times, n_starts=n_starts, n_random=n_random, n_bisect=n_bisect, r_max=r_max,
                        step_size=step_size, tol=tol, max_iter=max_iter)
    max_sq_norm = 2.0 * float(jnp.max(jnp.where(train.mask, train.half_sq_norms, 0.0)))
    check_times(times, train.chunks.dtype, max_sq_norm)
    n, n_t = train.dim, times.size
    k = min(n_starts, train.n_points)
    indices = jnp.arange(k, dtype=jnp.int32)

    classes = np.full((n_t, k), -1)
    max_res = 0.0
    if traps:
        trap_classes, fixed = own_trap_classes(train, times, indices, tol=tol, max_iter=max_iter, step_size=step_size)
        classes = np.asarray(trap_classes)
        max_res = float(jnp.max(fixed.residual))
    x0, t0, i0 = trap_starts(train, times, indices)
    start_dom = np.asarray(own_weight(x0, t0, train, i0) > 0.5).reshape(n_t, k).mean(1)

    radius = np.full(n_t, np.nan)
    radius_err = np.full(n_t, np.nan)
    is_bound = np.zeros(n_t, bool)
    attract = np.full(n_t, np.nan)
    if basin:
        directions = random_directions(jax.random.fold_in(key, 2), (k, n), train.chunks.dtype)
        for j, t in enumerate(times):  # a few times; each call is one jitted bisection
            r = np.asarray(dominance_radius(train, float(t), indices, directions, r_max=r_max, n_bisect=n_bisect))
            is_bound[j] = np.mean(r >= r_max) >= 0.5
            if not is_bound[j]:
                radius[j], radius_err[j] = _median_with_error(r)
            if attraction:
                attract[j] = float(np.median(np.asarray(attraction_radius(train, float(t), indices, directions, r_max=r_max))))

    to_train = np.full(n_t, np.nan)
    spur = np.full(n_t, np.nan)
    count = np.full(n_t, np.nan)
    if n_random and fresh is not None:
        queries = fresh_queries(jax.random.fold_in(key, 3), fresh, times, n_random)
        fp = mean_shift(queries.x, queries.t, train, tol=tol, max_iter=max_iter, step_size=step_size)
        cls = np.asarray(classify(fp)).reshape(n_t, n_random)
        to_train, spur = (cls == OTHER).mean(1), (cls == SPURIOUS).mean(1)
        xs = fp.x.reshape(n_t, n_random, n)
        dist_tol = 1e-2 * math.sqrt(n)
        count = np.array([int(distinct_count(xs[j], jnp.asarray(cls[j] == SPURIOUS), tol=dist_tol)) for j in range(n_t)])
        max_res = max(max_res, float(jnp.max(fp.residual)))

    return TrapsMeasurement(
        n_points=train.n_points, dim=n, n_probed=k, times=times,
        trap_fraction=_fraction(classes, OWN), other_fraction=_fraction(classes, OTHER),
        spurious_fraction=_fraction(classes, SPURIOUS), start_dominated=start_dom,
        basin_radius=radius, basin_radius_stderr=radius_err, basin_radius_is_bound=is_bound,
        attraction_radius=attract, random_to_training=to_train, random_spurious=spur, spurious_count=count,
        max_residual=max_res, r_max=float(r_max),
    )


@options_of(measure_traps, exclude=("fresh",), check=check_traps_options, defaults={"times": (0.6, 0.7, 0.8)})
class TrapsOptions(Options):
    """The options of :func:`measure_traps` as a config part (times, probes, bisection, iteration, flags)."""
