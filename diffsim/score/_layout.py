"""A training set laid out in equal chunks for the streamed pass, and the default chunk size.

Imports nothing from :mod:`diffsim.score` but :mod:`diffsim.score._queries` (array conversion and
the concreteness test shared with the query checks).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp

from diffsim import _validate
from diffsim.score._queries import as_float_array, is_concrete

__all__ = ["TrainingSet", "default_chunk_size", "masked_training_set"]

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
@dataclass(frozen=True, eq=False)
class TrainingSet:
    """A training set laid out in equal chunks for the streamed kernel.

    Attributes:
      chunks: ``[n_chunks, chunk, N]`` points, zero-padded after the last real point.
      half_sq_norms: ``[n_chunks, chunk]`` values ``|a_mu|^2 / 2``.
      mask: ``[n_chunks, chunk]`` True for real points.
      n_points: P, the number of real points (static).

    Compared and hashed by identity (``eq=False``): its fields are arrays.
    """

    chunks: jax.Array
    half_sq_norms: jax.Array
    mask: jax.Array
    n_points: int = field(metadata=dict(static=True))

    @classmethod
    def from_points(cls, points, chunk_size: int | None = None, *, batch: int | None = None) -> "TrainingSet":
        """Lay out ``points`` in chunks.

        Args:
          points: ``[P, N]`` training points, any array-like. Integers and float64 without
            ``jax_enable_x64`` become the default float dtype (no truncation warnings); must be
            finite (checked when the values are concrete, i.e. outside ``jax.jit``).
          chunk_size: points per chunk; default :func:`default_chunk_size` for ``batch``.
          batch: the expected number of queries per call (default 256), used only to pick the chunk.

        Any P works: the last chunk is padded and masked.
        """
        points = as_float_array(points)
        if points.ndim != 2:
            raise _validate.ConfigError(
                f"points has shape {points.shape}: expected a [P, N] array of training points"
            )
        n_points, dim = points.shape
        _validate.integer("P (number of training points)", n_points, minimum=2)
        _validate.integer("N (dimension)", dim, minimum=1)
        if is_concrete(points) and not bool(jnp.all(jnp.isfinite(points))):
            bad = int(jnp.sum(~jnp.all(jnp.isfinite(points), axis=1)))
            raise _validate.ConfigError(
                f"points has {bad} of {n_points} rows with non-finite values (nan or inf): expected finite training points"
            )
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


def masked_training_set(points, n_real) -> TrainingSet:
    """Training set of the first ``n_real`` rows of ``points [P_max, N]`` in the ``P_max`` layout.

    The rows past ``n_real`` stay in the chunks but are masked out, so the posterior, the empirical
    score and the nearest-point distances see exactly the ``n_real`` real points, while members of
    different P share one shape (one compile, one ``vmap``). ``n_points`` of the result is the slot
    count ``P_max``: do not use it for ``log p_t^e`` (which needs the true P).
    """
    full = TrainingSet.from_points(points)
    real = (jnp.arange(full.mask.size) < n_real).reshape(full.mask.shape)
    return dataclasses.replace(full, mask=full.mask & real)
