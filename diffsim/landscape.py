"""Traps and basins of the empirical potential ``U_t(x) = -log p_t^e(x)`` (THEORY.md section 6).

Stationary points of ``p_t^e`` solve the mean-shift fixed point ``x = m_t x0_hat(x, t)`` (section 1:
``grad log p_t^e = (m_t x0_hat - x) / Delta_t``); the map ``x <- m_t x0_hat(x, t)`` is the EM step for the
Gaussian mixture ``p_t^e`` and climbs it monotonically. A fixed point is classified by its posterior:

* ``own``: a weight > 1/2 on the training point the iteration was started from (a *trap* of that point);
* ``other``: a weight > 1/2 on another training point;
* ``spurious``: no weight > 1/2 (a mixture state).

Basins: with ``x(r) = m_t a_mu + sqrt(N Delta_t) r u`` (``u`` a random unit vector) the *dominance
radius* is the ``r`` at which ``w_mu(x(r))`` falls to 1/2 (theory: ``r_b(t)``, :func:`diffsim.theory.basin_radius`),
and the *attraction radius* is the largest ``r`` from which the mean-shift iteration still ends in
mu's trap; both are found by bisection in ``r``, vectorised over training points.

Everything is batched: queries ``[B, N]`` with per-query times ``[B]``, so several times run in one
``lax.while_loop``. Shapes in docstrings; ``K`` = number of training points probed.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

import numpy as np
from jax.typing import ArrayLike, DTypeLike
from numpy.typing import ArrayLike as NumpyArrayLike

from diffsim._validate import ConfigError
from diffsim.process import delta, m
from diffsim.score.empirical import TrainingSet, posterior

__all__ = [
    "OWN",
    "OTHER",
    "SPURIOUS",
    "CLASS_NAMES",
    "FixedPoints",
    "mean_shift",
    "classify",
    "trap_starts",
    "own_trap_classes",
    "radial_queries",
    "own_weight",
    "dominance_radius",
    "attraction_radius",
    "random_directions",
    "distinct_count",
    "smallest_time",
    "check_times",
]

OWN, OTHER, SPURIOUS = 0, 1, 2
CLASS_NAMES = ("own", "other", "spurious")


class FixedPoints(NamedTuple):
    """Result of :func:`mean_shift`: ``x`` ``[B, N]``; ``max_weight``, ``argmax``, ``residual`` ``[B]``
    (``|m_t x0_hat(x) - x| / sqrt(N)`` at the returned ``x``); ``n_iter`` scalar."""

    x: jax.Array
    max_weight: jax.Array
    argmax: jax.Array
    residual: jax.Array
    n_iter: jax.Array


def _times(x: jax.Array, t: ArrayLike) -> jax.Array:
    return jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])


@jax.jit
def mean_shift(x: jax.Array, t: ArrayLike, train: TrainingSet, *, tol: float = 1e-5, max_iter: int = 1000, step_size: float = 1.0) -> FixedPoints:
    """Iterate ``x <- x + eta (m_t x0_hat(x, t) - x)`` from ``x`` ``[B, N]`` at times ``t`` (scalar or
    ``[B]``) under ``lax.while_loop`` until every residual ``|m_t x0_hat(x) - x| / sqrt(N)`` is below
    ``tol`` or ``max_iter`` steps. ``eta = step_size = 1`` is mean-shift (the EM step, which may jump
    between basins); ``eta < 1`` is gradient ascent on ``log p_t^e`` with step ``eta Delta_t``, which
    follows the gradient flow more closely. Converged queries are frozen. One posterior pass per step."""
    t = _times(x, t)
    mt = m(t)[:, None]
    scale = 1.0 / math.sqrt(x.shape[-1])

    def step(x):
        post = posterior(x, t, train)
        target = mt * post.denoised
        return x + step_size * (target - x), jnp.linalg.norm(target - x, axis=-1) * scale

    def cond(state):
        _, res, it = state
        return (it < max_iter) & jnp.any(res > tol)

    def body(state):
        x, res, it = state
        new, new_res = step(x)
        active = res > tol
        return jnp.where(active[:, None], new, x), jnp.where(active, new_res, res), it + 1

    x, res, it = jax.lax.while_loop(cond, body, (x, jnp.full(x.shape[:1], jnp.inf, x.dtype), 0))
    post = posterior(x, t, train)
    res = jnp.linalg.norm(mt * post.denoised - x, axis=-1) * scale
    return FixedPoints(x, post.max_weight, post.argmax, res, it)  # type: ignore[arg-type]  # while_loop returns the int counter as an Array


def classify(fixed: FixedPoints, start_index: jax.Array | None = None) -> jax.Array:
    """``[B]`` int codes: :data:`OWN` (weight > 1/2 on ``start_index``), :data:`OTHER` (weight > 1/2 on
    another point; for random starts, ``start_index=None``, every dominated fixed point is OTHER), or
    :data:`SPURIOUS` (no weight > 1/2)."""
    dominated = fixed.max_weight > 0.5
    own = dominated & (fixed.argmax == start_index) if start_index is not None else jnp.zeros_like(dominated)
    return jnp.where(own, OWN, jnp.where(dominated, OTHER, SPURIOUS)).astype(jnp.int32)


def trap_starts(train: TrainingSet, times: Sequence[float] | np.ndarray | jax.Array, indices: ArrayLike) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Starting points ``m_t a_mu`` for every (time, index): ``x`` ``[T * K, N]``, ``t`` ``[T * K]``,
    ``index`` ``[T * K]`` (time-major)."""
    times = jnp.asarray(times, train.chunks.dtype)
    indices = jnp.asarray(indices, jnp.int32)
    t = jnp.repeat(times, indices.shape[0])
    idx = jnp.tile(indices, times.shape[0])
    return m(t)[:, None] * train.points[idx], t, idx


def own_trap_classes(train: TrainingSet, times: Sequence[float] | np.ndarray | jax.Array, indices: ArrayLike, *, tol: float = 1e-5,
                     max_iter: int = 1000, step_size: float = 1.0) -> tuple[jax.Array, FixedPoints]:
    """Class of the fixed point reached by mean-shift from ``m_t a_mu``, ``[T, K]`` codes, and the
    :class:`FixedPoints` (flattened ``[T * K]``). ``classes == OWN`` means mu owns a trap at t."""
    x, t, idx = trap_starts(train, times, indices)
    fixed = mean_shift(x, t, train, tol=tol, max_iter=max_iter, step_size=step_size)
    return classify(fixed, idx).reshape(len(times), -1), fixed


def radial_queries(points: jax.Array, t: ArrayLike, r: ArrayLike, directions: jax.Array) -> jax.Array:
    """``x = m_t a + sqrt(N Delta_t) r u``: points ``[K, N]``, ``t``, ``r`` ``[K]`` (or scalars),
    unit ``directions`` ``[K, N]`` -> ``[K, N]``."""
    n = points.shape[-1]
    t = jnp.broadcast_to(jnp.asarray(t, points.dtype), points.shape[:1])[:, None]
    r = jnp.broadcast_to(jnp.asarray(r, points.dtype), points.shape[:1])[:, None]
    return m(t) * points + jnp.sqrt(n * delta(t)) * r * directions


def own_weight(x: jax.Array, t: ArrayLike, train: TrainingSet, index: jax.Array) -> jax.Array:
    """Posterior weight ``w_index(x, t)`` of a given training point per query, ``[B]``."""
    t = _times(x, t)
    post = posterior(x, t, train)
    a = train.points[index]
    mt, dt = m(t), delta(t)
    logit = (mt * jnp.sum(x * a, -1) - 0.5 * mt**2 * jnp.sum(a * a, -1)) / dt
    return jnp.exp(logit - post.log_norm)


def random_directions(key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
    """Unit vectors uniform on the sphere, ``[K, N]``."""
    u = jax.random.normal(key, shape, dtype)
    return u / jnp.linalg.norm(u, axis=-1, keepdims=True)


def _bisect(inside: Callable[[jax.Array], jax.Array], k: int, r_max: float, n_bisect: int, dtype: DTypeLike) -> jax.Array:
    """Largest ``r`` in ``[0, r_max]`` with ``inside(r)`` (``[K] -> [K]`` bool, assumed monotone), by
    ``n_bisect`` halvings under ``lax.fori_loop``; 0 where ``inside(0)`` fails, ``r_max`` where
    ``inside(r_max)`` holds."""
    lo = jnp.zeros((k,), dtype)
    hi = jnp.full((k,), r_max, dtype)

    def body(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        ok = inside(mid)
        return jnp.where(ok, mid, lo), jnp.where(ok, hi, mid)

    lo, hi = jax.lax.fori_loop(0, n_bisect, body, (lo, hi))
    radius = 0.5 * (lo + hi)
    radius = jnp.where(inside(jnp.full((k,), r_max, dtype)), r_max, radius)
    return jnp.where(inside(jnp.zeros((k,), dtype)), radius, 0.0)


@partial(jax.jit, static_argnames=("n_bisect",))
def dominance_radius(train: TrainingSet, t: ArrayLike, indices: jax.Array, directions: jax.Array, *, r_max: float = 3.0,
                     n_bisect: int = 20) -> jax.Array:
    """Radius at which ``w_mu(m_t a_mu + sqrt(N Delta_t) r u_mu) = 1/2``, per probed point, ``[K]``
    (section 6; compare with ``r_b(t)``). ``t`` scalar or ``[K]``; ``indices`` ``[K]``; unit
    ``directions`` ``[K, N]``."""
    points = train.points[indices]
    t = jnp.broadcast_to(jnp.asarray(t, points.dtype), indices.shape)

    def inside(r):
        return own_weight(radial_queries(points, t, r, directions), t, train, indices) > 0.5

    return _bisect(inside, indices.shape[0], r_max, n_bisect, points.dtype)


@partial(jax.jit, static_argnames=("n_bisect",))
def attraction_radius(train: TrainingSet, t: ArrayLike, indices: jax.Array, directions: jax.Array, *, r_max: float = 3.0,
                      n_bisect: int = 12, tol: float = 1e-4, max_iter: int = 300) -> jax.Array:
    """Largest ``r`` from which mean-shift started at ``m_t a_mu + sqrt(N Delta_t) r u_mu`` ends in mu's
    trap (class :data:`OWN`), per probed point, ``[K]``; one mean-shift run per bisection step."""
    points = train.points[indices]
    t = jnp.broadcast_to(jnp.asarray(t, points.dtype), indices.shape)

    def inside(r):
        fixed = mean_shift(radial_queries(points, t, r, directions), t, train, tol=tol, max_iter=max_iter)
        return classify(fixed, indices) == OWN

    return _bisect(inside, indices.shape[0], r_max, n_bisect, points.dtype)


def distinct_count(x: jax.Array, mask: jax.Array, *, tol: float) -> jax.Array:
    """Number of distinct points among ``x[mask]`` (``x`` ``[B, N]``, ``mask`` ``[B]``): a point counts
    unless an earlier masked point lies within ``tol`` of it (greedy leaders; ``O(B^2)`` memory)."""
    d2 = jnp.sum((x[:, None, :] - x[None, :, :]) ** 2, -1)
    earlier = jnp.tril(jnp.ones(d2.shape, bool), k=-1)
    covered = jnp.any(earlier & mask[None, :] & (d2 < tol**2), axis=1)
    return jnp.sum(mask & ~covered)


_LOGIT_MARGIN = 64.0  # headroom of the largest logit |a|^2 / Delta_t below the largest float


def smallest_time(dtype: DTypeLike, max_sq_norm: float) -> float:
    """Smallest time at which the posterior of a training set with ``max |a_mu|^2 = max_sq_norm`` is
    computable in ``dtype``: the logits ``(m_t x.a - m_t^2 |a|^2 / 2) / Delta_t`` stay below the largest
    float by a margin of 64, and ``Delta_t = -expm1(-2t)`` is a normal number. Below it the logits
    overflow (or ``Delta_t`` flushes to 0) and every weight is NaN: the landscape is not measurable."""
    info = jnp.finfo(dtype)
    delta_min = max(float(info.tiny), _LOGIT_MARGIN * max(float(max_sq_norm), 1.0) / float(info.max))
    return float(-0.5 * np.log1p(-delta_min))


def check_times(times: NumpyArrayLike, dtype: DTypeLike, max_sq_norm: float, *, upper: float = 20.0) -> None:
    """Raise :class:`ConfigError` naming ``times`` and the allowed range unless every time lies in
    ``[smallest_time(dtype, max_sq_norm), upper]``."""
    low = smallest_time(dtype, max_sq_norm)
    for t in np.atleast_1d(np.asarray(times, dtype=np.float64)):
        if not (low <= t <= upper):
            raise ConfigError(
                f"times={float(t)!r} is out of range: expected {low:.3g} <= t <= {upper:g} (below {low:.3g} the "
                f"posterior logits |a|^2 / Delta_t overflow {jnp.dtype(dtype).name} for training points with "
                f"max |a|^2 = {float(max_sq_norm):.3g})"
            )
