"""Geometric picture of memorization (THEORY.md section 8): streamed W and C, exact coverage theory,
regime boundaries and their finite-size trends, window swaps."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim import data
from diffsim.measure.geometry import level_crossing, measure_geometry, posterior_concentration, shell_counts, shell_radii
from diffsim.score import TrainingSet


def _dense_max_weight(y, sigma, points):
    """``max_i softmax(-|y - a_i|^2 / (2 sigma^2))`` from the full [B, P] distances, float64 NumPy."""
    y, points = np.asarray(y, np.float64), np.asarray(points, np.float64)
    d2 = np.sum((y[:, None, :] - points[None, :, :]) ** 2, -1)
    logits = -d2 / (2.0 * np.asarray(sigma, np.float64)[:, None] ** 2)
    logits -= logits.max(1, keepdims=True)
    w = np.exp(logits)
    return (w / w.sum(1, keepdims=True)).max(1)


def _dense_counts(y, sigma, points, r_in, r_out):
    y, points = np.asarray(y, np.float64), np.asarray(points, np.float64)
    d = np.sqrt(np.sum((y[:, None, :] - points[None, :, :]) ** 2, -1))
    s = np.asarray(sigma, np.float64)[:, None]
    return np.sum((d >= s * r_in) & (d <= s * r_out), 1)


def test_streamed_concentration_and_coverage_equal_dense(x64):
    """Streamed C and W (several chunks, padded last chunk) equal a dense float64 computation on
    the same queries: coverage indicators exactly, max weights to float64 rounding."""
    n, p = 6, 203
    key = jax.random.PRNGKey(3)
    model = data.make("gaussian", n)
    points = model.sample(jax.random.fold_in(key, 0), p)
    train = TrainingSet.from_points(points, chunk_size=32)
    assert train.chunks.dtype == jnp.float64 and train.chunks.shape[0] * 32 > p
    r_in, r_out = shell_radii(n, 1.0)  # c = 1: a thin shell, so counts vary across queries
    sigmas = jnp.repeat(jnp.array([0.2, 0.5, 0.8, 1.2, 2.0]), 40)
    y_train = points[jax.random.randint(jax.random.fold_in(key, 1), sigmas.shape, 0, p)] + sigmas[:, None] * jax.random.normal(jax.random.fold_in(key, 2), (sigmas.size, n))
    held = model.sample(jax.random.fold_in(key, 4), sigmas.size)
    y_held = held + sigmas[:, None] * jax.random.normal(jax.random.fold_in(key, 5), (sigmas.size, n))

    w = np.asarray(posterior_concentration(y_train, sigmas, train))
    np.testing.assert_allclose(w, _dense_max_weight(y_train, sigmas, points), rtol=1e-10, atol=1e-12)
    counts = np.asarray(shell_counts(y_held, sigmas, train, r_in, r_out))
    dense = _dense_counts(y_held, sigmas, points, r_in, r_out)
    np.testing.assert_array_equal(counts, dense)
    assert 0 < np.mean(dense > 0) < 1 and len(np.unique(dense)) > 3  # the comparison is not trivial

    # measure_geometry reduces exactly these per-query values.
    sig = np.array([0.3, 0.8, 1.5])
    res = measure_geometry(jax.random.PRNGKey(0), train, held_out=held[:50], sigmas=sig, n_queries=40, shell_c=1.0, block=16, n_boot=20)
    assert res.covered.shape == (3, 50) and res.max_weight.shape == (3, 40)
    np.testing.assert_allclose(res.c, res.covered.mean(1))
    np.testing.assert_allclose(res.w, res.max_weight.mean(1))


def test_level_crossing_interpolates_in_log_sigma():
    s = np.array([0.5, 1.0, 2.0, 4.0])
    assert level_crossing(s, [0.0, 0.2, 0.8, 1.0]) == pytest.approx(math.sqrt(2.0))
    assert level_crossing(s, [1.0, 0.9, 0.1, 0.0]) == pytest.approx(math.sqrt(2.0))
    assert math.isnan(level_crossing(s, [0.0, 0.1, 0.2, 0.3]))
