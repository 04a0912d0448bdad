import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim import ConfigError, data

KEY = jax.random.PRNGKey(3)


def _models():
    n = 6
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return [
        data.IsotropicGaussian(n, 1.7),
        data.GaussianSpectrum.create(np.array([3.0, 2.0, 1.0, 0.5, 0.1, 0.0]), basis),
        data.TwoClusterMixture.create(n, mtilde=0.8, sigma=0.6),
        data.GaussianMixture.create(rng.normal(size=(3, n)), sigmas=[0.5, 1.0, 0.7], weights=[0.2, 0.5, 0.3]),
    ]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("t", [1e-3, 0.3, 2.0])
def test_exact_score_is_gradient_of_exact_log_density(x64, model, t):
    x = 1.5 * jax.random.normal(KEY, (5, model.dim), jnp.float64)
    grad = jax.grad(lambda y: jnp.sum(model.log_density(y, t)))(x)
    np.testing.assert_allclose(model.score(x, t), grad, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_noised_log_density_is_normalised_along_a_line(x64, model):
    """At large t the noised law is close to N(0, I); check normalisation via importance sampling."""
    z = jax.random.normal(KEY, (200_000, model.dim), jnp.float64)
    log_q = -0.5 * jnp.sum(z * z, -1) - 0.5 * model.dim * jnp.log(2 * jnp.pi)
    ratio = jnp.exp(model.log_density(z, 1.5) - log_q)
    assert abs(float(jnp.mean(ratio)) - 1.0) < 5 * float(jnp.std(ratio)) / np.sqrt(z.shape[0]) + 1e-3


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_sample_covariance_matches_spectrum(x64, model):
    pts = np.asarray(model.sample(KEY, 100_000))
    emp = np.sort(np.linalg.eigvalsh(np.cov(pts.T)))[::-1]
    np.testing.assert_allclose(emp, model.covariance_spectrum(), atol=0.05 * max(1.0, model.covariance_spectrum()[0]))


def test_two_cluster_spectrum_and_labels(x64):
    model = data.TwoClusterMixture.create(50, mtilde=1.0, sigma=1.0)
    spec = model.covariance_spectrum()
    assert spec[0] == pytest.approx(51.0) and np.allclose(spec[1:], 1.0)
    pts, labels = model.sample_with_labels(KEY, 4000)
    assert float(jnp.mean(model.label_of(pts) == labels)) > 0.999
    assert 0.45 < float(jnp.mean(labels)) < 0.55


def test_make_and_bad_input():
    assert isinstance(data.make("gaussian", 4), data.IsotropicGaussian)
    assert isinstance(data.make("mixture", 4), data.TwoClusterMixture)
    with pytest.raises(ConfigError, match="data='cifar'"):
        data.make("cifar", 4)
    with pytest.raises(ConfigError, match="dim"):
        data.make("gaussian", 0)
    with pytest.raises(ConfigError, match="sigma"):
        data.make("gaussian", 3, sigma=float("nan"))
    with pytest.raises(ConfigError, match="eigenvalues"):
        data.GaussianSpectrum.create([1.0, -2.0])


def test_has_exact_score():
    """True for the closed-form models at their dimension; False without a score, for the nonlinear
    hidden manifold and for a score refusing the shape."""
    assert data.has_exact_score(data.IsotropicGaussian(4), 4)
    assert data.has_exact_score(data.make("mixture", 4), 4)
    assert data.has_exact_score(data.make("hmm", 6), 6)
    assert not data.has_exact_score(data.make("hmm", 6, nonlinearity="tanh"), 6)
    assert not data.has_exact_score(data.GaussianSpectrum.create(np.ones(3)), 5)  # [1, 5] @ [3, 3]: TypeError
    assert not data.has_exact_score(object(), 4)
