import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim import ConfigError, data
from diffsim.process import delta, m, time_grid
from diffsim.sample import branch_and_continue, sample


def test_sde_with_exact_score_samples_the_data_law():
    model = data.GaussianSpectrum.create(np.array([4.0, 1.0, 0.25]))
    b = 20_000
    x = jax.random.normal(jax.random.PRNGKey(0), (b, 3))
    out = sample(jax.random.PRNGKey(1), model.score, x, time_grid(6.0, 1e-3, 400))
    var = np.var(np.asarray(out.final), axis=0)
    # sampling error of a variance: sqrt(2/B) relative (1%); discretisation adds O(h)
    np.testing.assert_allclose(var, [4.0, 1.0, 0.25], rtol=0.05)


def test_heun_ode_is_second_order(x64):
    """Probability flow for N(0, s^2 I) is x_t / sqrt(m^2 s^2 + Delta) = const."""
    s2 = 3.0
    model = data.IsotropicGaussian(2, np.sqrt(s2))
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 2), jnp.float64)
    t0, t1 = 2.0, 0.05
    exact = x * np.sqrt((m(t1) ** 2 * s2 + delta(t1)) / (m(t0) ** 2 * s2 + delta(t0)))
    errors = []
    for steps in (10, 20, 40):
        out = sample(jax.random.PRNGKey(1), model.score, x, time_grid(t0, t1, steps, "uniform"), method="ode")
        errors.append(float(jnp.max(jnp.abs(out.final - exact))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.8), (errors, orders)


def test_records_and_states_shapes_and_reproducibility():
    model = data.IsotropicGaussian(3)
    x = jax.random.normal(jax.random.PRNGKey(0), (7, 3))
    times = time_grid(3.0, 0.01, 12)
    a = sample(jax.random.PRNGKey(5), model.score, x, times, record_every=4, keep_states=True)
    b = sample(jax.random.PRNGKey(5), model.score, x, times, record_every=4, keep_states=True)
    assert a.states.shape == (4, 7, 3) and a.times.shape == (4,)
    np.testing.assert_allclose(a.times, times[[0, 4, 8, 12]], rtol=1e-6)
    np.testing.assert_array_equal(a.final, b.final)
    np.testing.assert_array_equal(a.states[0], x)
    np.testing.assert_array_equal(a.states[-1], a.final)


def test_per_trajectory_times_match_shared_times():
    model = data.IsotropicGaussian(3)
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    times = time_grid(3.0, 0.01, 10)
    shared = sample(jax.random.PRNGKey(2), model.score, x, times)
    per = sample(jax.random.PRNGKey(2), model.score, x, np.repeat(times[:, None], 5, axis=1))
    np.testing.assert_allclose(shared.final, per.final, rtol=1e-6, atol=1e-6)


def test_branch_and_continue_clones_share_their_start():
    model = data.IsotropicGaussian(2)
    states = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 2))
    out = branch_and_continue(jax.random.PRNGKey(1), model.score, states, np.array([1.0, 0.5, 0.2]), 0.01, n_steps=8)
    assert out.final.shape == (3 * 2 * 4, 2)
    assert out.times.shape == (2, 24)
    np.testing.assert_allclose(out.times[0].reshape(3, 2, 4)[:, 0, 0], [1.0, 0.5, 0.2], rtol=1e-6)
    finals = np.asarray(out.final).reshape(3, 2, 4, 2)
    assert not np.allclose(finals[:, 0], finals[:, 1])  # independent noise


def test_no_recompilation_for_new_data_values():
    from diffsim.sample import _run

    x = jax.random.normal(jax.random.PRNGKey(0), (4, 3))
    times = time_grid(2.0, 0.1, 6)
    sample(jax.random.PRNGKey(1), data.IsotropicGaussian(3, 1.0).score, x, times)
    before = _run._cache_size()
    sample(jax.random.PRNGKey(2), data.IsotropicGaussian(3, 2.0).score, x + 1, times * 0.9)
    assert _run._cache_size() == before


def test_bad_sampler_input():
    model = data.IsotropicGaussian(3)
    x = jnp.zeros((2, 3))
    with pytest.raises(ConfigError, match="method"):
        sample(jax.random.PRNGKey(0), model.score, x, time_grid(1.0, 0.1, 4), method="rk4")
    with pytest.raises(ConfigError, match="record_every"):
        sample(jax.random.PRNGKey(0), model.score, x, time_grid(1.0, 0.1, 4), record_every=3)
