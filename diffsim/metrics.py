"""Distances between two samples of points (THEORY.md sections 7 and 12): sliced Wasserstein and MMD.

Both are pure JAX functions of ``x [n, N]`` and ``y [m, N]`` (jit- and vmap-compatible); both are
zero in expectation (MMD, unbiased) or at the finite-sample floor (sliced Wasserstein) when x and y
come from the same law, so report them next to the value for two independent true samples.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

__all__ = ["sliced_wasserstein", "mmd", "median_distance"]

HIGHEST = jax.lax.Precision.HIGHEST


def _quantiles(sorted_values, levels):
    """Linear-interpolated empirical quantiles of sorted ``[n]`` values at ``levels`` in (0, 1)."""
    n = sorted_values.shape[0]
    pos = levels * n - 0.5
    return jnp.interp(pos, jnp.arange(n, dtype=sorted_values.dtype), sorted_values)


@partial(jax.jit, static_argnames=("n_projections",))
def sliced_wasserstein(key, x, y, n_projections: int = 128):
    """Sliced 2-Wasserstein distance
    ``SW_2(x, y) = sqrt( E_u W_2^2(u.x, u.y) )``, u uniform on the unit sphere, estimated with
    ``n_projections`` random directions; the 1-D ``W_2`` compares quantile functions (sorted values
    when ``n == m``, interpolated quantiles at ``max(n, m)`` levels otherwise). Scalar."""
    dirs = jax.random.normal(key, (n_projections, x.shape[-1]), x.dtype)
    dirs = dirs / jnp.linalg.norm(dirs, axis=-1, keepdims=True)
    px = jnp.sort(jnp.matmul(x, dirs.T, precision=HIGHEST), axis=0)  # [n, L]
    py = jnp.sort(jnp.matmul(y, dirs.T, precision=HIGHEST), axis=0)  # [m, L]
    if px.shape[0] != py.shape[0]:
        q = max(px.shape[0], py.shape[0])
        levels = (jnp.arange(q, dtype=x.dtype) + 0.5) / q
        px = jax.vmap(lambda c: _quantiles(c, levels), in_axes=1, out_axes=1)(px)
        py = jax.vmap(lambda c: _quantiles(c, levels), in_axes=1, out_axes=1)(py)
    return jnp.sqrt(jnp.mean(jnp.square(px - py)))


def _sq_dists(a, b):
    return jnp.maximum(
        jnp.sum(a * a, -1)[:, None] + jnp.sum(b * b, -1)[None, :] - 2.0 * jnp.matmul(a, b.T, precision=HIGHEST), 0.0
    )


@jax.jit
def mmd(x, y, bandwidth):
    """Unbiased squared maximum mean discrepancy with the Gaussian kernel
    ``k(a, b) = mean_h exp(-|a - b|^2 / (2 h^2))`` over the bandwidths ``h`` (scalar or ``[H]``):

        MMD^2 = sum_{i != j} k(x_i, x_j) / (n (n-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1)) - 2 mean k(x_i, y_j)

    Memory ``O((n + m)^2)``. Scalar (may be slightly negative by sampling noise)."""
    h2 = jnp.square(jnp.atleast_1d(jnp.asarray(bandwidth, x.dtype)))

    def kernel(a, b):
        d2 = _sq_dists(a, b)
        return jnp.mean(jnp.exp(-d2[..., None] / (2.0 * h2)), axis=-1)

    n, m_ = x.shape[0], y.shape[0]
    k_xx, k_yy = kernel(x, x), kernel(y, y)
    kxx = (jnp.sum(k_xx) - jnp.trace(k_xx)) / (n * (n - 1))
    kyy = (jnp.sum(k_yy) - jnp.trace(k_yy)) / (m_ * (m_ - 1))
    return kxx + kyy - 2.0 * jnp.mean(kernel(x, y))


@jax.jit
def median_distance(x):
    """Median pairwise Euclidean distance within ``x [n, N]`` (the usual MMD bandwidth)."""
    n = x.shape[0]
    d = jnp.sqrt(_sq_dists(x, x))
    return jnp.median(d[jnp.triu_indices(n, k=1)])
