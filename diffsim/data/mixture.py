"""Gaussian mixtures with exact noised scores (THEORY.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim.process import delta, m
from diffsim.process import time_column

__all__ = ["TwoClusterMixture", "GaussianMixture"]


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class TwoClusterMixture:
    """Biroli et al.: ``a = s v + sigma g`` with ``s = +-1`` equiprobable, ``|v|^2 = N mtilde^2``.

    Exact score ``s = (tanh(m_t v.x / Gamma_t) m_t v - x) / Gamma_t``, ``Gamma_t = Delta_t + sigma^2 m_t^2``.
    """

    v: jax.Array
    sigma: float

    @classmethod
    def create(cls, dim: int, mtilde: float = 1.0, sigma: float = 1.0) -> "TwoClusterMixture":
        """``v = mtilde * (1, ..., 1)``, so ``|v|^2 = N mtilde^2``."""
        dim = _validate.integer("dim", dim, minimum=1)
        mtilde = _validate.positive("mtilde", mtilde)
        sigma = _validate.positive("sigma", sigma)
        return cls(jnp.full((dim,), mtilde), sigma)

    @property
    def dim(self) -> int:
        return self.v.shape[0]

    def sample_with_labels(self, key, n: int):
        """``([n, N]`` points, ``[n]`` labels in {0, 1}); label 1 is the ``+v`` cluster."""
        k_label, k_noise = jax.random.split(key)
        labels = jax.random.bernoulli(k_label, 0.5, (n,)).astype(jnp.int32)
        signs = 2.0 * labels - 1.0
        return signs[:, None] * self.v + self.sigma * jax.random.normal(k_noise, (n, self.dim)), labels

    def sample(self, key, n: int):
        return self.sample_with_labels(key, n)[0]

    def covariance_spectrum(self) -> np.ndarray:
        """``|v|^2 + sigma^2`` once, then ``sigma^2`` (N - 1 times)."""
        s2 = float(self.sigma) ** 2
        return np.concatenate([[float(jnp.sum(self.v**2)) + s2], np.full(self.dim - 1, s2)])

    def label_of(self, x):
        """Cluster of a point: 1 if ``v.x > 0`` else 0, ``[B]``."""
        return (x @ self.v > 0).astype(jnp.int32)

    def gamma(self, t):
        return delta(t) + self.sigma**2 * m(t) ** 2

    def score(self, x, t):
        tt = time_column(x, t)
        g, mt = self.gamma(tt), m(tt)
        proj = (x @ self.v)[:, None]
        return (jnp.tanh(mt * proj / g) * mt * self.v[None, :] - x) / g

    def log_density(self, x, t):
        tt = time_column(x, t)
        g, mt = self.gamma(tt)[:, 0], m(tt)[:, 0]
        proj = x @ self.v
        vv = jnp.sum(self.v**2)
        base = -0.5 * (jnp.sum(x * x, -1) + mt**2 * vv) / g - 0.5 * self.dim * jnp.log(2 * jnp.pi * g)
        return base + jnp.logaddexp(mt * proj / g, -mt * proj / g) - jnp.log(2.0)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """K isotropic components: ``sum_k w_k N(mu_k, sigma_k^2 I)``; labels are component indices.

    Noised law: ``sum_k w_k N(m_t mu_k, Gamma_k I)``, ``Gamma_k = Delta_t + sigma_k^2 m_t^2``; the exact
    score is the responsibility-weighted sum of the component scores (softmax over components).
    """

    means: jax.Array
    sigmas: jax.Array
    weights: jax.Array

    @classmethod
    def create(cls, means, sigmas=1.0, weights=None) -> "GaussianMixture":
        mu = jnp.asarray(means, dtype=float)
        if mu.ndim != 2 or mu.shape[0] < 1:
            raise _validate.ConfigError(f"means has shape {mu.shape}: expected [K, N] with K >= 1")
        k = mu.shape[0]
        sig = jnp.broadcast_to(jnp.asarray(sigmas, dtype=float), (k,))
        if not bool(jnp.all(sig > 0)):
            raise _validate.ConfigError(f"sigmas={sigmas!r} is out of range: expected values > 0")
        w = jnp.full((k,), 1.0 / k) if weights is None else jnp.asarray(weights, dtype=float)
        if w.shape != (k,) or not bool(jnp.all(w > 0)):
            raise _validate.ConfigError(f"weights={weights!r} is out of range: expected {k} positive values")
        return cls(mu, sig, w / jnp.sum(w))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample_with_labels(self, key, n: int):
        k_label, k_noise = jax.random.split(key)
        labels = jax.random.categorical(k_label, jnp.log(self.weights), shape=(n,)).astype(jnp.int32)
        noise = jax.random.normal(k_noise, (n, self.dim))
        return self.means[labels] + self.sigmas[labels][:, None] * noise, labels

    def sample(self, key, n: int):
        return self.sample_with_labels(key, n)[0]

    def covariance_spectrum(self) -> np.ndarray:
        mu, w, s2 = (np.asarray(a, dtype=float) for a in (self.means, self.weights, self.sigmas**2))
        mean = w @ mu
        cov = (mu - mean).T @ ((mu - mean) * w[:, None]) + np.eye(self.dim) * (w @ s2)
        return np.sort(np.linalg.eigvalsh(cov))[::-1]

    def _component_logits(self, x, t):
        tt = time_column(x, t)
        mt = m(tt)
        g = delta(tt) + self.sigmas[None, :] ** 2 * mt**2  # [B, K]
        sq = jnp.sum((x[:, None, :] - mt[:, :, None] * self.means[None]) ** 2, axis=-1)
        logits = jnp.log(self.weights)[None] - 0.5 * sq / g - 0.5 * self.dim * jnp.log(2 * jnp.pi * g)
        return logits, g, mt

    def responsibilities(self, x, t):
        """Posterior over components, ``[B, K]``."""
        return jax.nn.softmax(self._component_logits(x, t)[0], axis=-1)

    def score(self, x, t):
        logits, g, mt = self._component_logits(x, t)
        r = jax.nn.softmax(logits, axis=-1)
        comp = (mt[:, :, None] * self.means[None] - x[:, None, :]) / g[:, :, None]
        return jnp.sum(r[:, :, None] * comp, axis=1)

    def log_density(self, x, t):
        return jax.scipy.special.logsumexp(self._component_logits(x, t)[0], axis=-1)
