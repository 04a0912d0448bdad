"""The edges of the public API: jit of drift objects, single queries, input dtypes and checks.

Each check raises :class:`~diffsim.ConfigError` naming the parameter; value checks run when the
values are concrete and are skipped (never break tracing, cost no host sync) inside ``jax.jit``.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim import ConfigError, data
from diffsim.sample import sample
from diffsim.score import EmpiricalScore, TrainingSet, empirical_score, nearest_two, posterior
from diffsim.score.sharded import ShardedEmpiricalScore, make_mesh

P, N, B = 300, 6, 5


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(P, N)).astype(np.float32)
    x = rng.normal(size=(B, N)).astype(np.float32)
    return a, TrainingSet.from_points(a, chunk_size=128), jnp.asarray(x)


# ------------------------------------------------------------------ jit of drift objects


def test_drift_objects_can_be_jitted(problem):
    a, train, x = problem
    t = jnp.full((B,), 0.3)
    score, stats = jax.jit(EmpiricalScore(train))(x, t)
    ref_score, ref_stats = EmpiricalScore(train)(x, t)
    np.testing.assert_allclose(score, ref_score, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(stats["argmax"], ref_stats["argmax"])
    sharded = ShardedEmpiricalScore.from_points(a, make_mesh(), chunk_size=128)
    sharded_score, sharded_stats = jax.jit(sharded)(x[2], 0.3)  # also one [N] query
    np.testing.assert_allclose(sharded_score, ref_score[2], rtol=1e-5, atol=1e-5)
    assert sharded_stats["y2"].shape == ()
    models = [data.make(name, N) for name in data.DATA_MODELS]
    models += [data.GaussianSpectrum.create(jnp.linspace(0.5, 2.0, N)), data.GaussianMixture.create(a[:3])]
    for model in models:
        assert jax.jit(model.score)(x, t).shape == (B, N), type(model).__name__


# ------------------------------------------------------------------ one query of shape [N]


def test_a_single_query_gives_unbatched_results(problem):
    a, train, x = problem
    batched = posterior(x, 0.3, train)
    one = posterior(x[2], 0.3, train)
    assert one.denoised.shape == (N,) and one.log_norm.shape == () and one.argmax.shape == ()
    for field in batched._fields:
        np.testing.assert_allclose(getattr(one, field), getattr(batched, field)[2], rtol=1e-6, atol=1e-6)
    score, stats = EmpiricalScore(train)(x[2], 0.3)
    assert score.shape == (N,) and all(v.shape == () for v in stats.values())
    np.testing.assert_allclose(empirical_score(x[2], 0.3, train), score, rtol=1e-6)
    score_jit, _ = jax.jit(EmpiricalScore(train))(x[2], jnp.asarray([0.3]))
    np.testing.assert_allclose(score_jit, score, rtol=1e-5, atol=1e-6)
    assert all(v.shape == () for v in nearest_two(x[2], train))
    with pytest.raises(ConfigError, match=r"t has shape \(5,\): expected a scalar"):
        posterior(x[2], jnp.full((B,), 0.3), train)


# ------------------------------------------------------------------ input dtypes and values


def test_float64_numpy_input_converts_to_the_default_float_without_warnings():
    rng = np.random.default_rng(1)
    points, x = rng.normal(size=(P, N)), rng.normal(size=(B, N))  # float64, x64 disabled
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = TrainingSet.from_points(points, chunk_size=128)
        post = posterior(x, np.float64(0.5), train)
        EmpiricalScore(train)(x, np.full(B, 0.5))
        assert TrainingSet.from_points(np.arange(8).reshape(4, 2)).chunks.dtype == jnp.float32  # integers
    assert [str(w.message) for w in caught] == []
    assert train.chunks.dtype == jnp.float32 and post.denoised.dtype == jnp.float32


def test_non_finite_training_points_are_refused():
    points = np.random.default_rng(2).normal(size=(20, 3))
    points[[4, 7], 1] = [np.nan, np.inf]
    with pytest.raises(ConfigError, match="points has 2 of 20 rows with non-finite values"):
        TrainingSet.from_points(points)


@pytest.mark.parametrize("t", [0.0, -0.5, float("nan"), float("inf"), np.array([0.3, 0.3, 0.0, 0.3, 0.3])])
def test_times_outside_the_open_half_line_are_refused(problem, t):
    _, train, x = problem
    for call in (lambda: posterior(x, t, train), lambda: EmpiricalScore(train)(x, t),
                 lambda: empirical_score(x, jnp.asarray(t), train)):
        with pytest.raises(ConfigError, match=r"^t=.* is out of range: expected finite times > 0"):
            call()


def test_query_shapes_are_checked_also_while_tracing(problem):
    _, train, x = problem
    for bad in (x[:, :4], x[None], jnp.float32(1.0)):
        with pytest.raises(ConfigError, match=r"^x has shape .*N=6, the training set's dimension"):
            posterior(bad, 0.3, train)
        with pytest.raises(ConfigError, match=r"^x has shape"):
            jax.jit(EmpiricalScore(train))(bad, 0.3)
    with pytest.raises(ConfigError, match=r"^t has shape \(3,\): expected a scalar or \[B\] times with B=5"):
        jax.jit(lambda x, t: posterior(x, t, train))(x, jnp.ones(3))


def test_value_checks_are_skipped_inside_jit_and_add_nothing_to_the_trace(problem):
    """Inside jit the times are tracers: not checked (a bad t gives what the maths gives, as
    before), and the traced drift holds no host callback (the sampler's hot path)."""
    _, train, x = problem
    drift = EmpiricalScore(train)
    assert not np.isfinite(np.asarray(jax.jit(drift)(x, jnp.zeros(B))[0])).all()
    jaxpr = str(jax.make_jaxpr(drift)(x, jnp.full((B,), 0.3)))
    assert "callback" not in jaxpr and "debug" not in jaxpr


# ------------------------------------------------------------------ sampler time grids


def _drift(x, t):
    return -x


@pytest.mark.parametrize("times, match", [
    ([0.1, 0.5, 1.0], r"times\[0\]=0.1 then times\[1\]=0.5 is out of range: expected strictly decreasing"),
    ([1.0, 0.5, 0.5], r"times\[1\]=0.5 then times\[2\]=0.5 is out of range"),
    ([1.0, float("nan"), 0.1], r"times\[1\]=nan is out of range: expected finite times > 0"),
    ([1.0, 0.5, 0.0], r"times\[2\]=0.0 is out of range: expected finite times > 0"),
    ([[1.0, 1.0], [0.5, 1.2], [0.1, 0.1]], r"times\[0\]=1.0 then times\[1\]=1.2 \(trajectory 1\)"),
    (np.ones((3, 4)), r"times has shape \(3, 4\): expected .* B=2, the number of rows of x_init"),
    (np.ones((3, 2, 1)), r"times has shape \(3, 2, 1\)"),
])
def test_sample_refuses_bad_time_grids(times, match):
    with pytest.raises(ConfigError, match=match):
        sample(jax.random.PRNGKey(0), _drift, jnp.zeros((2, 3)), times)


def test_sample_refuses_a_single_initial_state():
    with pytest.raises(ConfigError, match=r"x_init has shape \(3,\): expected \[B, N\] initial states"):
        sample(jax.random.PRNGKey(0), _drift, jnp.zeros(3), [1.0, 0.5])
