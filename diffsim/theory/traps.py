"""Traps and basins of the empirical potential ``U_t = -log p_t^e`` (THEORY.md section 6) [derived].

A query ``x = m_t a_mu + sqrt(N Delta_t) r u`` (``u`` a random unit vector) is dominated by its own
training point ``mu`` iff the own Boltzmann term, ``-r^2 / 2`` per dimension, beats the REM
log-partition function of the ``P - 1`` others at that query (:func:`diffsim.theory.rem.free_energy`
with radius ``r``). The basin radius ``r_b(t)`` is where they are equal:

* annealed (others not condensed):  ``r_b^2 = 1 + (<log(1 + rho)> - 2 alpha) / <rho / (1 + rho)>``;
* general: ``-r_b^2 / 2 = (alpha + phi_x(k_c)) / k_c`` with ``k_c = k_c(t, r_b)`` (``k_c = 1``: annealed).

``r_b(t_C) = 1`` (the typical noise radius, hence the collapse time) and ``r_b(t_o) = 0`` at the trap
onset time ``t_o > t_C`` (:func:`trap_onset_time`). For ``t >= t_C`` the two forms agree (at
``r <= 1`` the others are never condensed); below ``t_C`` the condensed form gives a larger radius.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from diffsim.theory._numerics import _bisect, _broadcast, _check_load, _check_time
from diffsim.theory.collapse import (
    collapse_time,
    mutual_information,
    rho,
    signal_fraction,
    trap_onset_time,
)
from diffsim.theory.rem import free_energy_from_rho
from diffsim.theory.spectrum import Spectrum

__all__ = ["basin_radius_annealed", "basin_radius", "trap_onset_time", "traps_theory"]

_RADIUS_TOL = 1e-12


def basin_radius_annealed(t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Annealed basin radius ``r_b = sqrt(max(0, 1 + (<log(1 + rho)> - 2 alpha) / <rho / (1 + rho)>))``.

    Section 6. Returns 0 where ``r_b^2 <= 0``, i.e. for ``t >= t_o`` (no trap: the basin is empty).
    Valid where the other points are not condensed at ``r_b`` (``t >= t_C``); see :func:`basin_radius`.
    ``t`` (``0 < t <= inf``) and ``alpha > 0`` broadcast; returns their broadcast shape.
    """
    alpha = _check_load(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 + (2.0 * mutual_information(t, spectrum) - 2.0 * alpha) / signal_fraction(t, spectrum)
    return np.sqrt(np.maximum(np.nan_to_num(r2, nan=0.0, neginf=0.0), 0.0))


def basin_radius(t: ArrayLike, alpha: ArrayLike, spectrum: Spectrum) -> np.ndarray:
    """Basin radius ``r_b`` solving ``-r_b^2 / 2 = free_energy(t, alpha, r=r_b)`` (section 6).

    The others' log-partition function at radius ``r`` is annealed (``alpha + phi_x(1)``) or condensed
    (``(alpha + phi_x(k_c)) / k_c``) as the REM dictates; ``-r^2 / 2 - free_energy`` decreases in ``r``
    (its ``r^2``-slope is ``-<k_c rho / (1 + k_c rho)> / 2``), so ``r_b`` is found by bisection to 1e-12.
    Returns 0 where no basin exists (``t >= t_o``). ``t``, ``alpha`` broadcast; returns their shape.
    """
    t, alpha = _broadcast(_check_time(t), _check_load(alpha))
    g = rho(t, spectrum)

    def own_minus_others(r: np.ndarray) -> np.ndarray:
        return -0.5 * r**2 - free_energy_from_rho(g, (r**2)[..., None], alpha, spectrum)

    zero = np.zeros(t.shape)
    hi = np.maximum(2.0 * basin_radius_annealed(t, alpha, spectrum), 1.0)
    for _ in range(64):
        own_wins = own_minus_others(hi) >= 0
        if not np.any(own_wins):
            break
        hi = np.where(own_wins, 2.0 * hi, hi)
    radius = _bisect(own_minus_others, zero, hi, tol=_RADIUS_TOL)
    return np.where(own_minus_others(zero) > 0, radius, 0.0)


def traps_theory(times: ArrayLike, alpha: ArrayLike, spectrum: Spectrum) -> dict[str, float | np.ndarray]:
    """The predictions of section 6: ``t_onset`` (:func:`trap_onset_time`), ``t_collapse`` (scalars)
    and ``basin_radius`` ``r_b`` at ``times`` ``[T]`` (:func:`basin_radius`)."""
    return {
        "t_onset": float(trap_onset_time(alpha, spectrum)),
        "t_collapse": float(collapse_time(alpha, spectrum)),
        "basin_radius": basin_radius(np.asarray(times, dtype=np.float64), alpha, spectrum),
    }
