"""The online log-sum-exp over training points: its state, its associative merge, its result.

For queries ``x`` at time ``t`` the posterior over which training point ``a_mu`` was noised is a
softmax of the logits ``l_mu(x, t)`` (:mod:`diffsim.score.empirical`). An :class:`Accumulator` holds
the softmax sums over a subset of the points relative to their running max; :func:`merge` combines
two disjoint subsets, and is associative, so the scan over chunks (:mod:`diffsim.score._xla`), the
blocks and splits of the fused kernel (:mod:`diffsim.score._fused`) and the devices of the sharded
kernel (:func:`merge_across`, :mod:`diffsim.score.sharded`) all use the same rule. :func:`finalize`
turns a complete accumulator into the :class:`Posterior` statistics.

This is the lowest layer of :mod:`diffsim.score`: it imports nothing from the package.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "HIGHEST",
    "Accumulator",
    "Posterior",
    "merge",
    "merge_across",
    "empty_accumulator",
    "logits_accumulator",
    "finalize",
]

HIGHEST = jax.lax.Precision.HIGHEST


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


def merge_across(acc: Accumulator, axis_name: str) -> Accumulator:
    """All-reduce form of :func:`merge` over the devices (or vmapped splits) of ``axis_name``
    (inside :func:`jax.shard_map` or ``vmap(..., axis_name=...)``): every member ends with the
    accumulator of the union of their training-point subsets. Members that saw no point
    (``s0 = 0``) contribute nothing; the argmax is the first index among those at the max."""
    seen = acc.s0 > 0
    new_max = jax.lax.pmax(acc.max, axis_name)
    safe = jnp.where(jnp.isfinite(new_max), new_max, 0.0)
    factor = jnp.where(seen, jnp.exp(acc.max - safe), 0.0)
    shift = jnp.where(seen, acc.max - safe, 0.0)
    at_max = seen & (acc.max == new_max)
    no_index = jnp.iinfo(jnp.int32).max
    return Accumulator(
        max=new_max,
        s0=jax.lax.psum(factor * acc.s0, axis_name),
        s1=jax.lax.psum(factor[:, None] * acc.s1, axis_name),
        s2=jax.lax.psum(factor**2 * acc.s2, axis_name),
        tl=jax.lax.psum(factor * (acc.tl + shift * acc.s0), axis_name),
        argmax=jax.lax.pmin(jnp.where(at_max, acc.argmax, no_index), axis_name),
    )


def empty_accumulator(batch: int, dim: int, dtype) -> Accumulator:
    """The identity of :func:`merge` (no training point seen), for ``batch`` queries in ``dim``
    dimensions."""
    return Accumulator(
        max=jnp.full((batch,), -jnp.inf, dtype),
        s0=jnp.zeros((batch,), dtype),
        s1=jnp.zeros((batch, dim), dtype),
        s2=jnp.zeros((batch,), dtype),
        tl=jnp.zeros((batch,), dtype),
        argmax=jnp.zeros((batch,), jnp.int32),
    )


def logits_accumulator(logits: jax.Array, chunk: jax.Array, offset, precision) -> Accumulator:
    """Accumulator of one chunk of points ``chunk`` (``[K, N]``) from its logits (``[B, K]``, -inf
    for masked points); ``offset`` is the global index of its first point. Shared by the XLA scan
    and the fused kernel, which merge it into their running accumulator.

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
