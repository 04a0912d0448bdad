"""The estimation separation: the true score does not minimise the empirical DSM loss (THEORY.md section 10).

DSM loss at time ``t`` over the training set ``a_1..a_P``:

    l_t(s) = (1/P) sum_mu E_xi |s(m_t a_mu + sqrt(Delta_t) xi, t) + xi / sqrt(Delta_t)|^2

The exact empirical score ``s_e`` minimises it, and (Prop. 4.1 of Ye, Zhu, Tao, Chen, exact)

    l_t(s_true) - l_t(s_e) = F_t = E_{x ~ p_t^e} |s_e(x, t) - s_true(x, t)|^2.

:func:`measure_loss_gap` estimates both sides independently by Monte Carlo over training points and
noise, with the empirical score streamed over the training set (:func:`diffsim.score.posterior`,
any P):

* the *loss gap*: one set of draws ``(mu, xi)`` feeds both losses (paired samples), and the
  per-sample difference ``d = |u|^2 + 2 u.r`` with ``u = s_true - s_e``, ``r = s_e + xi / sqrt(Delta)``
  (algebraically ``|s_true + xi/sqrt(Delta)|^2 - |s_e + xi/sqrt(Delta)|^2``, without the cancellation
  of two ``O(N / Delta)`` numbers) is averaged; its standard error is that of the mean of ``d``;
* the *Fisher divergence*: independent draws ``x = m_t a_mu + sqrt(Delta_t) xi`` (distributed exactly
  as ``p_t^e``) and the mean of ``|s_e - s_true|^2``.

The two estimate the same number (the cross term ``2 u.r`` has mean zero because ``s_e(x)`` is the
conditional mean of ``-xi / sqrt(Delta)`` given ``x``), so they must agree within their errors.

Shapes: ``times`` ``[T]``; ``n_samples`` draws per time in ``n_samples / batch`` batches of
``[batch, N]`` queries under ``lax.map`` (memory ``O(batch * chunk + P * N)``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim._protocols import Drift
from diffsim.observe import Estimate
from diffsim.process import delta, m, separations_time_from_t
from diffsim.score import TrainingSet, empirical_score
from diffsim.specs import Options, options_of

__all__ = ["LossGap", "LossGapOptions", "check_loss_gap_options", "measure_loss_gap", "dsm_terms"]

QUANTITIES = ("loss_true", "loss_empirical", "loss_gap", "fisher")


@dataclass(frozen=True)
class LossGap:
    """Loss gap and Fisher divergence per time.

    Attributes:
      times: ``[T]`` times in our clock (``m_t = exp(-t)``).
      n_points: P. dim: N. n_samples: Monte-Carlo draws per time and per estimator.
      loss_true, loss_empirical: ``l_t(s_true)`` and ``l_t(s_e)`` on the paired draws, one
        :class:`Estimate` per time.
      loss_gap: ``l_t(s_true) - l_t(s_e)`` from the paired per-sample differences.
      fisher: ``E_{p_t^e} |s_e - s_true|^2`` from independent draws.
    """

    times: np.ndarray
    n_points: int
    dim: int
    n_samples: int
    loss_true: tuple[Estimate, ...]
    loss_empirical: tuple[Estimate, ...]
    loss_gap: tuple[Estimate, ...]
    fisher: tuple[Estimate, ...]

    @property
    def paper_times(self) -> np.ndarray:
        """The times in the clock of Ye et al. (``dX = -X/2 ds + dB``): ``s = 2t``."""
        return np.asarray(separations_time_from_t(self.times))

    def values(self, name: str) -> np.ndarray:
        """``[T]`` values of one of ``loss_true``, ``loss_empirical``, ``loss_gap``, ``fisher``."""
        return np.array([e.value for e in getattr(self, _validate.choice("name", name, QUANTITIES))])

    def stderrs(self, name: str) -> np.ndarray:
        """``[T]`` standard errors of one quantity."""
        return np.array([e.stderr for e in getattr(self, _validate.choice("name", name, QUANTITIES))])

    def scaled_gap(self) -> tuple[np.ndarray, np.ndarray]:
        """``loss_gap * Delta_t / N`` and its standard error, ``[T]`` each (THEORY.md section 10)."""
        scale = -np.expm1(-2.0 * self.times) / self.dim
        return self.values("loss_gap") * scale, self.stderrs("loss_gap") * scale


def dsm_terms(x: jax.Array, xi: jax.Array, t: jax.Array, s_empirical: jax.Array, s_true: jax.Array
              ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Per-sample ``(loss_true, loss_empirical, difference, fisher)`` terms, ``[B]`` each, for queries
    ``x = m_t a + sqrt(Delta_t) xi``: ``|s_true + xi/sqrt(Delta)|^2``, ``|s_e + xi/sqrt(Delta)|^2``,
    their difference computed as ``|u|^2 + 2 u.r`` and ``|u|^2`` (``u = s_true - s_e``,
    ``r = s_e + xi / sqrt(Delta)``)."""
    r = s_empirical + xi / jnp.sqrt(delta(t))
    u = s_true - s_empirical
    uu = jnp.sum(u * u, axis=-1)
    return jnp.sum(jnp.square(u + r), axis=-1), jnp.sum(r * r, axis=-1), uu + 2.0 * jnp.sum(u * r, axis=-1), uu


def _as_pytree(score: Callable):
    """A callable as a pytree for the jitted pass: a bound method of a pytree (a data model's
    ``.score``) keeps its model as a traced argument, so new models of the same shape do not
    recompile; any other callable is static."""
    if isinstance(score, jax.tree_util.Partial):
        return score
    if inspect.ismethod(score):
        return jax.tree_util.Partial(score.__func__, score.__self__)
    if not callable(score):
        raise _validate.ConfigError(f"true_score={score!r} is not callable: expected (x [B, N], t) -> [B, N]")
    return jax.tree_util.Partial(score)


def _noised(key, train: TrainingSet, t, batch: int):
    k_idx, k_xi = jax.random.split(key)
    idx = jax.random.randint(k_idx, (batch,), 0, train.n_points)
    xi = jax.random.normal(k_xi, (batch, train.dim), train.chunks.dtype)
    return m(t) * train.points[idx] + jnp.sqrt(delta(t)) * xi, xi


@partial(jax.jit, static_argnames=("n_batches", "batch"))
def _terms_at_times(key, times, train: TrainingSet, true_score, *, n_batches: int, batch: int):
    """``[T, 4, n_batches * batch]`` per-sample terms: loss_true, loss_empirical, difference (paired
    draws) and the Fisher term (independent draws)."""

    def one_batch(t, k):
        k_pair, k_fisher = jax.random.split(k)
        x, xi = _noised(k_pair, train, t, batch)
        y, _ = _noised(k_fisher, train, t, batch)
        xy = jnp.concatenate([x, y])  # one streamed pass for both sets of draws
        s_e, s_true = empirical_score(xy, t, train), true_score(xy, t)
        lt, le, diff, _ = dsm_terms(x, xi, t, s_e[:batch], s_true[:batch])
        u = s_e[batch:] - s_true[batch:]
        return jnp.stack([lt, le, diff, jnp.sum(u * u, axis=-1)])

    def one_time(args):
        t, k = args
        out = jax.lax.map(lambda kk: one_batch(t, kk), jax.random.split(k, n_batches))  # [n_batches, 4, batch]
        return jnp.moveaxis(out, 1, 0).reshape(4, -1)

    keys = jax.random.split(key, times.shape[0])
    return jax.lax.map(one_time, (times, keys))


def measure_loss_gap(
    key: jax.Array,
    train: TrainingSet,
    true_score: Drift,
    *,
    times: ArrayLike = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
    n_samples: int = 4096,
    batch: int = 512,
) -> LossGap:
    """Loss gap ``l_t(s_true) - l_t(s_e)`` and Fisher divergence ``E_{p_t^e}|s_e - s_true|^2`` per time.

    Args:
      key: PRNG key (the paired and the Fisher draws use independent sub-keys).
      train: the training set (any P; the empirical score is streamed over it; training points are
        drawn uniformly from its ``n_points`` rows, so not a masked padded layout).
      true_score: the exact score of the data law, ``(x [B, N], t) -> [B, N]`` (e.g. a data model's
        ``.score``; a jittable pytree or function).
      times: increasing times of the curve (OU time t, our clock; the paper's is 2t).
      n_samples: Monte-Carlo draws per time and estimator (rounded up to a multiple of batch).
      batch: queries per streamed evaluation.

    Returns:
      :class:`LossGap` with one :class:`Estimate` per time for each quantity.
    """
    if not isinstance(train, TrainingSet):
        raise _validate.ConfigError(f"train={type(train).__name__} is not a TrainingSet: build one with TrainingSet.from_points")
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if times.ndim != 1 or times.size == 0:
        raise _validate.ConfigError(f"times has shape {times.shape}: expected a non-empty 1-D list")
    check_loss_gap_options(times=times, n_samples=n_samples, batch=batch)
    n_samples = int(n_samples)
    batch = min(int(batch), n_samples)
    n_batches = -(-n_samples // batch)
    _validate.memory(
        f"loss gap with {n_samples} samples at {times.size} times",
        4.0 * (times.size * 4 * n_batches * batch + 4 * batch * (train.chunk_size + train.dim)),
    )
    dtype = train.chunks.dtype
    terms = np.asarray(
        _terms_at_times(key, jnp.asarray(times, dtype), train, _as_pytree(true_score), n_batches=n_batches, batch=batch),
        dtype=np.float64,
    )
    est = [[Estimate.of_mean(terms[i, q]) for i in range(times.size)] for q in range(4)]
    return LossGap(
        times=times, n_points=train.n_points, dim=train.dim, n_samples=n_batches * batch,
        loss_true=tuple(est[0]), loss_empirical=tuple(est[1]), loss_gap=tuple(est[2]), fisher=tuple(est[3]),
    )



def check_loss_gap_options(*, times, n_samples, batch) -> None:
    """Range checks of :func:`measure_loss_gap`'s options, for the API and for configs."""
    _validate.increasing("times", times)
    for t in times:
        _validate.positive("times", t, upper=50.0)
    _validate.integer("n_samples", n_samples, minimum=2)
    _validate.integer("batch", batch, minimum=1)


@options_of(measure_loss_gap, check=check_loss_gap_options)
class LossGapOptions(Options):
    """The options of :func:`measure_loss_gap` as a config part (the times, the Monte-Carlo draws, the batch)."""
