import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim import ConfigError
from diffsim.score import (
    EmpiricalScore,
    TrainingSet,
    empirical_log_density,
    empirical_score,
    nearest_two,
    posterior,
    posterior_dense,
)

TIMES = [1e-4, 1e-2, 0.5, 3.0, 20.0]


def _problem(p=1000, n=12, b=9, scale=1.0, dtype=jnp.float64):
    a = jax.random.normal(jax.random.PRNGKey(0), (p, n), dtype)
    x = scale * jax.random.normal(jax.random.PRNGKey(1), (b, n), dtype)
    # some queries sit on top of training points (the small-t regime that matters)
    x = x.at[:3].set(a[:3] * jnp.exp(-0.01) + 0.01 * x[:3])
    return a, x


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("chunk", [64, 333, 4096])
def test_streamed_equals_dense(x64, t, chunk):
    a, x = _problem()  # P = 1000 is not a multiple of 64 or 333
    streamed = posterior(x, t, TrainingSet.from_points(a, chunk_size=chunk))
    dense = posterior_dense(x, t, a)
    for name, s, d in zip(streamed._fields, streamed, dense):
        if name == "argmax":
            np.testing.assert_array_equal(s, d)
        else:
            np.testing.assert_allclose(s, d, rtol=1e-10, atol=1e-10 * max(1.0, float(jnp.max(jnp.abs(d)))), err_msg=name)


def test_far_queries_stay_finite(x64):
    a, x = _problem(scale=1e3)
    for t in TIMES:
        post = posterior(x, t, TrainingSet.from_points(a, chunk_size=128))
        for field in post:
            assert bool(jnp.all(jnp.isfinite(field)))
        np.testing.assert_allclose(post.max_weight, posterior_dense(x, t, a).max_weight, rtol=1e-9)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_padded_points_get_no_weight_even_where_m_squared_underflows(x64, dtype):
    """At t = 60, m_t^2 = e^-120 underflows in fp32: padded points must still get weight exactly 0
    (not NaN from 0 * inf), and the posterior is the uniform average of the real points."""
    a = jax.random.normal(jax.random.PRNGKey(3), (5, 3), dtype)
    train = TrainingSet.from_points(a, chunk_size=4)  # 3 padded slots in the second chunk
    x = jax.random.normal(jax.random.PRNGKey(4), (2, 3), dtype)
    for t in (0.5, 60.0):
        post = posterior(x, t, train)
        dense = posterior_dense(x, t, a)
        assert all(bool(jnp.all(jnp.isfinite(f))) for f in post)
        tol = 1e-5 if dtype == jnp.float32 else 1e-12
        np.testing.assert_allclose(post.denoised, dense.denoised, rtol=tol, atol=tol)
        np.testing.assert_allclose(post.entropy, dense.entropy, rtol=tol, atol=tol)
    np.testing.assert_allclose(post.denoised, jnp.broadcast_to(a.mean(axis=0), x.shape), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(post.entropy, np.log(5.0), rtol=1e-5)


def test_statistics_are_consistent(x64):
    a, x = _problem()
    post = posterior(x, 0.3, TrainingSet.from_points(a, chunk_size=100))
    assert bool(jnp.all((post.y2 <= post.max_weight + 1e-12) & (post.y2 >= post.max_weight**2 - 1e-12)))
    assert bool(jnp.all(post.entropy >= -1e-12)) and bool(jnp.all(post.entropy <= np.log(1000) + 1e-9))


def test_score_is_gradient_of_log_density(x64):
    a, x = _problem(p=300)
    train = TrainingSet.from_points(a, chunk_size=64)
    for t in [0.05, 0.7]:
        grad = jax.grad(lambda y: jnp.sum(empirical_log_density(y, t, train)))(x)
        np.testing.assert_allclose(empirical_score(x, t, train), grad, rtol=1e-8, atol=1e-8)


def test_log_density_normalised_in_one_dimension(x64):
    a = jnp.array([[-1.0], [0.5], [2.0]])
    grid = jnp.linspace(-12, 12, 20001)[:, None]
    dens = jnp.exp(empirical_log_density(grid, 0.4, TrainingSet.from_points(a)))
    np.testing.assert_allclose(jnp.trapezoid(dens, grid[:, 0]), 1.0, rtol=1e-8)


def test_per_query_times_match_scalar_times(x64):
    a, x = _problem()
    train = TrainingSet.from_points(a, chunk_size=128)
    t = jnp.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    post = jax.jit(posterior)
    batched = post(x, t, train).denoised
    single = jnp.stack([post(x[i : i + 1], t[i], train).denoised[0] for i in range(9)])
    np.testing.assert_allclose(batched, single, rtol=1e-12)


def test_fp32_matches_fp64_at_moderate_time(x64):
    a, x = _problem()
    ref = posterior(x, 0.5, TrainingSet.from_points(a, chunk_size=128))
    low = posterior(x.astype(jnp.float32), 0.5, TrainingSet.from_points(a.astype(jnp.float32), chunk_size=128))
    assert low.denoised.dtype == jnp.float32
    np.testing.assert_allclose(low.denoised, ref.denoised, atol=2e-4)
    np.testing.assert_allclose(low.log_norm, ref.log_norm, rtol=1e-5)


def test_no_recompilation_when_time_or_data_change():
    a, x = _problem(dtype=jnp.float32)
    train = TrainingSet.from_points(a, chunk_size=128)
    fn = jax.jit(lambda tr, y, t: EmpiricalScore(tr)(y, t)[0])
    fn(train, x, 0.3)
    other = TrainingSet.from_points(a * 2.0, chunk_size=128)
    fn(other, x + 1.0, 0.7)
    assert fn._cache_size() == 1


def test_nearest_two_matches_brute_force(x64):
    a, x = _problem(p=777)
    d1, d2, idx = nearest_two(x, TrainingSet.from_points(a, chunk_size=100))
    dist = np.linalg.norm(np.asarray(x)[:, None] - np.asarray(a)[None], axis=-1)
    order = np.sort(dist, axis=1)
    np.testing.assert_allclose(d1, order[:, 0], rtol=1e-8)
    np.testing.assert_allclose(d2, order[:, 1], rtol=1e-8)
    np.testing.assert_array_equal(idx, np.argmin(dist, axis=1))


def test_bad_training_sets_are_rejected():
    with pytest.raises(ConfigError, match="P"):
        TrainingSet.from_points(jnp.ones((1, 3)))
    with pytest.raises(ConfigError, match="points"):
        TrainingSet.from_points(jnp.ones((3,)))
    with pytest.raises(ConfigError, match="chunk_size"):
        TrainingSet.from_points(jnp.ones((3, 2)), chunk_size=0)
