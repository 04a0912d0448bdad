"""Exact empirical score by one streamed pass over the training set (THEORY.md section 1).

For queries ``x`` at time ``t`` the posterior over which training point was noised is a softmax of

    l_mu(x, t) = (m_t x.a_mu - m_t^2 |a_mu|^2 / 2) / Delta_t

The pass walks the training set chunk by chunk with an online (running-max) log-sum-exp, so memory
is ``O(B * chunk + P * N)``, never ``O(B * P)``. The same pass accumulates everything the studies
need: the denoiser ``x0_hat = sum w a``, ``log Z = logsumexp(l)``, the max weight and its index,
the participation ``Y2 = sum w^2`` and the entropy ``-sum w log w``.

Partial results (one chunk, or one device's shard of the training set) are combined by
:func:`merge`, which is associative: the scan over chunks and the cross-device reduction of the
sharded kernel (:mod:`diffsim.score.sharded`) use the same rule.

Cost and layout. One evaluation costs ``4 B N P`` flops in two matmuls per chunk (logits
``[B, N] x [N, K]`` and the weighted sum ``[B, K] x [K, N]``) plus ``B P`` exponentials; the
``[B, K]`` logits of one chunk are the only large temporary. The chunk ``K`` is fixed when the
:class:`TrainingSet` is built: by default :func:`default_chunk_size` picks it from P, N, the expected
batch B and the platform (``[B, K]`` logits of about 2 MiB on CPU, which stay in cache between the
passes over them, and 128 MiB on GPU/TPU, which amortises the per-chunk kernel launches: measured
on an H100, see ``benchmarks/README.md``); ``chunk_size=`` overrides.

Precision. Every matmul passes ``precision=HIGHEST`` by default: fp32 logits are computed in true
fp32 on every platform (on GPUs the default would be TF32, on TPUs bf16 passes). At small t the
logits are ``O(N / Delta_t)`` while the differences that matter are O(1), so the matmul rounding error
``~ eps |x| |a| m_t / Delta_t`` is amplified by ``m_t / Delta_t``: with TF32 (eps = 2^-11) at
t = 1e-2 and N = 64, log Z is off by 0.6 and the score by its own size, against 1e-3 for fp32
(``benchmarks/kernel_precision.py``; bounds in ``tests/test_kernel_precision.py``).
``precision=jax.lax.Precision.DEFAULT`` is the reduced-precision mode (TF32 on NVIDIA Ampere and
later, one bf16 pass on TPU, plain fp32 on CPU); it is accurate only at t >= 1 (log Z to 3e-3 with
TF32), see ``benchmarks/README.md``.

Kernels. ``kernel="xla"`` (default, every platform) is the chunked scan above. ``kernel="fused"``
(GPU only) runs the same pass as one Pallas kernel that keeps each block's logits in registers
(:mod:`diffsim.score._fused`); it returns the same accumulator, so every statistic and the sharded
kernel work with either.

Inputs. Queries are ``x [B, N]`` or one query ``x [N]`` (then every result loses its batch axis),
times ``t`` a scalar or ``[B]``. A bad shape raises :class:`~diffsim._validate.ConfigError` naming
``x`` or ``t``, also while tracing; ``t`` must be finite and > 0, checked when its values are
concrete (outside ``jax.jit``: inside, the check would cost a host sync per call, so it is skipped).

Layers (each imports only those above it): ``_accumulator`` (the online log-sum-exp state and its
merge), ``_queries`` (input checks, logit coefficients), ``_layout`` (:class:`TrainingSet`), ``_xla``
and ``_fused`` (the two passes), this module (the public functions), ``sharded`` (device meshes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

import jax
import jax.numpy as jnp

from diffsim import _validate
from diffsim.process import delta, m
from diffsim.score import _fused
from diffsim.score._accumulator import (  # noqa: F401 - empty_accumulator, logits_accumulator, merge: re-exported
    HIGHEST,
    Accumulator,
    Posterior,
    empty_accumulator,
    finalize,
    logits_accumulator,
    merge,
)
from diffsim.score._layout import TrainingSet, default_chunk_size
from diffsim.score._queries import as_float_array, checked_queries, unbatch
from diffsim.score._xla import xla_accumulate

__all__ = [
    "TrainingSet",
    "Posterior",
    "Accumulator",
    "Kernel",
    "KERNELS",
    "posterior",
    "posterior_dense",
    "merge",
    "accumulate",
    "finalize",
    "empirical_score",
    "empirical_denoiser",
    "empirical_log_density",
    "log_density_from_posterior",
    "score_from_posterior",
    "EmpiricalScore",
    "nearest_two",
    "default_chunk_size",
    "score_and_stats",
]

Kernel = Literal["xla", "fused"]
"""The implementation of the streamed pass: ``"xla"`` (chunked scan, any platform) or ``"fused"``
(one Pallas kernel, GPU only)."""
KERNELS: tuple[str, ...] = get_args(Kernel)


def accumulate(x: jax.Array, t, train: TrainingSet, *, precision=HIGHEST, index_offset=0,
               kernel: Kernel = "xla") -> Accumulator:
    """The raw accumulator of queries ``x`` (``[B, N]``, unchecked) at time(s) ``t`` (scalar or
    ``[B]``) over ``train``; ``index_offset`` shifts the argmax (used by the sharded kernel).

    ``kernel`` is ``"xla"`` (the chunked scan, any platform) or ``"fused"`` (one Pallas kernel, GPU
    only: :func:`diffsim.score._fused.fused_accumulate`)."""
    if _validate.choice("kernel", kernel, KERNELS) == "fused":
        return _fused.fused_accumulate(x, t, train, precision=precision, index_offset=index_offset)
    return xla_accumulate(x, t, train, precision=precision, index_offset=index_offset)


def posterior(x: jax.Array, t, train: TrainingSet, *, precision=HIGHEST, kernel: Kernel = "xla") -> Posterior:
    """Posterior statistics of queries ``x`` at time(s) ``t``.

    Args:
      x: ``[B, N]`` queries, or one ``[N]`` query (then every field loses its ``[B]`` axis).
      t: scalar or ``[B]`` times, finite and > 0.
      train: the training set (N = ``train.dim``).
      precision: matmul precision (default HIGHEST: no silent TF32/bf16 passes on GPU or TPU).
      kernel: the implementation of the pass (``"xla"`` or, on a GPU, ``"fused"``; see the module
        docstring).

    Returns:
      :class:`Posterior` with fields of leading shape ``[B]`` (``denoised`` ``[B, N]``).

    One streamed pass, memory ``O(B * chunk + P * N)``. jit- and vmap-compatible; computes in the
    dtype of ``x`` (fp32 by default, fp64 under ``jax_enable_x64``).
    """
    x, t, single = checked_queries(x, t, train.dim)
    return unbatch(finalize(accumulate(x, t, train, precision=precision, kernel=kernel)), single)


def _time_column(t, x: jax.Array) -> jax.Array:
    """``t`` (scalar or ``[B]``) shaped to broadcast against ``x`` (``[B, N]`` or ``[N]``)."""
    t = jnp.asarray(t, x.dtype)
    return t[..., None] if t.ndim else t


def score_from_posterior(x: jax.Array, t, post: Posterior) -> jax.Array:
    """``s_e = (m_t x0_hat - x) / Delta_t``, shaped like ``x`` (``[B, N]`` or ``[N]``)."""
    t = _time_column(t, x)
    return (m(t) * post.denoised - x) / delta(t)


def log_density_from_posterior(x: jax.Array, t, post: Posterior, n_points: int) -> jax.Array:
    """``log p_t^e(x) = logsumexp(l) - |x|^2/(2 Delta) - log P - (N/2) log(2 pi Delta)``, ``[B]``
    (scalar for one ``[N]`` query)."""
    dt = delta(jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:-1]))
    n = x.shape[-1]
    return (
        post.log_norm
        - 0.5 * jnp.sum(jnp.square(x), axis=-1) / dt
        - math.log(n_points)
        - 0.5 * n * jnp.log(2 * jnp.pi * dt)
    )


def empirical_score(x: jax.Array, t, train: TrainingSet, *, precision=HIGHEST, kernel: Kernel = "xla") -> jax.Array:
    """Exact score of the noised empirical distribution, shaped like ``x`` (``[B, N]`` or ``[N]``);
    arguments as in :func:`posterior`."""
    x, t, single = checked_queries(x, t, train.dim)
    post = finalize(accumulate(x, t, train, precision=precision, kernel=kernel))
    return unbatch(score_from_posterior(x, t, post), single)


def empirical_denoiser(x: jax.Array, t, train: TrainingSet, *, precision=HIGHEST, kernel: Kernel = "xla") -> jax.Array:
    """Ideal (Tweedie) denoiser ``x0_hat(x, t) = sum_mu w_mu a_mu``, shaped like ``x``."""
    return posterior(x, t, train, precision=precision, kernel=kernel).denoised


def empirical_log_density(x: jax.Array, t, train: TrainingSet, *, precision=HIGHEST, kernel: Kernel = "xla") -> jax.Array:
    """``log p_t^e(x)``, ``[B]`` (scalar for one ``[N]`` query)."""
    x, t, single = checked_queries(x, t, train.dim)
    post = finalize(accumulate(x, t, train, precision=precision, kernel=kernel))
    return unbatch(log_density_from_posterior(x, t, post, train.n_points), single)


def posterior_dense(x: jax.Array, t, points, *, precision=HIGHEST) -> Posterior:
    """Reference implementation building the full ``[B, P]`` logits (tests and baselines only);
    ``points`` ``[P, N]``, ``x`` and ``t`` as in :func:`posterior`."""
    points = as_float_array(points)
    x, t, single = checked_queries(x, t, points.shape[-1])
    t = t[:, None]
    mt, dt = m(t), delta(t)
    logits = (mt * jnp.matmul(x, points.T, precision=precision) - 0.5 * mt**2 * jnp.sum(points**2, -1)) / dt
    logw = jax.nn.log_softmax(logits, axis=1)
    w = jnp.exp(logw)
    return unbatch(Posterior(
        denoised=jnp.matmul(w, points, precision=precision),
        log_norm=jax.scipy.special.logsumexp(logits, axis=1),
        max_weight=jnp.max(w, axis=1),
        argmax=jnp.argmax(logits, axis=1).astype(jnp.int32),
        y2=jnp.sum(w * w, axis=1),
        entropy=-jnp.sum(jnp.where(w > 0, w * logw, 0.0), axis=1),
    ), single)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class EmpiricalScore:
    """The empirical score as a sampler drift: ``(x [B, N], t) -> (score [B, N], stats)``.

    ``stats`` holds the posterior statistics of the same pass (``log_density``, ``max_weight``,
    ``argmax``, ``y2``, ``entropy``, each ``[B]``), so samplers record observables at no extra cost.
    One ``[N]`` query gives ``score [N]`` and scalar stats. ``precision`` and ``kernel`` (static) are
    those of :func:`posterior`. A pytree (``train`` is data), compared and hashed by identity, so
    ``jax.jit(EmpiricalScore(train))`` works.
    """

    train: TrainingSet
    precision: jax.lax.Precision = field(default=HIGHEST, metadata=dict(static=True))
    kernel: Kernel = field(default="xla", metadata=dict(static=True))

    def __post_init__(self):
        _validate.choice("kernel", self.kernel, KERNELS)

    def __call__(self, x: jax.Array, t) -> tuple[jax.Array, dict[str, jax.Array]]:
        x, t, single = checked_queries(x, t, self.train.dim)
        post = finalize(accumulate(x, t, self.train, precision=self.precision, kernel=self.kernel))
        return unbatch(score_and_stats(x, t, post, self.train.n_points), single)


def score_and_stats(x: jax.Array, t, post: Posterior, n_points: int) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The drift output ``(score [B, N], stats)`` of :class:`EmpiricalScore` from a posterior; the
    sharded drift (:mod:`diffsim.score.sharded`) returns the same."""
    stats = {
        "log_density": log_density_from_posterior(x, t, post, n_points),
        "max_weight": post.max_weight,
        "argmax": post.argmax,
        "y2": post.y2,
        "entropy": post.entropy,
    }
    return score_from_posterior(x, t, post), stats


def nearest_two(x: jax.Array, train: TrainingSet, *, precision=HIGHEST) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Euclidean distances from each query to its nearest and second-nearest training points, and
    the nearest index; streamed over chunks. ``x`` ``[B, N]`` gives ``(d1 [B], d2 [B], index [B])``;
    one ``[N]`` query gives scalars."""
    x, _, single = checked_queries(x, 1.0, train.dim)
    xsq = jnp.sum(jnp.square(x), axis=-1)
    offsets = jnp.arange(train.chunks.shape[0], dtype=jnp.int32) * train.chunk_size

    def body(best, chunk_data):
        chunk, half_sq, mask, offset = chunk_data
        d2 = xsq[:, None] - 2 * jnp.matmul(x, chunk.T, precision=precision) + 2 * half_sq[None, :]
        d2 = jnp.where(mask[None, :], d2, jnp.inf)
        vals, idx = jax.lax.top_k(-d2, 2)
        all_vals = jnp.concatenate([best[0], vals], axis=1)
        all_idx = jnp.concatenate([best[1], idx.astype(jnp.int32) + offset], axis=1)
        top_vals, pos = jax.lax.top_k(all_vals, 2)
        return (top_vals, jnp.take_along_axis(all_idx, pos, axis=1)), None

    init = (jnp.full((x.shape[0], 2), -jnp.inf, x.dtype), jnp.zeros((x.shape[0], 2), jnp.int32))
    (vals, idx), _ = jax.lax.scan(body, init, (train.chunks, train.half_sq_norms, train.mask, offsets))
    dist = jnp.sqrt(jnp.maximum(-vals, 0.0))
    return unbatch((dist[:, 0], dist[:, 1], idx[:, 0]), single)
