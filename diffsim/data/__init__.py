"""Data models: each has ``sample(key, n)``, ``covariance_spectrum()``, ``score(x, t)`` (exact score
of the noised law) and ``log_density(x, t)``; mixtures also ``sample_with_labels``."""

import math
from typing import Literal

import jax
import jax.numpy as jnp

from diffsim import _validate
from diffsim.data.conditional import ClassConditionalSet, ClassManifold, ClassMixture, make_conditional
from diffsim.data.gaussian import GaussianSpectrum, IsotropicGaussian
from diffsim.data.hmm import NONLINEARITIES, HiddenManifold, SpikedGaussian
from diffsim.data.mixture import GaussianMixture, TwoClusterMixture
from diffsim.theory.hmm import Nonlinearity

__all__ = [
    "IsotropicGaussian", "GaussianSpectrum", "TwoClusterMixture", "GaussianMixture", "HiddenManifold",
    "SpikedGaussian", "NONLINEARITIES", "make", "make_conditional", "ClassConditionalSet", "ClassMixture",
    "ClassManifold", "DATA_MODELS", "DataName", "Nonlinearity", "points_at_load",
    "has_exact_score",
]

DataName = Literal["gaussian", "mixture", "hmm"]
DATA_MODELS: tuple[DataName, ...] = ("gaussian", "mixture", "hmm")


def points_at_load(alpha: float, dim: int) -> int:
    """Training-set size at load ``alpha = log(P) / N``: ``P = round(exp(alpha N))`` (THEORY.md notation)."""
    return round(math.exp(alpha * dim))


def make(name: DataName, dim: int, *, sigma: float = 1.0, mtilde: float = 1.0, alpha_d: float = 0.5,
         nonlinearity: str = "linear", key=None):
    """Build a named data model: ``gaussian`` (isotropic, variance sigma^2), ``mixture``
    (two clusters ``+-v`` with ``|v|^2 = N mtilde^2`` and cluster variance sigma^2) or ``hmm``
    (hidden manifold ``phi(F z / sqrt(D))``, ``D = round(alpha_d N)``, unit variance per coordinate,
    ``F`` drawn from ``key``, default ``PRNGKey(0)``; sigma and mtilde are ignored)."""
    _validate.choice("data", name, DATA_MODELS)
    dim = _validate.integer("dim", dim, minimum=1)
    sigma = _validate.positive("sigma", sigma)
    if name == "gaussian":
        return IsotropicGaussian(dim, sigma)
    if name == "hmm":
        key = jax.random.PRNGKey(0) if key is None else key
        return HiddenManifold.create(key, dim, alpha_d=alpha_d, nonlinearity=nonlinearity)
    return TwoClusterMixture.create(dim, mtilde=mtilde, sigma=sigma)


def has_exact_score(model, dim: int) -> bool:
    """Whether ``model`` has a closed-form score ``model.score(x [B, dim], t)`` (traced abstractly,
    nothing is computed): False when it has no ``score`` or its score refuses that shape."""
    try:
        jax.eval_shape(model.score, jax.ShapeDtypeStruct((1, dim), jnp.float32), 1.0)
    except (_validate.ConfigError, NotImplementedError, AttributeError, TypeError):
        return False
    return True
