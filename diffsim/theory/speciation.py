"""Speciation time and the clone agreement of the two-cluster mixture (THEORY.md section 3).

Speciation (Biroli et al.): ``t_S = 0.5 log Lambda``, ``Lambda`` the largest covariance eigenvalue.
For the two-cluster mixture ``a = +-v + sigma g`` the backward dynamics decides the class along
``v``: at time ``t`` the projection ``q = x . v / |v|`` has law ``(G_+ + G_-) / 2``, ``G_pm`` the
1-D Gaussians of mean ``+-|v| m_t`` and variance ``Gamma_t = Delta_t + sigma^2 m_t^2``, and two
clones branched at ``t`` end in the same class with probability

    phi(t) = 0.5 int (G_+^2 + G_-^2) / (G_+ + G_-) dq = 1 - 0.5 E_z[sech^2(u^2 + u z)],

``z ~ N(0, 1)``, ``u = |v| m_t / sqrt(Gamma_t)`` (the second form uses
``P(+|q) = 1 / (1 + exp(-2 |v| m_t q / Gamma_t))`` and the symmetry ``q -> -q``).
``phi`` decreases from ``1 - 0.5 E sech^2(u_0^2 + u_0 z)`` (``u_0 = |v| / sigma``, i.e. ~1 for
well-separated clusters) at ``t -> 0`` to ``1/2`` at ``t -> inf``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from diffsim.theory._numerics import _broadcast, _check_time
from diffsim.theory._numerics import _check_range

__all__ = [
    "speciation_time",
    "two_cluster_largest_eigenvalue",
    "two_cluster_clone_agreement",
    "clone_agreement_at_speciation",
]

_HALF_RANGE = 40.0  # sech^2(40) ~ 7e-35 and N(0,1) density at 40 ~ 1e-348: both tails negligible
_PANELS = 80
_NODES_PER_PANEL = 16


def speciation_time(largest_eigenvalue: ArrayLike) -> np.ndarray:
    """``t_S = 0.5 log Lambda`` (section 3); ``Lambda > 0`` ``[...]`` -> ``[...]`` (negative if ``Lambda < 1``)."""
    lam = _check_range("largest_eigenvalue", largest_eigenvalue, low=0.0, high=np.inf)
    return 0.5 * np.log(lam)


def two_cluster_largest_eigenvalue(norm_v: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    """Largest eigenvalue ``|v|^2 + sigma^2`` of the covariance ``v v^T + sigma^2 I`` of ``+-v + sigma g``."""
    norm_v = _check_range("norm_v", norm_v, low=0.0, high=np.inf, low_closed=True)
    sigma = _check_range("sigma", sigma, low=0.0, high=np.inf, low_closed=True)
    return norm_v**2 + sigma**2


def _composite_legendre() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite Gauss-Legendre on ``[-40, 40]``, ``[_PANELS * _NODES_PER_PANEL]``."""
    x, w = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
    edges = np.linspace(-_HALF_RANGE, _HALF_RANGE, _PANELS + 1)
    half = 0.5 * np.diff(edges)[:, None]
    nodes = (edges[:-1, None] + half * (x + 1.0)).ravel()
    return nodes, (half * w).ravel()


def _sech2(w: np.ndarray) -> np.ndarray:
    """``sech^2(w) = 4 e^{-2|w|} / (1 + e^{-2|w|})^2`` without overflow."""
    e = np.exp(-2.0 * np.abs(w))
    return 4.0 * e / (1.0 + e) ** 2


def _normal_pdf(x: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (np.sqrt(2.0 * np.pi) * std)


def _mean_sech2(u: np.ndarray) -> np.ndarray:
    """``E_z sech^2(u^2 + u z)``, ``z ~ N(0,1)``, for ``u >= 0`` ``[...]`` -> ``[...]``.

    Integrated over ``z`` where ``u <= 1`` (the integrand varies on scale ``>= 1`` in ``z``) and over
    ``w = u^2 + u z`` where ``u > 1`` (``int sech^2(w) N(w; u^2, u^2) dw``, varying on scale ``>= 1``
    in ``w``), each by composite Gauss-Legendre on ``[-40, 40]`` with unit-length panels.
    """
    x, wx = _composite_legendre()
    u = u[..., None]
    small = np.sum(wx * _normal_pdf(x, 0.0, 1.0) * _sech2(u**2 + u * x), axis=-1)
    big_u = np.maximum(u, 1.0)
    big = np.sum(wx * _sech2(x) * _normal_pdf(x, big_u**2, big_u), axis=-1)
    return np.where(u[..., 0] <= 1.0, small, big)


def two_cluster_clone_agreement(t: ArrayLike, norm_v: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    """Probability ``phi(t)`` that two clones branched at ``t`` end in the same cluster (section 3).

        phi(t) = 0.5 int (G_+^2 + G_-^2) / (G_+ + G_-) dq,   G_pm = N(q; +-|v| m_t, Gamma_t),
        Gamma_t = Delta_t + sigma^2 m_t^2,

    evaluated as ``1 - 0.5 E_z sech^2(u^2 + u z)``, ``u = |v| m_t / sqrt(Gamma_t)``, by composite
    Gauss-Legendre (absolute error < 1e-12). ``t`` (``0 < t <= inf``), ``norm_v = |v| >= 0`` and
    ``sigma >= 0`` broadcast; returns their broadcast shape, values in ``[1/2, 1]``.
    """
    t = _check_time(t)
    norm_v = _check_range("norm_v", norm_v, low=0.0, high=np.inf, low_closed=True)
    sigma = _check_range("sigma", sigma, low=0.0, high=np.inf, low_closed=True)
    t, norm_v, sigma = _broadcast(t, norm_v, sigma)
    m = np.exp(-t)
    gamma = -np.expm1(-2.0 * t) + (sigma * m) ** 2
    u = norm_v * m / np.sqrt(gamma)
    return 1.0 - 0.5 * _mean_sech2(u)


def clone_agreement_at_speciation(norm_v: ArrayLike, sigma: ArrayLike = 1.0) -> np.ndarray:
    """``phi(t_S)`` for the two-cluster mixture, ``t_S = 0.5 log(|v|^2 + sigma^2)`` (section 3).

    With ``sigma = 1`` this is the reference level at which real-data ``t_S`` is read off a measured
    clone curve; ``u^2 = |v|^2 / (|v|^2 + 1) -> 1`` for well-separated clusters.
    """
    t_s = speciation_time(two_cluster_largest_eigenvalue(norm_v, sigma))
    return two_cluster_clone_agreement(t_s, norm_v, sigma)
