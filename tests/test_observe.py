import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim.observe import (
    bootstrap,
    clone_agreement,
    condensation_time,
    crossing_time,
    extrapolate_inverse_n,
    freezing_times,
    memorization_fraction,
    memorized,
)
from diffsim.score import TrainingSet


def test_crossing_time_interpolates_linearly():
    times = jnp.array([2.0, 1.5, 1.0, 0.5])
    curve = jnp.array([0.0, 0.2, 0.8, 1.0])
    assert float(crossing_time(times, curve, 0.5)) == pytest.approx(1.25)
    assert np.isnan(float(crossing_time(times, curve, 1.5)))
    assert float(crossing_time(times, curve, -1.0)) == 2.0


def test_condensation_time_of_a_known_step():
    times = jnp.linspace(2.0, 0.0, 201)
    # trajectory i condenses (max weight -> 0.9) when t < tau_i, tau uniform in [0.5, 1.5]
    tau = jnp.linspace(0.5, 1.5, 1001)
    max_w = jnp.where(times[:, None] < tau[None, :], 0.9, 0.1)
    assert float(condensation_time(times, max_w)) == pytest.approx(1.0, abs=0.011)


def test_freezing_times():
    times = jnp.array([4.0, 3.0, 2.0, 1.0])
    argmax = jnp.array([[0, 5, 7], [1, 5, 7], [2, 5, 8], [2, 5, 8]])
    np.testing.assert_allclose(freezing_times(times, argmax), [2.5, 4.0, 2.5])


def test_clone_agreement():
    labels = jnp.array([[[1, 2], [1, 3]], [[4, 4], [4, 4]]])  # [K=2, clones=2, B=2]
    np.testing.assert_array_equal(clone_agreement(labels), [[True, False], [True, True]])


def test_bootstrap_stderr_of_mean_matches_formula():
    x = jax.random.normal(jax.random.PRNGKey(0), (4000,))
    value, err = bootstrap(jax.random.PRNGKey(1), jnp.mean, x, axis=0, n_boot=400)
    assert value == pytest.approx(float(jnp.mean(x)))
    assert err == pytest.approx(float(jnp.std(x)) / np.sqrt(4000), rel=0.15)


def test_extrapolation_recovers_a_plus_b_over_n():
    dims = np.array([10.0, 20.0, 40.0, 80.0])
    a, err, b = extrapolate_inverse_n(dims, 0.5 + 3.0 / dims, np.full(4, 0.01))
    assert a == pytest.approx(0.5, abs=1e-10) and b == pytest.approx(3.0, abs=1e-8)
    assert 0 < err < 0.02
    # noisy data: the intercept error grows with the scatter
    rng = np.random.default_rng(0)
    noisy = 0.5 + 3.0 / dims + rng.normal(scale=0.05, size=4)
    a2, err2, _ = extrapolate_inverse_n(dims, noisy, np.full(4, 0.01))
    assert err2 > err


def test_memorization_fraction_one_third_criterion():
    pts = jax.random.normal(jax.random.PRNGKey(0), (500, 10))
    train = TrainingSet.from_points(pts, chunk_size=64)
    copies = pts[:100] + 0.01 * jax.random.normal(jax.random.PRNGKey(1), (100, 10))
    fresh = jax.random.normal(jax.random.PRNGKey(2), (100, 10))
    assert float(memorization_fraction(copies, train)) == 1.0
    assert float(memorization_fraction(fresh, train)) < 0.05
    midway = 0.5 * (pts[:50] + pts[50:100])  # equidistant from two points: never memorized
    assert not bool(jnp.any(memorized(midway, train)))
