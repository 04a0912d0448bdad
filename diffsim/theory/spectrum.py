"""Spectral measures of data covariances (THEORY.md sections 2 and 4).

Every closed form in :mod:`diffsim.theory` depends on the data only through the spectral measure of
its covariance ``C``: eigenvalues ``lambda_i >= 0`` with weights ``w_i`` summing to one, and averages
``<f> = sum_i w_i f(lambda_i)``. A finite covariance of size ``N`` has ``w_i = 1 / N``; the
``N -> inf`` linear hidden-manifold model has a continuous Marchenko-Pastur part, discretised here
by a quadrature rule, so that both cases are the same object and the same code.

Everything here is float64 NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from diffsim._validate import ConfigError
from diffsim.theory._numerics import _check_range

__all__ = ["Spectrum"]

MP_DEFAULT_NODES = 24


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Spectral measure of a covariance: ``<f> = sum_i weights[i] * f(eigenvalues[i])``.

    Attributes:
        eigenvalues: ``[n]``, finite, ``>= 0`` (zero eigenvalues, e.g. of a low-rank covariance, allowed).
        weights: ``[n]``, ``>= 0``, summing to 1 (to 1e-12).

    Both arrays are stored read-only in float64.
    """

    eigenvalues: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        lam = _check_range("eigenvalues", self.eigenvalues, low=0.0, low_closed=True)
        w = _check_range("weights", self.weights, low=0.0, low_closed=True)
        if lam.ndim != 1 or lam.size == 0 or w.shape != lam.shape:
            raise ConfigError(
                f"eigenvalues and weights have shapes {lam.shape} and {w.shape}: "
                "expected two non-empty 1-D arrays of the same length"
            )
        total = float(np.sum(w))
        if abs(total - 1.0) > 1e-12:
            raise ConfigError(f"sum(weights)={total!r} is out of range: expected 1 (to 1e-12)")
        for attr, arr in (("eigenvalues", lam), ("weights", w)):
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, attr, arr)

    # ----------------------------------------------------------------------------- constructors

    @classmethod
    def from_eigenvalues(cls, lams: ArrayLike) -> "Spectrum":
        """Empirical spectrum of an ``N x N`` covariance: eigenvalues ``lams`` ``[N]``, weights ``1/N``.

        Round-off negatives from ``eigvalsh`` (``>= -1e-10 * max|lams|``) are set to zero; larger
        negative values are an error.
        """
        lam = _check_range("lams", lams)
        if lam.ndim != 1 or lam.size == 0:
            raise ConfigError(f"lams has shape {lam.shape}: expected a non-empty 1-D array")
        floor = -1e-10 * max(float(np.max(np.abs(lam))), np.finfo(float).tiny)
        lam = np.where((lam < 0) & (lam >= floor), 0.0, lam)
        return cls(lam, np.full(lam.size, 1.0 / lam.size))

    @classmethod
    def from_points(cls, points: ArrayLike) -> "Spectrum":
        """Spectrum of the sample covariance of ``points`` ``[P, N]`` (``P >= 2``; mean removed,
        ``1/(P - 1)`` normalisation): the Gaussian model of a user's own data."""
        pts = _check_range("points", points)
        if pts.ndim != 2 or pts.shape[0] < 2:
            raise ConfigError(f"points has shape {pts.shape}: expected a [P, N] array with P >= 2")
        cov = np.atleast_2d(np.cov(pts, rowvar=False))
        return cls.from_eigenvalues(np.sort(np.linalg.eigvalsh(cov))[::-1])

    @classmethod
    def isotropic(cls, sigma2: float) -> "Spectrum":
        """Spectrum of ``sigma2 * I``: a unit point mass at ``sigma2 > 0``."""
        s2 = _check_range("sigma2", sigma2, low=0.0, high=np.inf)
        if s2.ndim != 0:
            raise ConfigError(f"sigma2 has shape {s2.shape}: expected a scalar")
        return cls(np.array([float(s2)]), np.array([1.0]))

    @classmethod
    def marchenko_pastur(cls, alpha_d: float, *, n_nodes: int = MP_DEFAULT_NODES) -> "Spectrum":
        """``N -> inf`` spectrum of ``C = F F^T / D``, ``F`` an ``N x D`` iid ``N(0,1)`` matrix (linear HMM).

        With ``alpha_d = D / N`` in ``(0, 1]`` (THEORY.md section 2): ``C`` has ``N - D`` zero eigenvalues
        and ``D`` eigenvalues equal to those of ``F^T F / D = (N / D) (F^T F / N)``, i.e. ``mu / alpha_d``
        with ``mu`` Marchenko-Pastur of ratio ``alpha_d`` and mean 1:

            p(mu) = sqrt((b - mu)(mu - a)) / (2 pi alpha_d mu),   a, b = (1 -+ sqrt(alpha_d))^2.

        So the measure is ``(1 - alpha_d) delta_0 + alpha_d * law(mu / alpha_d)``; its moments are
        ``<lambda> = 1`` (``tr C / N = 1``) and ``<lambda^2> = 1 + 1 / alpha_d``.

        Quadrature: ``mu = b cos^2(theta/2) + a sin^2(theta/2)``, ``theta in [0, pi]``, turns
        ``p(mu) dmu`` into ``(2 / pi) sin^2(theta) / mu dtheta``, free of the square-root edges;
        composite Gauss-Legendre with ``n_nodes`` nodes per panel on panels graded towards the lower
        edge (where ``1 / mu`` is nearly singular as ``alpha_d -> 1``) gives averages of smooth
        ``f`` to ~1e-13 for every ``alpha_d``.
        """
        checked = _check_range("alpha_d", alpha_d, low=0.0, high=1.0, high_closed=True)
        if checked.ndim != 0:
            raise ConfigError(f"alpha_d has shape {checked.shape}: expected a scalar")
        if isinstance(n_nodes, bool) or int(n_nodes) != n_nodes or n_nodes < 2:
            raise ConfigError(f"n_nodes={n_nodes!r} is out of range: expected an integer >= 2")
        ad = float(checked)
        mu, q = _marchenko_pastur_nodes(ad, int(n_nodes))
        lam, w = mu / ad, ad * q
        if ad < 1.0:
            lam, w = np.concatenate([[0.0], lam]), np.concatenate([[1.0 - ad], w])
        return cls(lam, w)

    # ----------------------------------------------------------------------------- averages

    @property
    def size(self) -> int:
        """Number of atoms ``n`` (eigenvalues or quadrature nodes)."""
        return self.eigenvalues.size

    def average(self, values: np.ndarray) -> np.ndarray:
        """``sum_i w_i values[..., i]``: average over the last axis, ``[..., n] -> [...]``."""
        return np.sum(np.asarray(values) * self.weights, axis=-1)

    def mean(self, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``<f> = sum_i w_i f(lambda_i)``.

        ``f`` maps the eigenvalues ``[n]`` to ``[..., n]`` (it may broadcast against other arrays,
        e.g. ``lambda lam: np.log1p(lam / s[:, None])``); the result has shape ``[...]``.
        """
        return self.average(f(self.eigenvalues))


def _graded_panels(eps: float, ratio: float = 4.0) -> np.ndarray:
    """Breakpoints ``0 < eps < ... < pi`` growing geometrically by at most ``ratio``, ``[n_panels + 1]``."""
    n_geometric = max(1, int(np.ceil(np.log(np.pi / eps) / np.log(ratio))))
    return np.concatenate([[0.0], eps * (np.pi / eps) ** (np.arange(n_geometric + 1) / n_geometric)])


def _marchenko_pastur_nodes(alpha_d: float, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``mu_j`` and weights ``q_j`` (summing to 1 up to quadrature error) of MP(ratio alpha_d, mean 1).

    In ``theta`` the density is ``(2 / pi) sin^2(theta) / mu(theta)``, with a pole at distance
    ``~ 2 sqrt(a / b)`` from the lower edge ``theta = pi`` (``mu = a``), which comes close to the
    real axis as ``alpha_d -> 1``. Panels graded geometrically towards that edge, down to
    ``max(sqrt(a / b), 1e-6)``, each with ``n_nodes`` Gauss-Legendre nodes, keep the rule accurate
    to ~1e-13 uniformly in ``alpha_d`` (and resolve ``log(1 + mu / x)`` down to ``x ~ 1e-12``).
    """
    x, wx = np.polynomial.legendre.leggauss(n_nodes)
    a, b = (1.0 - np.sqrt(alpha_d)) ** 2, (1.0 + np.sqrt(alpha_d)) ** 2
    edges = _graded_panels(max(np.sqrt(a / b), 1e-6))
    left, width = edges[:-1, None], np.diff(edges)[:, None]
    theta_from_lower_edge = (left + 0.5 * width * (x + 1.0)).ravel()  # pi - theta
    dtheta = (0.5 * width * wx).ravel()
    c = np.sin(0.5 * theta_from_lower_edge) ** 2  # = cos^2(theta / 2); sin^2(theta / 2) = 1 - c
    mu = b * c + a * (1.0 - c)  # b cos^2(theta/2) + a sin^2(theta/2), no cancellation at either edge
    q = dtheta * (2.0 / np.pi) * 4.0 * c * (1.0 - c) / mu  # (2/pi) sin^2(theta) / mu dtheta
    return mu, q
