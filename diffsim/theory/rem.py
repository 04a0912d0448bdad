"""Random-energy-model statistics of the posterior weights (THEORY.md sections 5 and 6) [derived].

For a query ``x`` the posterior weights ``w_mu`` are a Boltzmann measure over the ``P = exp(alpha N)``
iid energies ``E_mu = |x - m_t a_mu|^2 / (2 Delta_t)``. For Gaussian data with spectrum ``lambda_i``,
``g_i = rho_i(t) = m_t^2 lambda_i / Delta_t``, and a query whose squared coordinates per eigen-direction
are ``Delta_t (g_i + r^2)`` (``x = m_t a + sqrt(N Delta_t) r u`` with ``a`` a data point not among
the ``a_mu`` and ``u`` a random unit vector; ``r = 1`` is a fresh noised query of section 5), the
annealed generating function per dimension ``phi(k) = (1/N) log E_a exp(-k E)`` is

    phi(k)  = -(1/2) < log(1 + k g) + k (g + r^2) / (1 + k g) >
    phi'(k) = -(1/2) < g / (1 + k g) + (g + r^2) / (1 + k g)^2 >
    s(k)    = alpha + phi(k) - k phi'(k)                  (entropy per dimension at inverse temperature k)

``s`` decreases from ``s(0) = alpha`` (``phi`` is convex); at ``r = 1``, ``s(1) = alpha - 0.5 <log(1 + g)>``,
negative exactly for ``t < t_C``. There the weights condense: ``k_c in (0, 1)`` solves ``s(k_c) = 0``,
the weights are Poisson-Dirichlet(``k_c``), ``E[Y2] = E sum w^2 = 1 - k_c``, and
``(1/N) log sum_mu exp(-E_mu) = (alpha + phi(k_c)) / k_c`` (``alpha + phi(1)`` above ``t_C``, ``k_c = 1``).

Shapes: ``k``, ``t``, ``alpha``, ``r`` broadcast against each other; the result has their broadcast
shape (the spectrum axis is averaged out).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from diffsim.theory._numerics import _bisect, _broadcast, _check_load, _check_time
from diffsim.theory.collapse import collapse_time, rho
from diffsim.theory._numerics import _check_range
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "rem_phi",
    "rem_phi_derivative",
    "rem_entropy",
    "condensation_point",
    "mean_y2",
    "free_energy",
    "weight_entropy",
    "weight_entropy_condensed",
    "rem_theory",
]

_LOG_K_LOWER = -700.0  # bisection for k_c runs in log k over [exp(-700), 1]
_LOG_K_TOL = 1e-14


def _check_inverse_temperature(k: ArrayLike) -> np.ndarray:
    return _check_range("k", k, low=0.0, high=np.inf, low_closed=True)


def _check_radius(r: ArrayLike) -> np.ndarray:
    return _check_range("r", r, low=0.0, high=np.inf, low_closed=True)


def _per_direction(
    k: ArrayLike, t: ArrayLike, spectrum: Spectrum, r: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated, broadcast ``k``, ``g = rho(t)`` and ``r^2``, shaped ``[..., 1]``, ``[..., n]``, ``[..., 1]``."""
    k, t, r = _broadcast(_check_inverse_temperature(k), _check_time(t), _check_radius(r))
    return k[..., None], rho(t, spectrum), (r**2)[..., None]


# Kernels on per-direction arrays (k, r2: [..., 1]; g: [..., n]); the public functions validate and
# broadcast once, so that the bisections below never recompute rho(t).


def _phi(k: np.ndarray, g: np.ndarray, r2: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    return -0.5 * spectrum.average(np.log1p(k * g) + k * (g + r2) / (1.0 + k * g))


def _phi_prime(k: np.ndarray, g: np.ndarray, r2: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    return -0.5 * spectrum.average(g / (1.0 + k * g) + (g + r2) / (1.0 + k * g) ** 2)


def _entropy(k: np.ndarray, g: np.ndarray, r2: np.ndarray, alpha: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    return alpha + _phi(k, g, r2, spectrum) - k[..., 0] * _phi_prime(k, g, r2, spectrum)


def _condensation_point(g: np.ndarray, r2: np.ndarray, alpha: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    """``k_c`` ``[...]`` for ``g`` ``[..., n]``, ``r2`` ``[..., 1]``, ``alpha`` ``[...]`` (all broadcast)."""
    condensed = _entropy(np.ones_like(r2), g, r2, alpha, spectrum) < 0
    log_k = _bisect(
        lambda u: _entropy(np.exp(u)[..., None], g, r2, alpha, spectrum),
        np.full(alpha.shape, _LOG_K_LOWER),
        np.zeros(alpha.shape),
        tol=_LOG_K_TOL,
    )
    return np.where(condensed, np.exp(log_k), 1.0)


def free_energy_from_rho(g: np.ndarray, r2: np.ndarray, alpha: np.ndarray, spectrum: Spectrum) -> np.ndarray:
    """Quenched REM free energy per dimension (section 6) at signal-to-noise ratios ``g = rho_i(t)``
    (``[..., n]`` on the spectrum's nodes) and squared query radius ``r2``: ``(alpha + phi(k_c)) / k_c``,
    ``k_c = 1`` where the sum is not condensed. Used by :mod:`diffsim.theory.traps`."""
    k_c = _condensation_point(g, r2, alpha, spectrum)[..., None]
    return (alpha + _phi(k_c, g, r2, spectrum)) / k_c[..., 0]


def rem_phi(k: ArrayLike, t: ArrayLike, spectrum: Spectrum, *, r: ArrayLike = 1.0) -> np.ndarray:
    """Annealed generating function per dimension ``phi(k) = -(1/2) <log(1 + k g) + k (g + r^2) / (1 + k g)>``.

    Section 5 (``r = 1``, fresh query) and section 6 (``phi_x``, query at radius ``r``). ``k >= 0``,
    ``0 < t <= inf``, ``r >= 0`` broadcast; returns their broadcast shape.
    """
    return _phi(*_per_direction(k, t, spectrum, r), spectrum)


def rem_phi_derivative(k: ArrayLike, t: ArrayLike, spectrum: Spectrum, *, r: ArrayLike = 1.0) -> np.ndarray:
    """``phi'(k) = -(1/2) <g / (1 + k g) + (g + r^2) / (1 + k g)^2>`` (sections 5-6); shapes as :func:`rem_phi`."""
    return _phi_prime(*_per_direction(k, t, spectrum, r), spectrum)


def rem_entropy(k: ArrayLike, t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum, *, r: ArrayLike = 1.0) -> np.ndarray:
    """Entropy per dimension ``s(k) = alpha + phi(k) - k phi'(k)`` at inverse temperature ``k`` (section 5).

    ``k``, ``t``, ``alpha > 0``, ``r`` broadcast; returns their broadcast shape.
    """
    k, t, alpha, r = _broadcast(
        _check_inverse_temperature(k), _check_time(t), _check_load(alpha), _check_radius(r)
    )
    return _entropy(*_per_direction(k, t, spectrum, r), alpha, spectrum)


def _at_times(
    t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum, r: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``g`` ``[..., n]``, ``r^2`` ``[..., 1]`` and ``alpha`` ``[...]``, broadcast over t, alpha, r."""
    t, alpha, r = _broadcast(_check_time(t), _check_load(alpha), _check_radius(r))
    _, g, r2 = _per_direction(1.0, t, spectrum, r)
    return g, r2, alpha


def condensation_point(t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum, *, r: ArrayLike = 1.0) -> np.ndarray:
    """Condensation point ``k_c``: the root of ``s(k_c) = 0`` in ``(0, 1)`` where ``s(1) < 0``, else 1.

    Section 5 (``r = 1``: ``k_c < 1`` exactly for ``t < t_C``) and section 6 (query at radius ``r``).
    Bisection in ``log k`` to 1e-14 (relative precision on ``k_c``). ``t``, ``alpha``, ``r`` broadcast.
    """
    return _condensation_point(*_at_times(t, alpha, spectrum, r), spectrum)


def mean_y2(t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Mean participation ``E[Y2] = E sum_mu w_mu^2 = 1 - k_c`` for a fresh query (section 5); 0 above ``t_C``."""
    return 1.0 - condensation_point(t, alpha, spectrum)


def free_energy(t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum, *, r: ArrayLike = 1.0) -> np.ndarray:
    """``(1/N) log sum_mu exp(-E_mu)`` to leading order (sections 5-6):

        (alpha + phi(k_c)) / k_c   where condensed (k_c < 1),     alpha + phi(1)   otherwise.

    (A log-partition function per dimension: minus the free energy at unit temperature.) It is the
    minimum of ``(alpha + phi(k)) / k`` over ``k in (0, 1]`` (its ``k``-derivative is ``-s(k) / k^2``),
    so it never exceeds the annealed ``alpha + phi(1)``. ``t``, ``alpha``, ``r`` broadcast.
    """
    return free_energy_from_rho(*_at_times(t, alpha, spectrum, r), spectrum)


def weight_entropy(t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Entropy per dimension of the posterior weights of a fresh query, ``-(1/N) sum w log w`` (section 5):

        max(0, s(1)) = max(0, alpha - 0.5 <log(1 + g)>),

    i.e. the excess entropy ``f_e(t)`` of section 4; it is ``O(1 / N)`` below ``t_C``
    (see :func:`weight_entropy_condensed` for that ``O(1)`` total). ``t``, ``alpha`` broadcast.
    """
    return np.maximum(0.0, rem_entropy(1.0, t, alpha, spectrum))


def weight_entropy_condensed(t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Total (not per-dimension) entropy ``E[-sum_mu w_mu log w_mu]`` of the condensed weights (section 5).

    For Poisson-Dirichlet(``k_c``) weights this is ``psi(1) - psi(1 - k_c)`` (``psi`` the digamma
    function): 0 as ``k_c -> 0`` (one point), diverging as ``t -> t_C`` from below; ``+inf`` for
    ``t >= t_C``, where the entropy is extensive (:func:`weight_entropy`). ``t``, ``alpha`` broadcast.
    """
    k_c = condensation_point(t, alpha, spectrum)
    with np.errstate(divide="ignore"):
        return np.where(k_c < 1.0, _digamma(np.ones_like(k_c)) - _digamma(1.0 - k_c), np.inf)


def rem_theory(times: ArrayLike, alpha: ArrayLike, spectrum: Spectrum) -> dict[str, float | np.ndarray]:
    """Every REM prediction of section 5 at ``times`` ``[T]``, each ``[T]``, and the scalar ``t_collapse``.

    Fresh queries: ``y2_fresh = 1 - k_c`` (:func:`mean_y2`), ``log_z_fresh`` (:func:`free_energy`),
    ``entropy_per_dim_fresh`` (``max(0, s(1))``, :func:`weight_entropy`) and ``entropy_fresh`` (total,
    ``psi(1) - psi(1 - k_c)``, inf above ``t_C``, :func:`weight_entropy_condensed`). Queries noised from
    a training point: ``y2_train`` (1 below ``t_C``, 0 above) and ``log_z_train = max(-1/2, free energy)``.
    """
    times = np.asarray(times, dtype=np.float64)
    t_c = float(collapse_time(alpha, spectrum))
    f = free_energy(times, alpha, spectrum)
    return {
        "t_collapse": t_c,
        "y2_fresh": mean_y2(times, alpha, spectrum),
        "y2_train": (times < t_c).astype(float),
        "log_z_fresh": f,
        "log_z_train": np.maximum(-0.5, f),
        "entropy_per_dim_fresh": weight_entropy(times, alpha, spectrum),
        "entropy_fresh": weight_entropy_condensed(times, alpha, spectrum),
    }


def _digamma(x: np.ndarray) -> np.ndarray:
    """Digamma ``psi(x)`` for ``x > 0`` (``x = 0`` gives ``-inf``), to ~1e-14.

    Recurrence ``psi(x) = psi(x + 10) - sum_{j<10} 1 / (x + j)``, then the asymptotic series at ``y >= 10``.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        shift = np.sum(1.0 / (x[..., None] + np.arange(10.0)), axis=-1)
    y = x + 10.0
    inv2 = 1.0 / y**2
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return np.log(y) - 0.5 / y - series - shift
