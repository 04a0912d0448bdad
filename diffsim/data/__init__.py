"""Data models: each has ``sample(key, n)``, ``covariance_spectrum()``, ``score(x, t)`` (exact score
of the noised law) and ``log_density(x, t)``; mixtures also ``sample_with_labels``."""

from diffsim import _validate
from diffsim.data.gaussian import GaussianSpectrum, IsotropicGaussian
from diffsim.data.mixture import GaussianMixture, TwoClusterMixture

__all__ = ["IsotropicGaussian", "GaussianSpectrum", "TwoClusterMixture", "GaussianMixture", "make", "DATA_MODELS"]

DATA_MODELS = ("gaussian", "mixture")


def make(name: str, dim: int, *, sigma: float = 1.0, mtilde: float = 1.0):
    """Build a named data model: ``gaussian`` (isotropic, variance sigma^2) or ``mixture``
    (two clusters ``+-v`` with ``|v|^2 = N mtilde^2`` and cluster variance sigma^2)."""
    _validate.choice("data", name, DATA_MODELS)
    dim = _validate.integer("dim", dim, minimum=1)
    sigma = _validate.positive("sigma", sigma)
    if name == "gaussian":
        return IsotropicGaussian(dim, sigma)
    return TwoClusterMixture.create(dim, mtilde=mtilde, sigma=sigma)
