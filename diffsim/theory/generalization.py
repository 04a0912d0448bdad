"""Generalization error of the stopped empirical dynamics and its minimiser ``t_g`` (THEORY.md section 7).

Stopping the backward empirical-score dynamics at ``t`` and mapping back to data scale, ``y = x_t / m_t``,
gives the Gaussian kernel density estimate ``q_t = (1/P) sum_mu N(a_mu, sigma_t^2 I)``,
``sigma_t^2 = exp(2t) - 1``. For Gaussian data on a ``D``-dimensional (latent) subspace with spectrum
``lambda`` the energies ``|y - a_mu|^2 / (2 sigma^2)`` of a fresh ``y`` form a REM at radius ``r = 0``
(section 5) whose log-partition function per latent dimension is ``F_0(t) =``
:func:`diffsim.theory.free_energy` ``(t, alpha_lat, spectrum_lat, r=0)``, ``alpha_lat = log(P) / D``, so
([derived])

    G(t) = KL(p_0 || q_t) / D = -F_0(t) + alpha_lat + 0.5 log(sigma_t^2) - 0.5 - 0.5 <log lambda>_lat .

Where the ``r = 0`` REM is not condensed this is ``KL(N(0, C) || N(0, C + sigma^2))``, increasing in t;
below its condensation time ``G`` grows again, so ``t_g = argmin G`` lies below ``t_C``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from diffsim.theory.collapse import collapse_time
from diffsim.theory.rem import free_energy
from diffsim.theory.spectrum import Spectrum

__all__ = ["latent_spectrum", "gaussian_entropy", "generalization_error", "generalization_time"]


def latent_spectrum(spectrum: Spectrum) -> Spectrum:
    """The non-zero part of a spectrum, renormalised (the law on the latent subspace)."""
    keep = spectrum.eigenvalues > 0
    w = spectrum.weights[keep]
    return Spectrum(spectrum.eigenvalues[keep], w / w.sum())


def gaussian_entropy(eigenvalues: ArrayLike) -> float:
    """Differential entropy (nats) of ``N(0, C)`` with covariance eigenvalues ``[D]``:
    ``(D/2) log(2 pi e) + (1/2) sum log lambda``."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    return 0.5 * lam.size * math.log(2 * math.pi * math.e) + 0.5 * float(np.sum(np.log(lam)))


def generalization_error(t: ArrayLike, alpha_lat: float, spectrum_lat: Spectrum) -> np.ndarray:
    """``G(t) = KL(p_0 || q_t) / D`` ([derived], module docstring); ``t`` ``[T]`` -> ``[T]``."""
    t = np.asarray(t, dtype=np.float64)
    f0 = free_energy(t, alpha_lat, spectrum_lat, r=0.0)
    mean_log = float(spectrum_lat.mean(np.log))
    return -f0 + alpha_lat + 0.5 * np.log(np.expm1(2.0 * t)) - 0.5 - 0.5 * mean_log


def generalization_time(alpha_lat: float, spectrum_lat: Spectrum, *, t_high: float | None = None) -> float:
    """``t_g``: minimiser of :func:`generalization_error` (grid then golden-section search in ``log t``)."""
    t_c = float(collapse_time(alpha_lat, spectrum_lat))
    hi = math.log(t_high if t_high is not None else 2.0 * t_c)
    grid = np.linspace(math.log(1e-4 * t_c), hi, 400)
    g = generalization_error(np.exp(grid), alpha_lat, spectrum_lat)
    j = int(np.clip(np.argmin(g), 1, grid.size - 2))
    lo, hi = grid[j - 1], grid[j + 1]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        ga, gb = generalization_error(np.exp([a, b]), alpha_lat, spectrum_lat)
        lo, hi = (lo, b) if ga < gb else (a, hi)
    return float(math.exp(0.5 * (lo + hi)))
