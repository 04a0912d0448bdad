"""Queries at fixed times drawn by forward noising, and their posterior statistics (THEORY.md 1, 4, 5).

For a query noised from a random training point, ``x = m_t a_mu + sqrt(Delta_t) xi`` with ``mu``
uniform, ``x`` is distributed exactly as ``p_t^e``: the marginal at time ``t`` of the backward
empirical-score SDE started from ``p_T^e``. Single-time observables of the backward dynamics
(condensed fraction, own weight, ``Y2``) are therefore measured here without integrating
trajectories. A *fresh* query uses a new data point ``a_0`` instead (section 5).

Shapes: ``times`` ``[T]``; queries are flattened to ``[Q] = [T * S]`` with ``t`` repeated; the
statistics are ``[Q]`` arrays; reshape to ``[T, S]`` for per-time averages.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from diffsim._protocols import DataModel
from diffsim._validate import ConfigError
from diffsim.process import delta, m
from diffsim.score import TrainingSet, posterior

# Held-out data points: an array [M, N], a sampler (key, n) -> [n, N], or a data model.
Fresh = Union[np.ndarray, jax.Array, Callable[[jax.Array, int], jax.Array], DataModel]

__all__ = ["Queries", "noised_training_queries", "held_out_points", "fresh_queries", "query_statistics"]


class Queries(NamedTuple):
    """``x`` ``[Q, N]``, ``t`` ``[Q]``, ``source`` ``[Q]`` (training index noised from, -1 if fresh)."""

    x: jax.Array
    t: jax.Array
    source: jax.Array


def _repeat_times(times, n_per_time: int, dtype):
    return jnp.repeat(jnp.asarray(times, dtype), n_per_time)


@partial(jax.jit, static_argnames=("n_per_time",))
def noised_training_queries(key: jax.Array, train: TrainingSet, times: Sequence[float] | np.ndarray | jax.Array, n_per_time: int) -> Queries:
    """``x = m_t a_mu + sqrt(Delta_t) xi``, ``mu`` uniform over the training set, ``n_per_time`` per time."""
    t = _repeat_times(times, n_per_time, train.chunks.dtype)
    k_idx, k_noise = jax.random.split(key)
    idx = jax.random.randint(k_idx, t.shape, 0, train.n_points)
    xi = jax.random.normal(k_noise, (t.shape[0], train.dim), train.chunks.dtype)
    x = m(t)[:, None] * train.points[idx] + jnp.sqrt(delta(t))[:, None] * xi
    return Queries(x, t, idx.astype(jnp.int32))


def held_out_points(key: jax.Array, fresh: Fresh, n: int) -> jax.Array:
    """``n`` held-out data points ``[n, N]`` from ``fresh``: an array ``[M, N]`` (its first ``n`` rows;
    ``M >= n`` required), a callable ``(key, n) -> [n, N]``, or an object with ``sample(key, n)``
    (a data model of :mod:`diffsim.data`)."""
    if hasattr(fresh, "sample"):
        return jnp.asarray(fresh.sample(key, n))
    if callable(fresh):
        return jnp.asarray(fresh(key, n))
    points = jnp.asarray(fresh)
    if points.ndim != 2 or points.shape[0] < n:
        raise ConfigError(
            f"fresh points of shape {tuple(points.shape)} are out of range: expected an array [M, N] with M >= {n} "
            "(or a sampler (key, n) -> [n, N])"
        )
    return points[:n]


def fresh_queries(key: jax.Array, fresh: Fresh, times: Sequence[float] | np.ndarray | jax.Array, n_per_time: int) -> Queries:
    """``x = m_t a_0 + sqrt(Delta_t) xi`` with ``a_0`` a held-out data point (section 5): ``fresh`` is an
    array of held-out points ``[M, N]``, a sampler ``(key, n) -> [n, N]`` or a data model
    (:func:`held_out_points`)."""
    k_data, k_noise = jax.random.split(key)
    n_total = len(times) * n_per_time
    a0 = held_out_points(k_data, fresh, n_total)
    t = _repeat_times(times, n_per_time, a0.dtype)
    xi = jax.random.normal(k_noise, a0.shape, a0.dtype)
    x = m(t)[:, None] * a0 + jnp.sqrt(delta(t))[:, None] * xi
    return Queries(x, t, jnp.full(t.shape, -1, jnp.int32))


@partial(jax.jit, static_argnames=("block", "with_denoised"))
def query_statistics(queries: Queries, train: TrainingSet, *, block: int = 512, with_denoised: bool = False) -> dict:
    """Posterior statistics of each query, one streamed pass per block of ``block`` queries.

    Returns a dict of ``[Q]`` arrays: ``max_weight``, ``argmax``, ``y2 = sum w^2``, ``entropy``
    ``= -sum w log w``, ``log_z = log sum_mu exp(-E_mu)`` with ``E_mu = |x - m_t a_mu|^2 / (2 Delta_t)``
    (the REM partition function of section 5), and ``own_log_weight = log w_source`` (NaN for fresh
    queries); with ``with_denoised`` also ``denoised`` ``[Q, N]`` (``x0_hat``).
    """
    q = queries.x.shape[0]
    n_blocks = -(-q // block)
    pad = n_blocks * block - q

    def padded(a):
        return jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1)).reshape((n_blocks, block) + a.shape[1:])

    points = train.points

    def one(args):
        x, t, src = args
        post = posterior(x, t, train)
        mt, dt = m(t), delta(t)
        a = points[jnp.maximum(src, 0)]
        own_logit = (mt * jnp.sum(x * a, -1) - 0.5 * mt**2 * jnp.sum(a * a, -1)) / dt
        out = {
            "max_weight": post.max_weight,
            "argmax": post.argmax,
            "y2": post.y2,
            "entropy": post.entropy,
            "log_z": post.log_norm - 0.5 * jnp.sum(x * x, -1) / dt,
            "own_log_weight": jnp.where(src >= 0, own_logit - post.log_norm, jnp.nan),
        }
        if with_denoised:
            out["denoised"] = post.denoised
        return out

    t_pad = jnp.pad(queries.t, (0, pad), constant_values=1.0).reshape(n_blocks, block)
    out = jax.lax.map(one, (padded(queries.x), t_pad, padded(queries.source)))
    return jax.tree_util.tree_map(lambda a: a.reshape((-1,) + a.shape[2:])[:q], out)
