"""Collapse time from queries at fixed times, without trajectories (THEORY.md sections 1 and 4).

A query noised from a random training point, ``x = m_t a_mu + sqrt(Delta_t) xi``, is distributed
exactly as the marginal ``p_t^e`` of the backward empirical-score SDE, so single-time observables of
the backward dynamics need no integration. Two estimators of ``t_C``, read at the median:

* ``own``: the time at which half of the queries have their own point at posterior weight > 1/2
  (the excess-entropy zero crossing of section 4, estimator 4);
* ``condensation``: the time at which half of the queries have some weight > 1/2 (estimator 1 at a
  single time).

Each is the crossing of the fraction of queries with 1/2 on a decreasing time grid (linear
interpolation), with a bootstrap standard error over the queries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim.observe import Estimate
from diffsim.measure._queries import noised_training_queries, query_statistics
from diffsim.observe import crossing_time
from diffsim.score import TrainingSet
from diffsim.specs import Options, options_of

__all__ = [
    "ESTIMATORS",
    "CollapseQueriesMeasurement",
    "measure_collapse_queries",
    "measure_pooled_collapse_queries",
    "CollapseQueriesOptions",
    "collapse_indicators",
    "collapse_from_indicators",
]

ESTIMATORS = ("own", "condensation")


@dataclass(frozen=True)
class CollapseQueriesMeasurement:
    """``times`` ``[T]`` (decreasing), ``own_fraction`` and ``condensed_fraction`` ``[T]``, and
    ``estimates``: ``{"own": Estimate, "condensation": Estimate}`` of ``t_C``."""

    times: np.ndarray
    own_fraction: np.ndarray
    condensed_fraction: np.ndarray
    estimates: dict


@partial(jax.jit, static_argnames=("n_queries",))
def collapse_indicators(key, train: TrainingSet, times, *, n_queries: int):
    """``(own, condensed)`` booleans ``[T, S]`` of ``S = n_queries`` forward-noised queries per time: own
    weight > 1/2, max weight > 1/2. One compile per training-set shape (P, N)."""
    stats = query_statistics(noised_training_queries(key, train, times, n_queries), train)
    shape = (times.shape[0], n_queries)
    return stats["own_log_weight"].reshape(shape) > -math.log(2.0), stats["max_weight"].reshape(shape) > 0.5


@partial(jax.jit, static_argnames=("n_boot",))
def _crossing_with_error(key, times, indicators, *, n_boot: int = 200):
    """Time at which the mean of ``indicators`` ``[T, S]`` (times decreasing) first reaches 1/2, and its
    bootstrap standard error over the S samples: ``(value, stderr)`` scalars."""
    value = crossing_time(times, jnp.mean(indicators, 1), 0.5)
    idx = jax.random.randint(key, (n_boot, indicators.shape[1]), 0, indicators.shape[1])
    reps = jax.vmap(lambda i: crossing_time(times, jnp.mean(indicators[:, i], 1), 0.5))(idx)
    finite = jnp.isfinite(reps)
    mean = jnp.sum(jnp.where(finite, reps, 0.0)) / jnp.sum(finite)
    var = jnp.sum(jnp.where(finite, (reps - mean) ** 2, 0.0)) / jnp.maximum(jnp.sum(finite) - 1, 1)
    return value, jnp.sqrt(var)


def collapse_from_indicators(key, times, own, condensed, *, n_boot: int = 200) -> CollapseQueriesMeasurement:
    """The two estimates from indicator arrays ``[T, S]`` (e.g. pooled over independent training sets
    along S); bootstrap keys ``split(fold_in(key, 1))``. ``times`` decreasing."""
    own = jnp.asarray(own).astype(jnp.float32)
    condensed = jnp.asarray(condensed).astype(jnp.float32)
    t = jnp.asarray(times, jnp.float32)
    boot_own, boot_cond = jax.random.split(jax.random.fold_in(key, 1))
    estimates = {
        name: Estimate(*(float(v) for v in _crossing_with_error(k, t, ind, n_boot=n_boot)))
        for name, k, ind in (("own", boot_own, own), ("condensation", boot_cond, condensed))
    }
    return CollapseQueriesMeasurement(np.asarray(times, dtype=np.float64), np.asarray(jnp.mean(own, 1)),
                                      np.asarray(jnp.mean(condensed, 1)), estimates)


def _decreasing_times(times) -> np.ndarray:
    times = np.sort(np.asarray(times, dtype=np.float64))[::-1]
    if times.size < 2:
        raise _validate.ConfigError(f"times of size {times.size} is out of range: expected at least 2 times")
    return times


def check_collapse_queries_options(*, n_queries, n_boot) -> None:
    """Range checks of the options of :func:`measure_pooled_collapse_queries` (a :class:`~diffsim.ConfigError`)."""
    _validate.integer("n_queries", n_queries, minimum=2)
    _validate.integer("n_boot", n_boot, minimum=10)


def measure_pooled_collapse_queries(key, draws: Iterable[tuple], *, times: ArrayLike, n_queries: int = 256,
                                    n_boot: int = 200) -> CollapseQueriesMeasurement:
    """``t_C`` by the ``own`` and ``condensation`` estimators pooled over independent training sets.

    Args:
        key: PRNG key of the bootstrap (``fold_in(key, 1)``).
        draws: ``(query_key, train)`` pairs: each training set is queried with its own key and the
            indicators of all draws are pooled along the queries.
        times: ``[T]`` positive times bracketing ``t_C`` (sorted decreasing here).
        n_queries: forward-noised queries per time and draw.
        n_boot: bootstrap resamples of each standard error.
    """
    times = _decreasing_times(times)
    check_collapse_queries_options(n_queries=n_queries, n_boot=n_boot)
    t = jnp.asarray(times, jnp.float32)
    own, cond = zip(*(collapse_indicators(k, train, t, n_queries=n_queries) for k, train in draws))
    return collapse_from_indicators(key, times, jnp.concatenate(own, axis=1), jnp.concatenate(cond, axis=1), n_boot=n_boot)


def measure_collapse_queries(key, train: TrainingSet, *, times, n_queries: int = 256,
                             n_boot: int = 200) -> CollapseQueriesMeasurement:
    """``t_C`` by the ``own`` and ``condensation`` estimators from ``n_queries`` forward-noised queries
    per time (one training set: :func:`measure_pooled_collapse_queries` with the query key ``split(key)[0]``).

    Args:
        key: PRNG key; queries use ``split(key)[0]``, the bootstrap ``fold_in(key, 1)``.
        train: the training set (``TrainingSet.from_points`` of any ``[P, N]`` array).
        times: ``[T]`` positive times bracketing ``t_C`` (sorted decreasing here).
        n_queries: queries per time; n_boot: bootstrap resamples.
    """
    return measure_pooled_collapse_queries(key, [(jax.random.split(key)[0], train)], times=times, n_queries=n_queries,
                                           n_boot=n_boot)


@options_of(measure_pooled_collapse_queries, exclude=("times",), check=check_collapse_queries_options)
class CollapseQueriesOptions(Options):
    """The options of :func:`measure_pooled_collapse_queries` as a config part (queries, bootstrap)."""
