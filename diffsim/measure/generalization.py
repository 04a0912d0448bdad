"""Generalization of the stopped empirical dynamics on any training set (THEORY.md section 7, [open]).

Stopping the backward empirical-score dynamics at ``t`` and mapping the state back to data scale,
``y = x_t / m_t``, samples exactly the Gaussian kernel density estimate
``q_t = (1/P) sum_mu N(a_mu, sigma_t^2 I)``, ``sigma_t^2 = exp(2t) - 1``. Measured on held-out points
``y ~ p_0`` (Monte Carlo):

* ``cross_entropy(t) = -E log q_t(y) / D`` (nats per dimension); with the data entropy ``H(p_0)``
  (when known) ``KL(p_0 || q_t) / D = cross_entropy - H / D``. Its minimiser ``t_g`` does not depend
  on ``H``: it is estimated by a parabola in ``log t`` through the grid minimum, with a bootstrap error
  over the held-out points;
* optionally (``n_proj > 0``) the sliced 2-Wasserstein distance between the denoised
  ``x0_hat(x_t, t)`` of ``x_t ~ p_t^e`` and the held-out points, and its minimiser ``t_g_sw``.

The training set and the held-out points are in the same coordinates (for data on a subspace, project
both onto it first: the KL is then the one on the subspace).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim.observe import Estimate
from diffsim.measure._queries import Queries, noised_training_queries, query_statistics
from diffsim.metrics import sliced_wasserstein
from diffsim.process import m
from diffsim.score import TrainingSet
from diffsim.specs import Options, options_of

__all__ = ["GeneralizationMeasurement", "GeneralizationOptions", "check_generalization_options", "measure_generalization"]


@dataclass(frozen=True)
class GeneralizationMeasurement:
    """Curves at ``times`` ``[T]``: ``cross_entropy`` with its ``cross_entropy_stderr``, ``sw`` (NaN when
    not measured); estimates ``t_g`` (bootstrap stderr) and ``t_g_sw`` (no stderr)."""

    n_points: int
    dim: int
    times: np.ndarray
    cross_entropy: np.ndarray
    cross_entropy_stderr: np.ndarray
    sw: np.ndarray
    t_g: Estimate
    t_g_sw: Estimate


def argmin_log_parabola(times: np.ndarray, values: np.ndarray) -> float:
    """Minimiser of a sampled curve: parabola in ``log t`` through the grid minimum and its neighbours."""
    j = int(np.argmin(values))
    if j == 0 or j == values.size - 1:
        return float(times[j])
    u = np.log(times[j - 1:j + 2])
    a, b, _ = np.polyfit(u, values[j - 1:j + 2], 2)
    return float(np.exp(np.clip(-b / (2 * a), u.min(), u.max()))) if a > 0 else float(times[j])


def check_generalization_options(*, n_proj, n_boot) -> None:
    """Range checks of :func:`measure_generalization`'s options (a :class:`~diffsim.ConfigError`)."""
    _validate.integer("n_proj", n_proj, minimum=0)
    _validate.integer("n_boot", n_boot, minimum=2)


def measure_generalization(key: jax.Array, train: TrainingSet, held_out: ArrayLike, *, times: ArrayLike, n_proj: int = 0,
                           n_boot: int = 100) -> GeneralizationMeasurement:
    """Cross-entropy of the stopped dynamics on ``held_out`` points and its minimiser ``t_g``.

    Args:
        key: PRNG key; the bootstrap uses ``fold_in(key, 6)``, the noised queries of the sliced
            Wasserstein distance ``fold_in(key, 7)``, its directions ``fold_in(key, 8)``.
        train: the training set ``[P, D]``.
        held_out: ``[M, D]`` points of the data law not in the training set.
        times: ``[T]`` positive times (any order; ``t_g`` is searched on this grid).
        n_proj: random directions of the sliced-Wasserstein t_g (0: skip it).
        n_boot: bootstrap resamples of the held-out points for the error of t_g.
    """
    times = np.asarray(times, dtype=np.float64)
    test = jnp.asarray(held_out, train.chunks.dtype)
    if test.ndim != 2 or test.shape[1] != train.dim or test.shape[0] < 2:
        raise _validate.ConfigError(
            f"held_out of shape {tuple(test.shape)} is out of range: expected [M, {train.dim}] with M >= 2")
    check_generalization_options(n_proj=n_proj, n_boot=n_boot)
    n_t, n_test, d = times.size, test.shape[0], train.dim

    # queries m_t y at time t; log q_t(y) = log_z - log P - (D/2) log(2 pi sigma_t^2)
    t_rep = jnp.repeat(jnp.asarray(times, test.dtype), n_test)
    y_rep = jnp.tile(test, (n_t, 1))
    stats = query_statistics(Queries(m(t_rep)[:, None] * y_rep, t_rep, jnp.full(t_rep.shape, -1, jnp.int32)), train)
    log_z = np.asarray(stats["log_z"], dtype=np.float64).reshape(n_t, n_test)
    sigma2 = np.expm1(2.0 * times)[:, None]
    log_q = log_z - math.log(train.n_points) - 0.5 * d * np.log(2 * np.pi * sigma2)
    per_point = -log_q / d  # [T, M]
    ce = per_point.mean(1)
    ce_err = per_point.std(1, ddof=1) / math.sqrt(n_test)
    rng = np.random.default_rng(int(jax.random.randint(jax.random.fold_in(key, 6), (), 0, 2**31 - 1)))
    boots = [argmin_log_parabola(times, per_point[:, rng.integers(0, n_test, n_test)].mean(1)) for _ in range(n_boot)]
    t_g = Estimate(argmin_log_parabola(times, ce), float(np.std(boots, ddof=1)))

    sw = np.full(n_t, np.nan)
    t_g_sw = Estimate(float("nan"), float("nan"))
    if n_proj:
        queries = noised_training_queries(jax.random.fold_in(key, 7), train, times, n_test)
        den = query_statistics(queries, train, with_denoised=True)["denoised"].reshape(n_t, n_test, d)
        proj_key = jax.random.fold_in(key, 8)
        sw = np.asarray(jax.vmap(lambda d: sliced_wasserstein(proj_key, d, test, n_proj))(den))
        t_g_sw = Estimate(argmin_log_parabola(times, sw), float("nan"))
    return GeneralizationMeasurement(train.n_points, d, times, ce, ce_err, sw, t_g, t_g_sw)


@options_of(measure_generalization, exclude=("times",), check=check_generalization_options)
class GeneralizationOptions(Options):
    """The options of :func:`measure_generalization` as a config part (the study sets the times)."""
