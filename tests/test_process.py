import numpy as np
import pytest

from diffsim import ConfigError, process


def test_clock_conversions_round_trip(x64):
    t = np.array([1e-4, 0.01, 0.3, 1.0, 5.0, 20.0])
    np.testing.assert_allclose(process.t_from_sigma(process.sigma_from_t(t)), t, rtol=1e-12)
    np.testing.assert_allclose(process.t_from_alpha_bar(process.alpha_bar_from_t(t)), t, rtol=1e-12)
    np.testing.assert_allclose(process.t_from_separations_time(process.separations_time_from_t(t)), t)
    # x_t = m x0 + sqrt(Delta) xi  <=>  x_t / m = x0 + sigma xi
    np.testing.assert_allclose(process.delta(t) / process.m(t) ** 2, process.sigma_from_t(t) ** 2, rtol=1e-12)
    np.testing.assert_allclose(process.alpha_bar_from_t(t), process.m(t) ** 2, rtol=1e-12)
    # Delta is accurate at small t (no cancellation): Delta ~ 2t - 2t^2
    np.testing.assert_allclose(process.delta(1e-9), 2e-9 - 2e-18, rtol=1e-9)


@pytest.mark.parametrize("kind", process.GRID_KINDS)
def test_time_grid_is_decreasing_with_exact_endpoints(kind):
    g = process.time_grid(5.0, 1e-3, 100, kind)
    assert g.shape == (101,)
    assert g[0] == 5.0 and g[-1] == 1e-3
    assert np.all(np.diff(g) < 0)


def test_log_grid_keeps_relative_step_constant():
    g = process.time_grid(5.0, 1e-3, 200, "log")
    ratios = g[1:] / g[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-10)


@pytest.mark.parametrize(
    "args, name",
    [((5.0, 0.0, 10), "t_min"), ((-1.0, 0.1, 10), "t_max"), ((1.0, 2.0, 10), "t_min"), ((1.0, 0.1, 0), "n_steps")],
)
def test_time_grid_rejects_bad_input(args, name):
    with pytest.raises(ConfigError, match=name):
        process.time_grid(*args)
    with pytest.raises(ConfigError, match="kind"):
        process.time_grid(1.0, 0.1, 10, "cubic")


def test_log_sigma_times_draw_log_sigma_uniformly_on_the_range():
    import jax
    from scipy import stats

    t_min, t_max = 1e-3, 5.0
    t = np.asarray(process.log_sigma_times(jax.random.PRNGKey(0), 100_000, t_min, t_max))
    assert t.dtype == np.float32 and t.shape == (100_000,)
    assert t.min() >= t_min * (1 - 1e-5) and t.max() <= t_max * (1 + 1e-5)
    lo, hi = np.log(process.sigma_from_t(np.array([t_min, t_max], np.float64)))
    u = (np.log(process.sigma_from_t(t.astype(np.float64))) - lo) / (hi - lo)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # the same draws per decade of sigma: t itself is far from uniform (most draws at small t)
    assert stats.kstest((t - t_min) / (t_max - t_min), "uniform").pvalue < 1e-12
    # shapes, dtypes and jit (the bounds are static floats)
    jitted = jax.jit(lambda k: process.log_sigma_times(k, (3, 4), t_min, t_max, np.float16))
    assert jitted(jax.random.PRNGKey(1)).shape == (3, 4) and jitted(jax.random.PRNGKey(1)).dtype == np.float16


def test_log_sigma_times_are_the_training_law_of_the_networks():
    """Bit for bit the log_sigma law of diffsim.nets.train.sample_times (one definition, to be called there)."""
    import jax

    from diffsim.nets.train import TrainConfig, sample_times

    key = jax.random.PRNGKey(3)
    config = TrainConfig(time_law="log_sigma", t_min=2e-3, t_max=4.0)
    np.testing.assert_array_equal(process.log_sigma_times(key, (64, 5), 2e-3, 4.0), sample_times(key, (64, 5), config))


def test_noise_prediction_and_denoised_invert_the_noising(x64):
    """For x = m_t a + sqrt(Delta_t) xi and the score of the point mass at a, s = -xi / sqrt(Delta_t):
    the noise prediction is xi and the denoiser a, for scalar and per-row times."""
    import jax

    a = np.array([[1.0, -2.0], [0.5, 3.0], [0.0, 1.0]])
    xi = np.asarray(jax.random.normal(jax.random.PRNGKey(0), a.shape, np.float64))
    for t in (0.3, np.array([0.01, 0.5, 4.0])):
        tt = np.broadcast_to(t, (3,))[:, None]
        x = process.m(tt) * a + np.sqrt(process.delta(tt)) * xi
        score = -xi / np.sqrt(process.delta(tt))
        np.testing.assert_allclose(process.noise_prediction(x, t, score), xi, rtol=1e-12)
        np.testing.assert_allclose(process.denoised(x, t, score), a, rtol=1e-9, atol=1e-12)
