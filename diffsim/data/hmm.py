"""Hidden Manifold Model (THEORY.md section 2; Achilli et al.).

A point is ``a = phi(F z / sqrt(D))`` with ``F`` an ``N x D`` matrix of iid ``N(0, 1)`` (fixed by the
dataset's key), ``z ~ N(0, I_D)`` fresh per point, and ``phi`` applied coordinatewise and normalised so
that ``phi(g)`` has mean 0 and variance 1 for ``g ~ N(0, 1)`` (each pre-activation
``h_i = F_i . z / sqrt(D)`` is ``N(0, |F_i|^2 / D)``, unit variance up to ``O(D^{-1/2})``):

* ``linear``: ``a = F z / sqrt(D)``, Gaussian on a D-dimensional subspace with ``C = F F^T / D`` (rank D;
  its non-zero eigenvalues are ``mu / alpha_D``, ``mu`` Marchenko-Pastur). Exact score: :class:`SpikedGaussian`.
* ``tanh``, ``sign``, ``relu``: a curved D-dimensional manifold, no closed-form score. The
  Gaussian-equivalent model ``a ~ mu_1 F z / sqrt(D) + mu_* xi`` (``mu_1 = E[g phi(g)]``,
  ``mu_*^2 = 1 - mu_1^2``) is offered as an APPROXIMATION (:meth:`HiddenManifold.gaussian_equivalent`);
  the exact second moments (:meth:`HiddenManifold.covariance`) are available for every ``phi``.

Shapes: ``features`` ``[N, D]``; samples ``[P, N]``; queries ``[B, N]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim.process import delta, m
from diffsim.theory.hmm import (
    NONLINEARITIES,
    ActivationMoments,
    activation_moments,
    gaussian_equivalent_spectrum,
)
from diffsim.theory.spectrum import Spectrum
from diffsim.process import time_column

__all__ = [
    "NONLINEARITIES",
    "ActivationMoments",
    "activation_moments",
    "HiddenManifold",
    "SpikedGaussian",
]

DEFAULT_CHUNK = 65_536


def _raw(nonlinearity: str, h):
    if nonlinearity == "linear":
        return h
    if nonlinearity == "tanh":
        return jnp.tanh(h)
    if nonlinearity == "sign":
        return jnp.where(h >= 0, 1.0, -1.0).astype(h.dtype)
    return jax.nn.relu(h)


def activation(nonlinearity: str, h):
    """Normalised ``phi(h) = (phi_raw(h) - mean) / std``, elementwise."""
    mom = activation_moments(nonlinearity)
    if nonlinearity == "linear":
        return h
    return (_raw(nonlinearity, h) - mom.mean) / mom.std


# --------------------------------------------------------------------------- low-rank Gaussian


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class SpikedGaussian:
    """``N(0, C)`` with ``C = floor I_N + U diag(spikes) U^T``, ``U`` ``[N, D]`` orthonormal columns.

    The noised covariance ``m_t^2 C + Delta_t I`` has eigenvalue ``v_0 = m_t^2 floor + Delta_t`` off the
    span of ``U`` and ``v_k = m_t^2 (floor + spikes_k) + Delta_t`` on it, so

        score(x, t) = -x / v_0 - U [(1 / v_k - 1 / v_0) * (U^T x)]

    costs ``O(B N D)`` and never inverts ``C`` (``floor = 0`` is the rank-D linear HMM; then ``v_0 =
    Delta_t`` and the formula is the Woodbury identity in the D-dimensional latent space).
    """

    basis: jax.Array  # [N, D]
    spikes: jax.Array  # [D]
    floor: jax.Array  # scalar

    @property
    def dim(self) -> int:
        return self.basis.shape[0]

    def _variances(self, x, t):
        tt = time_column(x, t)
        m2, d = m(tt) ** 2, delta(tt)
        return m2 * self.floor + d, m2 * (self.floor + self.spikes[None, :]) + d  # [B,1], [B,D]

    def sample(self, key, n: int):
        """``n`` iid points, ``[n, N]``."""
        k_on, k_off = jax.random.split(key)
        z = jax.random.normal(k_on, (n, self.spikes.shape[0]))
        xi = jax.random.normal(k_off, (n, self.dim))
        return (z * jnp.sqrt(self.spikes)) @ self.basis.T + jnp.sqrt(self.floor) * xi

    def covariance_spectrum(self) -> np.ndarray:
        """Eigenvalues of ``C``, ``[N]``, decreasing."""
        lam = np.concatenate([np.asarray(self.spikes) + float(self.floor), np.full(self.dim - self.spikes.shape[0], float(self.floor))])
        return np.sort(lam)[::-1]

    def score(self, x, t):
        """Exact score ``-(m_t^2 C + Delta_t I)^{-1} x``; x ``[B, N]``, t scalar or ``[B]`` (``t > 0``)."""
        v0, vk = self._variances(x, t)
        coords = x @ self.basis
        return -x / v0 - (coords * (1.0 / vk - 1.0 / v0)) @ self.basis.T

    def log_density(self, x, t):
        """Exact ``log p_t(x)``, ``[B]`` (``t > 0``)."""
        v0, vk = self._variances(x, t)
        coords = x @ self.basis
        quad = jnp.sum(x * x, -1) / v0[:, 0] + jnp.sum(coords**2 * (1.0 / vk - 1.0 / v0), -1)
        logdet = (self.dim - self.spikes.shape[0]) * jnp.log(v0[:, 0]) + jnp.sum(jnp.log(vk), -1)
        return -0.5 * (quad + logdet + self.dim * jnp.log(2.0 * jnp.pi))


# --------------------------------------------------------------------------- the model


def _one_chunk(features, key, nonlinearity: str, chunk: int):
    """``chunk`` points from one key: ``(phi(z F^T / sqrt(D)) [chunk, N], z [chunk, D])``."""
    z = jax.random.normal(key, (chunk, features.shape[1]), features.dtype)
    return activation(nonlinearity, (z @ features.T) / math.sqrt(features.shape[1])), z


@partial(jax.jit, static_argnames=("nonlinearity", "n", "chunk"))
def _sample_chunks(features, key, *, nonlinearity: str, n: int, chunk: int):
    """``n`` points generated ``chunk`` at a time under ``lax.map`` (chunk ``i`` from
    ``split(key, n_chunks)[i]``); returns ``(points [n, N], z [n, D])``."""
    dim, latent = features.shape
    keys = jax.random.split(key, -(-n // chunk))
    pts, z = jax.lax.map(lambda k: _one_chunk(features, k, nonlinearity, chunk), keys)
    return pts.reshape(-1, dim)[:n], z.reshape(-1, latent)[:n]


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class HiddenManifold:
    """Hidden Manifold Model ``a = phi(F z / sqrt(D))`` (see the module docstring).

    Attributes:
      features: ``F``, ``[N, D]`` iid ``N(0, 1)``.
      nonlinearity: one of :data:`NONLINEARITIES` (static).
    """

    features: jax.Array
    nonlinearity: str = field(default="linear", metadata=dict(static=True))

    @classmethod
    def create(cls, key, dim: int, *, alpha_d: float | None = None, latent_dim: int | None = None,
               nonlinearity: str = "linear") -> "HiddenManifold":
        """Draw ``F`` from ``key``: ``D = latent_dim``, or ``D = max(1, round(alpha_d * N))``."""
        dim = _validate.integer("dim", dim, minimum=1)
        _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)
        if (alpha_d is None) == (latent_dim is None):
            raise _validate.ConfigError("give exactly one of alpha_d and latent_dim")
        if latent_dim is None:
            alpha_d = _validate.positive("alpha_d", alpha_d, upper=1.0)
            latent_dim = max(1, round(alpha_d * dim))
        latent_dim = _validate.integer("latent_dim", latent_dim, minimum=1, maximum=dim)
        return cls(jax.random.normal(key, (dim, latent_dim)), nonlinearity)

    @property
    def dim(self) -> int:
        return self.features.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.features.shape[1]

    @property
    def alpha_d(self) -> float:
        """``D / N`` (the realised ratio after rounding D)."""
        return self.latent_dim / self.dim

    @property
    def moments(self) -> ActivationMoments:
        return activation_moments(self.nonlinearity)

    # ----------------------------------------------------------------------- sampling

    def sample(self, key, n: int, *, chunk_size: int | None = None):
        """``n`` iid points ``[n, N]``, generated in chunks (``lax.map``) so that ``n`` up to ~1e6 and
        beyond needs only the output's memory. ``chunk_size`` defaults to ``min(n, 65536)``."""
        return self.sample_with_latents(key, n, chunk_size=chunk_size)[0]

    def sample_with_latents(self, key, n: int, *, chunk_size: int | None = None):
        """``(points [n, N], z [n, D])``."""
        n = _validate.integer("n", n, minimum=1)
        chunk = min(n, DEFAULT_CHUNK) if chunk_size is None else _validate.integer("chunk_size", chunk_size, minimum=1)
        _validate.memory(f"{n} HMM points in N={self.dim}", 4.0 * n * (self.dim + self.latent_dim))
        if n <= chunk:  # one chunk: the chunked path's numbers (to fp32 rounding), without a compile per n
            return _one_chunk(self.features, jax.random.split(key, 1)[0], self.nonlinearity, n)
        return _sample_chunks(self.features, key, nonlinearity=self.nonlinearity, n=n, chunk=chunk)

    # ----------------------------------------------------------------------- second moments

    def latent_gram(self) -> np.ndarray:
        """``F F^T / D``, ``[N, N]`` float64: the covariance of the linear model."""
        f = np.asarray(self.features, dtype=np.float64)
        return f @ f.T / self.latent_dim

    def covariance(self) -> np.ndarray:
        """Exact covariance ``Cov(a_i, a_j)`` given ``F``, ``[N, N]`` float64, for every ``phi``.

        With ``v_i = |F_i|^2 / D`` and ``rho_ij = (F F^T / D)_ij / sqrt(v_i v_j)``: linear ``F F^T / D``;
        sign ``(2/pi) arcsin(rho)``; relu the arc-cosine kernel ``sqrt(v_i v_j) (sqrt(1 - rho^2) +
        (pi - arccos rho) rho - 1) / (2 pi)`` over ``std^2``; tanh by 2-D Gauss-Hermite quadrature.
        """
        gram = self.latent_gram()
        if self.nonlinearity == "linear":
            return gram
        v = np.diag(gram).copy()
        sv = np.sqrt(v)
        rho = np.clip(gram / np.outer(sv, sv), -1.0, 1.0)
        np.fill_diagonal(rho, 1.0)
        mom = self.moments
        if self.nonlinearity == "sign":
            return (2.0 / np.pi) * np.arcsin(rho)
        if self.nonlinearity == "relu":
            kernel = np.sqrt(1.0 - rho**2) + (np.pi - np.arccos(rho)) * rho - 1.0
            return np.outer(sv, sv) * kernel / (2.0 * np.pi) / mom.std**2
        return _tanh_covariance(sv, rho) / mom.std**2

    def covariance_spectrum(self) -> np.ndarray:
        """Eigenvalues of :meth:`covariance`, ``[N]``, decreasing (exact given ``F`` for every ``phi``;
        for ``linear``: ``D`` eigenvalues of ``F^T F / D`` and ``N - D`` zeros)."""
        if self.nonlinearity == "linear":
            f = np.asarray(self.features, dtype=np.float64)
            lam = np.linalg.eigvalsh(f.T @ f / self.latent_dim)
            lam = np.concatenate([np.maximum(lam, 0.0), np.zeros(self.dim - self.latent_dim)])
        else:
            lam = np.linalg.eigvalsh(self.covariance())
        return np.sort(lam)[::-1]

    def theory_spectrum(self, **mp_kwargs) -> Spectrum:
        """``N -> inf`` spectral measure at this ``alpha_d``: Marchenko-Pastur for ``linear``
        (:meth:`Spectrum.marchenko_pastur`); for nonlinear ``phi`` the Gaussian-equivalent
        ``mu1^2 lambda_MP + mu_*^2`` (an APPROXIMATION)."""
        mp = Spectrum.marchenko_pastur(self.alpha_d, **mp_kwargs)
        return gaussian_equivalent_spectrum(mp, self.nonlinearity)

    # ----------------------------------------------------------------------- scores

    def latent_basis(self):
        """``(U [N, D], spikes [D])``: orthonormal basis of the span of ``F`` and the eigenvalues of
        ``F F^T / D`` on it (thin SVD of ``F / sqrt(D)``)."""
        u, s, _ = jnp.linalg.svd(self.features / math.sqrt(self.latent_dim), full_matrices=False)
        return u, s**2

    def gaussian_equivalent(self) -> SpikedGaussian:
        """Gaussian with covariance ``mu1^2 F F^T / D + mu_*^2 I``: exact law for ``linear``
        (``mu1 = 1``, ``mu_* = 0``); for nonlinear ``phi`` an APPROXIMATION (Gaussian equivalence)."""
        u, spikes = self.latent_basis()
        mom = self.moments
        return SpikedGaussian(u, mom.mu1**2 * spikes, jnp.asarray(mom.mu_star2, spikes.dtype))

    def _exact(self) -> SpikedGaussian:
        if self.nonlinearity != "linear":
            raise _validate.ConfigError(
                f"nonlinearity={self.nonlinearity!r} has no closed-form score: expected 'linear' "
                "(use .gaussian_equivalent(), an approximation)"
            )
        return self.gaussian_equivalent()

    def score(self, x, t):
        """Exact score of the noised law (``linear`` only): ``-(m_t^2 F F^T / D + Delta_t I)^{-1} x``
        computed in the latent basis (no singular inverse); ``x`` ``[B, N]``, ``t`` scalar or ``[B]``."""
        return self._exact().score(x, t)

    def log_density(self, x, t):
        """Exact ``log p_t(x)`` (``linear`` only), ``[B]``."""
        return self._exact().log_density(x, t)


def _tanh_covariance(sv: np.ndarray, rho: np.ndarray, nodes: int = 32) -> np.ndarray:
    """``Cov(tanh h_i, tanh h_j)`` for ``(h_i, h_j)`` Gaussian, sds ``sv``, correlation ``rho``
    (``E tanh h = 0``), by tensor Gauss-Hermite quadrature; ``[N, N]``. Row blocks bound memory."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / np.sqrt(2.0 * np.pi)
    n = sv.size
    out = np.empty((n, n))
    g1, g2 = x[:, None], x[None, :]
    ww = w[:, None] * w[None, :]
    block = max(1, int(2**22 // (n * nodes * nodes)))
    for start in range(0, n, block):  # numpy blocks over rows (setup code, not a hot path)
        r = rho[start:start + block, :, None, None]
        hi = sv[start:start + block, None, None, None] * g1
        hj = sv[None, :, None, None] * (r * g1 + np.sqrt(np.maximum(0.0, 1.0 - r**2)) * g2)
        out[start:start + block] = np.sum(ww * np.tanh(hi) * np.tanh(hj), axis=(-2, -1))
    return out
