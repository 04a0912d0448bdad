"""Collapse (memorization) time of the empirical score for Gaussian data (THEORY.md section 4).

With ``m_t = exp(-t)``, ``Delta_t = 1 - exp(-2t)`` and the signal-to-noise ratios
``rho_i(t) = m_t^2 lambda_i / Delta_t = lambda_i / (exp(2t) - 1)`` of the covariance eigenvalues,
the excess entropy per dimension at load ``alpha = log(P) / N`` is

    f_e(t) = max(0, alpha - I(t)),      I(t) = 0.5 <log(1 + rho(t))>

(``I`` is the mutual information per dimension between ``x_0`` and ``x_t``), and the collapse time
``t_C`` solves ``I(t_C) = alpha``. The trap onset time ``t_o`` (section 6) solves
``<log(1 + rho)> + <rho / (1 + rho)> = 2 alpha``. Both left-hand sides decrease strictly in ``t``,
so each equation has one root, found by bisection in ``s = log(exp(2t) - 1)`` (the log of the
variance-exploding noise level), which resolves ``t`` to a relative precision ~1e-13 even where
``t_C`` is tiny (large ``alpha``).

Shapes: ``t``, ``alpha`` broadcast against each other; a :class:`Spectrum` with ``n`` atoms adds a
trailing axis ``[..., n]`` to per-eigenvalue quantities and is averaged out in the results.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from diffsim._validate import ConfigError
from diffsim.theory._numerics import _bisect, _broadcast, _check_load, _check_time
from diffsim.theory._numerics import _check_range
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "rho",
    "mutual_information",
    "signal_fraction",
    "excess_entropy",
    "collapse_time",
    "collapse_time_isotropic",
    "collapse_time_hmm_linear",
    "trap_onset_time",
]

_LOG_VARIANCE_BRACKET = (-600.0, 600.0)  # s = log(exp(2t) - 1): t from ~1e-261 to 300
_LOG_VARIANCE_TOL = 1e-13


# --------------------------------------------------------------------------- spectral averages


def rho(t: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Signal-to-noise ratios ``rho_i(t) = m_t^2 lambda_i / Delta_t = lambda_i / expm1(2t)``.

    ``t``: ``[...]``, ``0 < t <= inf``. Returns ``[..., n]`` (``n = spectrum.size``).
    """
    t = _check_time(t)
    return spectrum.eigenvalues / np.expm1(2.0 * t)[..., None]


def _rho_at_log_variance(s: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    """``rho_i = lambda_i exp(-s)`` with ``s = log(exp(2t) - 1)``; ``[...] -> [..., n]``."""
    return spectrum.eigenvalues * np.exp(-s)[..., None]


def _time_from_log_variance(s: np.ndarray) -> np.ndarray:
    """``t = 0.5 log(1 + exp(s))``, accurate for ``s -> -inf``."""
    return 0.5 * np.logaddexp(0.0, s)


def mutual_information(t: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Mutual information per dimension ``I(t) = 0.5 <log(1 + rho(t))>`` (section 4); ``[...] -> [...]``."""
    return 0.5 * spectrum.average(np.log1p(rho(t, spectrum)))


def signal_fraction(t: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """``<rho / (1 + rho)>`` = mean share of the signal ``m_t^2 lambda_i`` in the variance of ``x_t``
    (sections 5-6); ``[...] -> [...]``."""
    r = rho(t, spectrum)
    return spectrum.average(r / (1.0 + r))


def excess_entropy(t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Excess entropy per dimension ``f_e(t) = max(0, alpha - 0.5 <log(1 + rho(t))>)`` (section 4).

    ``t`` (``0 < t <= inf``) and ``alpha`` (``> 0``) broadcast; returns their broadcast shape.
    It is also the entropy per dimension of the posterior weights (section 5, ``s(1)``).
    """
    alpha = _check_load(alpha)
    return np.maximum(0.0, alpha - mutual_information(t, spectrum))


# --------------------------------------------------------------------------- times


def _solve_time(alpha: ArrayLike, spectrum: Spectrum, rate: Callable[[np.ndarray], np.ndarray], what: str) -> np.ndarray:
    """Root in ``t`` of ``rate(rho) = alpha``, ``rate`` a strictly increasing spectral average of rho.

    ``rate`` maps ``rho`` ``[..., n]`` to ``[...]``; the root is found in ``s = log(exp(2t) - 1)``.
    """
    alpha = _check_load(alpha)
    if not np.any(spectrum.weights[spectrum.eigenvalues > 0] > 0):
        raise ConfigError(f"spectrum has no positive eigenvalue: {what} does not exist")

    def residual(s: np.ndarray) -> np.ndarray:
        return rate(_rho_at_log_variance(s, spectrum)) - alpha

    lo, hi = (np.full(alpha.shape, bound) for bound in _LOG_VARIANCE_BRACKET)
    if np.any(residual(lo) <= 0) or np.any(residual(hi) >= 0):
        t_lo, t_hi = _time_from_log_variance(np.array(_LOG_VARIANCE_BRACKET))
        raise ConfigError(
            f"alpha={alpha!r} is out of range: {what} would lie outside [{t_lo:.3g}, {t_hi:.3g}]"
        )
    s = _bisect(residual, lo, hi, tol=_LOG_VARIANCE_TOL)
    return _time_from_log_variance(s)


def collapse_time(alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Collapse time ``t_C`` solving ``alpha = 0.5 <log(1 + rho_i(t_C))>`` (section 4).

    ``alpha``: ``[...]``, ``> 0``. Returns ``[...]``. Bisection in ``log(exp(2t) - 1)`` to 1e-13,
    i.e. ``t_C`` to a relative (and absolute) precision better than 1e-12.
    """
    return _solve_time(
        alpha, spectrum, lambda r: 0.5 * spectrum.average(np.log1p(r)), "the collapse time"
    )


def collapse_time_isotropic(alpha: ArrayLike, sigma: ArrayLike = 1.0) -> np.ndarray:
    """Closed form for ``N(0, sigma^2 I)``: ``t_C = 0.5 log(1 + sigma^2 / (exp(2 alpha) - 1))`` (section 4).

    ``alpha`` (``> 0``) and ``sigma`` (``> 0``) broadcast.
    """
    alpha = _check_load(alpha)
    sigma = _check_range("sigma", sigma, low=0.0, high=np.inf)
    return 0.5 * np.log1p(sigma**2 / np.expm1(2.0 * alpha))


def collapse_time_hmm_linear(alpha: ArrayLike, alpha_d: float, *, n_nodes: int | None = None) -> np.ndarray:
    """Collapse time of the linear hidden-manifold model, ``N -> inf`` (section 4, [derived]):

        alpha = (alpha_d / 2) int dMP_{alpha_d}(mu) log(1 + mu m_t^2 / (alpha_d Delta_t)),

    i.e. :func:`collapse_time` with :meth:`Spectrum.marchenko_pastur`. ``alpha``: ``[...]``;
    ``alpha_d = D / N`` in ``(0, 1]``. For ``alpha_d -> 0`` at fixed ``r = alpha / alpha_d`` the
    latent directions behave as an isotropic Gaussian of variance ``1 / alpha_d`` in ``D``
    dimensions at load ``r``, so ``alpha_d (exp(2 t_C) - 1) -> 1 / (exp(2 r) - 1)``: ``t_C`` is set
    by ``log(P) / D`` up to the shift ``0.5 log(1 / alpha_d)``.
    """
    kwargs = {} if n_nodes is None else {"n_nodes": n_nodes}
    return collapse_time(alpha, Spectrum.marchenko_pastur(alpha_d, **kwargs))


def trap_onset_time(alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Trap onset time ``t_o`` solving ``<log(1 + rho)> + <rho / (1 + rho)> = 2 alpha`` (section 6).

    Where ``r_b(t_o) = 0``: for ``t < t_o`` training points are local maxima (traps) of ``p_t^e``.
    ``alpha``: ``[...]``, ``> 0``; returns ``[...]``; ``t_o > t_C`` always.
    """
    return _solve_time(
        alpha,
        spectrum,
        lambda r: 0.5 * spectrum.average(np.log1p(r) + r / (1.0 + r)),
        "the trap onset time",
    )
