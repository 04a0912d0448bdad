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
(:mod:`diffsim.score.fused`); it returns the same accumulator, so every statistic and the sharded
kernel work with either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
from diffsim import _validate
from diffsim.process import delta, m

__all__ = [
    "TrainingSet",
    "Posterior",
    "Accumulator",
    "posterior",
    "posterior_dense",
    "merge",
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

HIGHEST = jax.lax.Precision.HIGHEST
KERNELS = ("xla", "fused")


# Logits elements ``B * K`` per chunk: 2 MiB fp32 on CPU (they stay in cache between the passes
# over them), 16 MiB on accelerators (stays in the 40-50 MB L2 of an A100/H100 while amortising
# the per-chunk kernel launches). Tune on new hardware with benchmarks/score_kernel.py --chunk.
_TARGET_LOGITS = {"cpu": 2**19}
_TARGET_LOGITS_ACCELERATOR = 2**25
_MAX_CHUNK = {"cpu": 2**13}
_MAX_CHUNK_ACCELERATOR = 2**17


def default_chunk_size(n_points: int, batch: int = 256, dim: int | None = None, platform: str | None = None) -> int:
    """Training points per chunk, a power of two chosen from P, B, N and the platform.

    ``K ~ target / batch`` with a target of ``2**19`` logits on CPU and ``2**25`` on GPU/TPU
    (``platform`` defaults to ``jax.default_backend()``); on CPU also ``K * N <= 2**18`` so that one
    chunk of points stays in cache. Clamped to ``[128, 8192]`` on CPU and ``[128, 131072]``
    elsewhere, and never larger than needed to hold ``n_points``.
    """
    platform = jax.default_backend() if platform is None else platform
    target = _TARGET_LOGITS.get(platform, _TARGET_LOGITS_ACCELERATOR) // max(1, batch)
    if platform == "cpu" and dim is not None:
        target = min(target, 2**18 // max(1, dim))
    upper = _MAX_CHUNK.get(platform, _MAX_CHUNK_ACCELERATOR)
    chunk = max(128, min(upper, 2 ** int(math.log2(max(1, target)))))
    return int(min(chunk, 2 ** math.ceil(math.log2(max(2, n_points)))))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class TrainingSet:
    """A training set laid out in equal chunks for the streamed kernel.

    Attributes:
      chunks: ``[n_chunks, chunk, N]`` points, zero-padded after the last real point.
      half_sq_norms: ``[n_chunks, chunk]`` values ``|a_mu|^2 / 2``.
      mask: ``[n_chunks, chunk]`` True for real points.
      n_points: P, the number of real points (static).
    """

    chunks: jax.Array
    half_sq_norms: jax.Array
    mask: jax.Array
    n_points: int = field(metadata=dict(static=True))

    @classmethod
    def from_points(cls, points, chunk_size: int | None = None, *, batch: int | None = None) -> "TrainingSet":
        """Lay ``points`` (``[P, N]``) out in chunks; ``chunk_size`` defaults to
        :func:`default_chunk_size` for the expected number of queries per call ``batch`` (default
        256) on the default platform. Any P works: the last chunk is padded and masked."""
        points = jnp.asarray(points)
        if points.ndim != 2:
            raise _validate.ConfigError(
                f"points has shape {points.shape}: expected a [P, N] array of training points"
            )
        n_points, dim = points.shape
        _validate.integer("P (number of training points)", n_points, minimum=2)
        _validate.integer("N (dimension)", dim, minimum=1)
        if chunk_size is None:
            batch = 256 if batch is None else _validate.integer("batch", batch, minimum=1)
            chunk = default_chunk_size(n_points, batch, dim)
        else:
            chunk = _validate.integer("chunk_size", chunk_size, minimum=1)
        n_chunks = -(-n_points // chunk)
        pad = n_chunks * chunk - n_points
        padded = jnp.pad(points, ((0, pad), (0, 0)))
        mask = jnp.arange(n_chunks * chunk) < n_points
        chunks = padded.reshape(n_chunks, chunk, dim)
        half_sq = 0.5 * jnp.sum(jnp.square(chunks), axis=-1)
        return cls(chunks, half_sq, mask.reshape(n_chunks, chunk), int(n_points))

    @property
    def dim(self) -> int:
        return self.chunks.shape[-1]

    @property
    def chunk_size(self) -> int:
        return self.chunks.shape[1]

    @property
    def points(self) -> jax.Array:
        """The ``[P, N]`` training points (an unpadded view)."""
        return self.chunks.reshape(-1, self.dim)[: self.n_points]


class Posterior(NamedTuple):
    """Posterior statistics of the queries, each with leading shape ``[B]``.

    denoised: ``[B, N]`` ``x0_hat = sum_mu w_mu a_mu``; log_norm: ``logsumexp_mu l_mu``;
    max_weight: ``max_mu w_mu``; argmax: index of the max weight (nearest training point in the
    rescaled metric); y2: ``sum w^2``; entropy: ``-sum w log w``.
    """

    denoised: jax.Array
    log_norm: jax.Array
    max_weight: jax.Array
    argmax: jax.Array
    y2: jax.Array
    entropy: jax.Array


class Accumulator(NamedTuple):
    """Online log-sum-exp state over a subset of training points (all relative to ``max``).

    max ``[B]``; s0 = sum e^(l-max) ``[B]``; s1 = sum e^(l-max) a ``[B, N]``; s2 = sum e^(2(l-max))
    ``[B]``; tl = sum e^(l-max) (l-max) ``[B]``; argmax ``[B]`` (global index).
    """

    max: jax.Array
    s0: jax.Array
    s1: jax.Array
    s2: jax.Array
    tl: jax.Array
    argmax: jax.Array


def merge(p: Accumulator, q: Accumulator) -> Accumulator:
    """Combine two accumulators over disjoint sets of training points (associative, commutative
    up to the tie-breaking of ``argmax``, which keeps the first)."""
    new_max = jnp.maximum(p.max, q.max)
    safe = jnp.where(jnp.isfinite(new_max), new_max, 0.0)

    def rescale(acc):
        factor = jnp.where(acc.s0 > 0, jnp.exp(acc.max - safe), 0.0)
        shift = jnp.where(acc.s0 > 0, acc.max - safe, 0.0)
        return factor, factor * (acc.tl + shift * acc.s0)

    fp, tp = rescale(p)
    fq, tq = rescale(q)
    return Accumulator(
        max=new_max,
        s0=fp * p.s0 + fq * q.s0,
        s1=fp[:, None] * p.s1 + fq[:, None] * q.s1,
        s2=fp**2 * p.s2 + fq**2 * q.s2,
        tl=tp + tq,
        argmax=jnp.where(q.max > p.max, q.argmax, p.argmax),
    )


def _coefficients(x, t):
    """Per-query coefficients: logits = (m/Delta) x.a - (m^2/Delta) |a|^2/2."""
    t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
    mt, dt = m(t), delta(t)
    return mt / dt, mt * mt / dt


def _logit_coefficients(x, t):
    """``(m/Delta, m^2/Delta)`` per query, the second floored at the smallest normal number so that
    a masked point (``|a|^2/2 = inf``) always gets the logit -inf, also where ``m^2`` underflows
    (t > 43 in fp32); for a real point the floor changes its logit by less than 1e-30."""
    coef, c2 = _coefficients(x, t)
    return coef, jnp.maximum(c2, jnp.finfo(x.dtype).tiny)


def _augmented_queries(x, t):
    """``[B, N + 1]`` queries ``[(m/Delta) x, -m^2/Delta]``: against a chunk augmented with the
    column ``|a|^2/2`` (:func:`_augmented_chunk`), one matmul gives the logits, bias included
    (``m^2/Delta`` floored: :func:`_logit_coefficients`)."""
    coef, c2 = _logit_coefficients(x, t)
    return jnp.concatenate([coef[:, None] * x, -c2[:, None]], axis=1)


def _augmented_chunk(chunk, half_sq, mask):
    """``[K, N + 1]`` chunk ``[a, |a|^2/2]`` with ``|a|^2/2 = inf`` for masked points (logit -inf,
    weight exactly 0)."""
    return jnp.concatenate([chunk, jnp.where(mask, half_sq, jnp.inf)[:, None]], axis=1)


def _chunk_accumulator(xa, chunk, half_sq, mask, offset, precision) -> Accumulator:
    """Accumulator of one chunk for the augmented queries ``xa [B, N + 1]``
    (:func:`_augmented_queries`): the logits come out of one matmul against the augmented chunk (no
    separate pass adds the ``|a|^2`` term and the mask over the ``[B, K]`` logits)."""
    logits = jnp.matmul(xa, _augmented_chunk(chunk, half_sq, mask).T, precision=precision)
    return logits_accumulator(logits, chunk, offset, precision)


def logits_accumulator(logits, chunk, offset, precision) -> Accumulator:
    """Accumulator of one chunk of points ``chunk [K, N]`` from its logits ``[B, K]`` (-inf for
    masked points); ``offset`` is the global index of its first point. Shared by the XLA scan and
    the fused kernel (:mod:`diffsim.score.fused`), which merge it into their running accumulator.

    The argmax is the first column whose logit equals the row max (``shifted == 0``), a plain
    min-reduction that fuses with the others instead of a variadic argmax reduce."""
    cmax = jnp.max(logits, axis=1)
    safe = jnp.where(jnp.isfinite(cmax), cmax, 0.0)
    shifted = logits - safe[:, None]
    e = jnp.exp(shifted)
    column = jax.lax.broadcasted_iota(jnp.int32, logits.shape, 1)
    first_max = jnp.min(jnp.where(shifted == 0.0, column, logits.shape[1] - 1), axis=1)
    return Accumulator(
        max=cmax,
        s0=jnp.sum(e, axis=1),
        s1=jnp.matmul(e, chunk, precision=precision),
        s2=jnp.sum(e * e, axis=1),
        tl=jnp.sum(jnp.where(e > 0.0, e * shifted, 0.0), axis=1),
        argmax=first_max.astype(jnp.int32) + offset,
    )


def empty_accumulator(batch: int, dim: int, dtype) -> Accumulator:
    """The identity of :func:`merge` (no training point seen)."""
    return Accumulator(
        max=jnp.full((batch,), -jnp.inf, dtype),
        s0=jnp.zeros((batch,), dtype),
        s1=jnp.zeros((batch, dim), dtype),
        s2=jnp.zeros((batch,), dtype),
        tl=jnp.zeros((batch,), dtype),
        argmax=jnp.zeros((batch,), jnp.int32),
    )


def accumulate(x, t, train: TrainingSet, *, precision=HIGHEST, index_offset=0, kernel: str = "xla") -> Accumulator:
    """Stream over ``train`` and return the raw accumulator (used by the sharded kernel).

    ``kernel`` is ``"xla"`` (the chunked scan, any platform) or ``"fused"`` (one Pallas kernel, GPU
    only: :func:`diffsim.score.fused.fused_accumulate`)."""
    if _validate.choice("kernel", kernel, KERNELS) == "fused":
        from diffsim.score.fused import fused_accumulate

        return fused_accumulate(x, t, train, precision=precision, index_offset=index_offset)
    xa = _augmented_queries(x, t)
    offsets = index_offset + jnp.arange(train.chunks.shape[0], dtype=jnp.int32) * train.chunk_size

    def body(acc, chunk_data):
        chunk, half_sq, mask, offset = chunk_data
        return merge(acc, _chunk_accumulator(xa, chunk, half_sq, mask, offset, precision)), None

    init = empty_accumulator(x.shape[0], x.shape[1], x.dtype)
    acc, _ = jax.lax.scan(body, init, (train.chunks, train.half_sq_norms, train.mask, offsets))
    return acc


def finalize(acc: Accumulator) -> Posterior:
    """Posterior statistics from a complete accumulator."""
    log_s0 = jnp.log(acc.s0)
    return Posterior(
        denoised=acc.s1 / acc.s0[:, None],
        log_norm=acc.max + log_s0,
        max_weight=1.0 / acc.s0,
        argmax=acc.argmax,
        y2=acc.s2 / jnp.square(acc.s0),
        entropy=log_s0 - acc.tl / acc.s0,
    )


def posterior(x, t, train: TrainingSet, *, precision=HIGHEST, kernel: str = "xla") -> Posterior:
    """Posterior statistics of queries ``x`` (``[B, N]``) at time(s) ``t`` (scalar or ``[B]``).

    One streamed pass, memory ``O(B * chunk + P * N)``. jit- and vmap-compatible; computes in the
    dtype of ``x`` (fp32 by default, fp64 under ``jax_enable_x64``). ``precision`` is the matmul
    precision (default HIGHEST: no silent TF32/bf16 passes on GPU or TPU); ``kernel`` picks the
    implementation of the pass (``"xla"`` or, on a GPU, ``"fused"``; see the module docstring).
    """
    return finalize(accumulate(x, t, train, precision=precision, kernel=kernel))


def score_from_posterior(x, t, post: Posterior):
    """``s_e = (m_t x0_hat - x) / Delta_t``."""
    t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])[:, None]
    return (m(t) * post.denoised - x) / delta(t)


def log_density_from_posterior(x, t, post: Posterior, n_points: int):
    """``log p_t^e(x) = logsumexp(l) - |x|^2/(2 Delta) - log P - (N/2) log(2 pi Delta)``."""
    t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
    dt = delta(t)
    n = x.shape[-1]
    return (
        post.log_norm
        - 0.5 * jnp.sum(jnp.square(x), axis=-1) / dt
        - math.log(n_points)
        - 0.5 * n * jnp.log(2 * jnp.pi * dt)
    )


def empirical_score(x, t, train: TrainingSet, *, precision=HIGHEST, kernel: str = "xla"):
    """Exact score of the noised empirical distribution, ``[B, N]``."""
    return score_from_posterior(x, t, posterior(x, t, train, precision=precision, kernel=kernel))


def empirical_denoiser(x, t, train: TrainingSet, *, precision=HIGHEST, kernel: str = "xla"):
    """Ideal (Tweedie) denoiser ``x0_hat(x, t) = sum_mu w_mu a_mu``, ``[B, N]``."""
    return posterior(x, t, train, precision=precision, kernel=kernel).denoised


def empirical_log_density(x, t, train: TrainingSet, *, precision=HIGHEST, kernel: str = "xla"):
    """``log p_t^e(x)``, ``[B]``."""
    return log_density_from_posterior(x, t, posterior(x, t, train, precision=precision, kernel=kernel), train.n_points)


def posterior_dense(x, t, points, *, precision=HIGHEST) -> Posterior:
    """Reference implementation building the full ``[B, P]`` logits (tests and baselines only)."""
    t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])[:, None]
    mt, dt = m(t), delta(t)
    logits = (mt * jnp.matmul(x, points.T, precision=precision) - 0.5 * mt**2 * jnp.sum(points**2, -1)) / dt
    logw = jax.nn.log_softmax(logits, axis=1)
    w = jnp.exp(logw)
    return Posterior(
        denoised=jnp.matmul(w, points, precision=precision),
        log_norm=jax.scipy.special.logsumexp(logits, axis=1),
        max_weight=jnp.max(w, axis=1),
        argmax=jnp.argmax(logits, axis=1).astype(jnp.int32),
        y2=jnp.sum(w * w, axis=1),
        entropy=-jnp.sum(jnp.where(w > 0, w * logw, 0.0), axis=1),
    )


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class EmpiricalScore:
    """The empirical score as a sampler drift: ``(x, t) -> (score, stats)``.

    ``stats`` holds the posterior statistics of the same pass (``log_density``, ``max_weight``,
    ``argmax``, ``y2``, ``entropy``), so samplers record observables at no extra cost. ``precision``
    and ``kernel`` (static) are those of :func:`posterior`.
    """

    train: TrainingSet
    precision: jax.lax.Precision = field(default=HIGHEST, metadata=dict(static=True))
    kernel: str = field(default="xla", metadata=dict(static=True))

    def __post_init__(self):
        _validate.choice("kernel", self.kernel, KERNELS)

    def __call__(self, x, t):
        post = posterior(x, t, self.train, precision=self.precision, kernel=self.kernel)
        return score_and_stats(x, t, post, self.train.n_points)


def score_and_stats(x, t, post: Posterior, n_points: int):
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


def nearest_two(x, train: TrainingSet, *, precision=HIGHEST):
    """Euclidean distances from each query to its nearest and second-nearest training points, and
    the nearest index; streamed over chunks. Returns ``(d1 [B], d2 [B], index [B])``."""
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
    return dist[:, 0], dist[:, 1], idx[:, 0]

