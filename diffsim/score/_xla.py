"""The streamed pass as a chunked ``lax.scan`` (``kernel="xla"``, every platform).

Each step computes one chunk's ``[B, K]`` logits in one matmul of the augmented queries
``[(m/Delta) x, -m^2/Delta]`` against the augmented chunk ``[a, |a|^2/2]`` (bias included, masked
points at -inf), turns them into an :class:`~diffsim.score._accumulator.Accumulator` and merges it
into the running one. Memory ``O(B * chunk + P * N)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diffsim.score._accumulator import HIGHEST, Accumulator, empty_accumulator, logits_accumulator, merge
from diffsim.score._layout import TrainingSet
from diffsim.score._queries import logit_coefficients

__all__ = ["xla_accumulate"]


def _augmented_queries(x, t):
    """``[B, N + 1]`` queries ``[(m/Delta) x, -m^2/Delta]``: against a chunk augmented with the
    column ``|a|^2/2`` (:func:`_augmented_chunk`), one matmul gives the logits, bias included
    (``m^2/Delta`` floored: :func:`~diffsim.score._queries.logit_coefficients`)."""
    coef, c2 = logit_coefficients(x, t)
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


def xla_accumulate(x: jax.Array, t, train: TrainingSet, *, precision=HIGHEST, index_offset=0) -> Accumulator:
    """The accumulator of queries ``x`` (``[B, N]``) at time(s) ``t`` (scalar or ``[B]``) over
    ``train``, by a scan over its chunks; ``index_offset`` is added to the argmax (the global index
    of ``train``'s first point when it is one shard of a larger set)."""
    xa = _augmented_queries(x, t)
    offsets = index_offset + jnp.arange(train.chunks.shape[0], dtype=jnp.int32) * train.chunk_size

    def body(acc, chunk_data):
        chunk, half_sq, mask, offset = chunk_data
        return merge(acc, _chunk_accumulator(xa, chunk, half_sq, mask, offset, precision)), None

    init = empty_accumulator(x.shape[0], x.shape[1], x.dtype)
    acc, _ = jax.lax.scan(body, init, (train.chunks, train.half_sq_norms, train.mask, offsets))
    return acc
