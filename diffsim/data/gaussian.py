"""Gaussian data models with exact noised scores (THEORY.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim.process import delta, m
from diffsim.process import time_column

__all__ = ["IsotropicGaussian", "GaussianSpectrum"]


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class IsotropicGaussian:
    """``N(0, sigma^2 I_N)``; noised law ``N(0, (m_t^2 sigma^2 + Delta_t) I)``."""

    dim: int = field(metadata=dict(static=True))
    sigma: float = 1.0

    def __post_init__(self):
        _validate.integer("dim", self.dim, minimum=1)
        if not isinstance(self.sigma, jax.Array):
            _validate.positive("sigma", self.sigma)

    def sample(self, key, n: int):
        """``n`` iid points, ``[n, N]``."""
        return self.sigma * jax.random.normal(key, (n, self.dim))

    def covariance_spectrum(self) -> np.ndarray:
        """Eigenvalues of the covariance, ``[N]``, decreasing."""
        return np.full(self.dim, float(self.sigma) ** 2)

    def variance_at(self, t):
        return m(t) ** 2 * self.sigma**2 + delta(t)

    def score(self, x, t):
        """Exact score ``-x / (Delta_t + sigma^2 m_t^2)``; x ``[B, N]``, t scalar or ``[B]``."""
        return -x / self.variance_at(time_column(x, t))

    def log_density(self, x, t):
        """Exact ``log p_t(x)``, ``[B]``."""
        v = self.variance_at(time_column(x, t))[:, 0]
        return -0.5 * jnp.sum(x * x, axis=-1) / v - 0.5 * self.dim * jnp.log(2 * jnp.pi * v)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class GaussianSpectrum:
    """``N(0, C)`` with ``C = U diag(lambda) U^T``; exact score ``-(m_t^2 C + Delta_t I)^{-1} x``.

    ``eigenvalues`` ``[N]`` (>= 0), ``basis`` ``[N, N]`` orthogonal (identity if omitted).
    """

    eigenvalues: jax.Array
    basis: jax.Array

    @classmethod
    def create(cls, eigenvalues, basis=None) -> "GaussianSpectrum":
        lam = np.asarray(eigenvalues, dtype=float)
        if lam.ndim != 1 or lam.size < 1 or not np.all(np.isfinite(lam)) or np.any(lam < 0):
            raise _validate.ConfigError(
                f"eigenvalues={eigenvalues!r} is out of range: expected a non-empty 1-D array of finite values >= 0"
            )
        u = jnp.eye(lam.size) if basis is None else jnp.asarray(basis)
        if u.shape != (lam.size, lam.size):
            raise _validate.ConfigError(f"basis has shape {u.shape}: expected ({lam.size}, {lam.size})")
        return cls(jnp.asarray(lam), u)

    @property
    def dim(self) -> int:
        return self.eigenvalues.shape[0]

    def sample(self, key, n: int):
        z = jax.random.normal(key, (n, self.dim))
        return (z * jnp.sqrt(self.eigenvalues)) @ self.basis.T

    def covariance_spectrum(self) -> np.ndarray:
        return np.sort(np.asarray(self.eigenvalues))[::-1]

    def _variances(self, x, t):
        tt = time_column(x, t)
        return m(tt) ** 2 * self.eigenvalues[None, :] + delta(tt)

    def score(self, x, t):
        coords = x @ self.basis
        return -(coords / self._variances(x, t)) @ self.basis.T

    def log_density(self, x, t):
        coords = x @ self.basis
        v = self._variances(x, t)
        return -0.5 * jnp.sum(coords**2 / v + jnp.log(2 * jnp.pi * v), axis=-1)
