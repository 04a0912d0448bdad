"""Closed forms of the Hidden Manifold Model (THEORY.md sections 2 and 4).

* :func:`activation_moments`: moments of the normalised activation ``phi`` under ``g ~ N(0, 1)``
  (``mu1 = E[g phi(g)]``, ``mu_*^2 = 1 - mu1^2``).
* :func:`gaussian_equivalent_spectrum`: the Gaussian-equivalent spectrum ``mu1^2 lambda + mu_*^2``
  of a nonlinear HMM (an APPROXIMATION; exact for ``linear``).
* :func:`asymptotic_spectrum`: the ``N -> inf`` spectral measure of a data model by name.
* :func:`hmm_collapse_theory`: the ``N -> inf`` collapse times of the linear, Gaussian-equivalent and
  isotropic models at the same load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from diffsim import _validate
from diffsim.theory.collapse import collapse_time, collapse_time_hmm_linear, collapse_time_isotropic
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "NONLINEARITIES",
    "Nonlinearity",
    "ActivationMoments",
    "activation_moments",
    "gaussian_equivalent_spectrum",
    "asymptotic_spectrum",
    "hmm_collapse_theory",
]

Nonlinearity = Literal["linear", "tanh", "sign", "relu"]
"""The activation ``phi`` of a hidden manifold: identity, tanh, sign or ReLU (each normalised)."""
NONLINEARITIES: tuple[Nonlinearity, ...] = get_args(Nonlinearity)


@dataclass(frozen=True)
class ActivationMoments:
    """Moments of the raw activation under ``g ~ N(0, 1)`` and of its normalised version.

    ``mean = E phi_raw(g)``, ``std = sd phi_raw(g)``; the normalised ``phi = (phi_raw - mean) / std``
    has linear coefficient ``mu1 = E[g phi(g)]`` and non-linear part ``mu_star2 = 1 - mu1^2``.
    """

    mean: float
    std: float
    mu1: float

    @property
    def mu_star2(self) -> float:
        return max(0.0, 1.0 - self.mu1**2)


def _gauss_legendre_normal(half_width: float = 12.0, panels: int = 48, nodes: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``E f(g)``, ``g ~ N(0, 1)``: composite Gauss-Legendre on ``[-12, 12]``."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(-half_width, half_width, panels + 1)
    half = 0.5 * np.diff(edges)[:, None]
    g = (edges[:-1, None] + half * (x + 1.0)).ravel()
    weight = (half * w).ravel() * np.exp(-0.5 * g**2) / math.sqrt(2.0 * math.pi)
    return g, weight


def activation_moments(nonlinearity: str) -> ActivationMoments:
    """:class:`ActivationMoments` of ``nonlinearity`` (closed forms; ``tanh`` by quadrature to ~1e-14)."""
    _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if nonlinearity == "linear":
        return ActivationMoments(0.0, 1.0, 1.0)
    if nonlinearity == "sign":
        return ActivationMoments(0.0, 1.0, math.sqrt(2.0 / math.pi))
    if nonlinearity == "relu":
        mean = 1.0 / math.sqrt(2.0 * math.pi)
        std = math.sqrt(0.5 - 1.0 / (2.0 * math.pi))
        return ActivationMoments(mean, std, 0.5 / std)
    g, w = _gauss_legendre_normal()
    std = math.sqrt(float(np.sum(w * np.tanh(g) ** 2)))
    return ActivationMoments(0.0, std, float(np.sum(w * g * np.tanh(g))) / std)


def gaussian_equivalent_spectrum(spectrum: Spectrum, nonlinearity: str) -> Spectrum:
    """Map a linear-HMM spectrum ``lambda`` to ``mu1^2 lambda + mu_*^2`` (identity for ``linear``)."""
    mom = activation_moments(nonlinearity)
    if nonlinearity == "linear":
        return spectrum
    return Spectrum(mom.mu1**2 * spectrum.eigenvalues + mom.mu_star2, spectrum.weights)


def asymptotic_spectrum(name: str, alpha_d: float, nonlinearity: str) -> Spectrum:
    """``N -> inf`` spectrum: isotropic unit variance, Marchenko-Pastur (linear HMM) or the
    Gaussian-equivalent MP spectrum (nonlinear HMM, an approximation)."""
    if name == "gaussian":
        return Spectrum.isotropic(1.0)
    return gaussian_equivalent_spectrum(Spectrum.marchenko_pastur(alpha_d), nonlinearity)


def hmm_collapse_theory(alpha: float, alpha_d: float, nonlinearity: str = "linear") -> dict[str, float]:
    """``N -> inf`` collapse times (section 4): ``t_collapse_linear_hmm`` (Marchenko-Pastur, [derived]),
    ``t_collapse_gaussian_equivalent`` (spectrum ``mu1^2 lambda_MP + mu_*^2``; equal to the linear value
    for ``linear``; an approximation otherwise) and ``t_collapse_isotropic`` (``N(0, I)`` at the same alpha)."""
    mp = Spectrum.marchenko_pastur(alpha_d)
    return {
        "t_collapse_linear_hmm": float(collapse_time_hmm_linear(alpha, alpha_d)),
        "t_collapse_gaussian_equivalent": float(collapse_time(alpha, gaussian_equivalent_spectrum(mp, nonlinearity))),
        "t_collapse_isotropic": float(collapse_time_isotropic(alpha)),
    }
