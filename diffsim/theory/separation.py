"""The loss gap between the true and the empirical score for Gaussian data (THEORY.md section 10).

The gap ``G_t = l_t(s_true) - l_t(s_e) = E_{x ~ p_t^e} |s_e - s_true|^2`` (Prop. 4.1 of Ye, Zhu, Tao,
Chen, arXiv 2511.03202) has two closed-form regimes for data ``N(0, C)``, ``C`` with eigenvalues
``lambda_i`` and ``rho_i(t) = m_t^2 lambda_i / Delta_t`` ([derived] for this project):

* **condensed** (``t`` well below the collapse time ``t_C(P)``): the posterior of a query noised from
  ``a_mu`` sits on ``a_mu``, so ``s_e(x) = (m_t a_mu - x) / Delta_t = -xi / sqrt(Delta_t)`` and
  ``G_t = E |xi / sqrt(Delta_t) + s_true(m_t a + sqrt(Delta_t) xi)|^2`` with ``a ~ N(0, C)``. Per
  eigendirection, ``v = m_t^2 lambda + Delta_t``, ``xi / sqrt(Delta) - x / v`` has variance
  ``m_t^2 lambda / (Delta v)``, hence exactly

      G_t^cond = (1 / Delta_t) sum_i rho_i / (1 + rho_i),      G_t^cond Delta_t / N = <rho / (1 + rho)>,

  which is ``1 - Delta_t = m_t^2`` for unit-variance isotropic data, and tends to the fraction of
  non-zero eigenvalues as ``t -> 0`` (``D / N`` for the linear hidden manifold). At small t,
  ``G_t^cond = N / Delta_t - tr(C^{-1}) / m_t^2 + O(Delta_t)``.

* **dilute** (``P -> infinity`` at fixed ``t``): ``x0_hat = sum k_mu a_mu / sum k_mu`` is a ratio
  estimator of the posterior mean with ``k_mu = N(x; m_t a_mu, Delta_t)``; to first order in ``1/P``
  its variance is ``E_a[k^2 |a - E[a|x]|^2] / (P p_t(x)^2)``. The Gaussian integrals give

      G_t^dil = (m_t^2 / Delta_t^2) (1 / P) prod_j (1 + rho_j) sum_i lambda_i / (1 + rho_i),

  i.e. ``N m_t^2 / (P Delta_t^(N + 1))`` for unit variance: a ``1/P`` decay with a prefactor
  ``exp(2 N I(t))`` (``I`` the mutual information per dimension, section 4). It is the leading
  order while ``P >> exp(2 N I(t))``, i.e. for ``t`` above the time where ``I(t) = alpha / 2``,
  which lies above the collapse time (``I(t_C) = alpha``). The next order (the query's own
  training point, and the ratio's second-order terms) involves the third moment
  ``E_a[k^3] / p^2``, finite only while every ``rho_i < 1/3`` (per direction the squared correlation
  of ``a`` and ``x_t`` is ``rho/(1+rho) < 1/4``), i.e. ``t > 0.5 log(1 + 3 lambda_max)``
  (``log 2`` for unit variance); below that the corrections decay more slowly than ``1/P^2`` and
  the ``1/P`` law is approached slowly. :func:`dilute_time` is the larger of the two times. Between
  ``t_C`` and it, neither form holds and the gap crosses over (broadly at small N).

Everything is float64 NumPy; ``t`` broadcasts, a :class:`Spectrum` adds a trailing axis that is
averaged out.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim.theory._numerics import _check_time
from diffsim.theory.collapse import collapse_time, rho
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "condensed_gap_ratio",
    "condensed_gap_limit",
    "loss_gap_condensed",
    "loss_gap_dilute",
    "collapse_time_of_size",
    "dilute_time",
]


def _delta(t: np.ndarray) -> np.ndarray:
    return -np.expm1(-2.0 * t)


def condensed_gap_ratio(t: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """``G_t^cond Delta_t / N = <rho / (1 + rho)>`` (exact for a fully condensed posterior); ``[...]``.

    Unit-variance isotropic data: ``1 - Delta_t`` (THEORY.md section 10 [derived])."""
    r = rho(t, spectrum)
    return spectrum.average(r / (1.0 + r))


def condensed_gap_limit(spectrum: Spectrum) -> float:
    """``lim_{t -> 0} G_t^cond Delta_t / N``: the weight of the non-zero eigenvalues (1 for a full-rank
    covariance, ``D / N`` for the linear hidden manifold)."""
    return float(np.sum(spectrum.weights[spectrum.eigenvalues > 0]))


def loss_gap_condensed(t: ArrayLike, spectrum: Spectrum, dim: int) -> np.ndarray:
    """``G_t^cond = (N / Delta_t) <rho / (1 + rho)>`` for data of dimension ``dim``; ``[...]``."""
    dim = _validate.integer("dim", dim, minimum=1)
    t = _check_time(t)
    return dim * condensed_gap_ratio(t, spectrum) / _delta(t)


def loss_gap_dilute(t: ArrayLike, spectrum: Spectrum, dim: int, n_points: ArrayLike) -> np.ndarray:
    """Leading ``1/P`` term of the gap, ``(m_t^2 / Delta_t^2) (N / P) exp(N <log(1 + rho)>) <lambda / (1 + rho)>``.

    ``t`` and ``n_points`` (``P >= 1``) broadcast. Valid while ``P >> exp(2 N I(t))`` (see the module
    docstring and :func:`dilute_time`)."""
    dim = _validate.integer("dim", dim, minimum=1)
    t = _check_time(t)
    p = np.asarray(n_points, dtype=np.float64)
    if np.any(~np.isfinite(p)) or np.any(p < 1):
        raise _validate.ConfigError(f"n_points={n_points!r} is out of range: expected values >= 1")
    r = rho(t, spectrum)
    log_prod = dim * spectrum.average(np.log1p(r))
    spread = dim * spectrum.average(spectrum.eigenvalues / (1.0 + r))
    d = _delta(t)
    return np.exp(-2.0 * t) / d**2 * spread * np.exp(log_prod - np.log(p))


def collapse_time_of_size(n_points: int, dim: int, spectrum: Spectrum) -> float:
    """Collapse time ``t_C(P)`` at load ``alpha = log(P) / N`` (:func:`diffsim.theory.collapse_time`)."""
    n_points = _validate.integer("n_points", n_points, minimum=2)
    dim = _validate.integer("dim", dim, minimum=1)
    return float(collapse_time(math.log(n_points) / dim, spectrum))


def dilute_time(n_points: int, dim: int, spectrum: Spectrum) -> float:
    """Start of the ``1/P`` regime (:func:`loss_gap_dilute`): the larger of the time where
    ``I(t) = alpha / 2`` (``P = exp(2 N I(t))``) and ``0.5 log(1 + 3 lambda_max)`` (every
    ``rho_i < 1/3``, so that the next order is ``O(1/P^2)``); always above :func:`collapse_time_of_size`."""
    n_points = _validate.integer("n_points", n_points, minimum=2)
    dim = _validate.integer("dim", dim, minimum=1)
    half_load = float(collapse_time(0.5 * math.log(n_points) / dim, spectrum))
    return max(half_load, 0.5 * math.log1p(3.0 * float(np.max(spectrum.eigenvalues))))
