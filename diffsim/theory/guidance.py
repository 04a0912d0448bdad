"""Closed forms for classifier-free guidance on a memorized condition (THEORY.md section 9).

Float64 NumPy. For a condition whose class has one training point ``x*`` the exact conditional
denoiser is ``x0_c = x*`` at every t, and the unconditional one tends to the training mean ``mu`` at
large t (the posterior over training points becomes uniform), so

    x0_hat_g = x0_u + g (x0_c - x0_u)  ->  mu + g (x* - mu),   overestimation |x0_g - mu| / |x* - mu| -> g.

At ``g = 1`` the guided denoiser is the constant ``x*``, and the DDIM update
``x_{t'} = m_{t'} x* + sqrt(Delta_{t'} / Delta_t) (x_t - m_t x*)`` is exact for any grid:

    x_t = m_t x* + sqrt(Delta_t / Delta_T) (x_T - m_T x*),
    w0(t) = m_t - m_T sqrt(Delta_t / Delta_T),   wT(t) = sqrt(Delta_t / Delta_T),

so the deviations from the schedule ``(m_t, sqrt(Delta_t))`` are ``O(m_T)``:
``D1 = -m_T sum_t sqrt(Delta_t / Delta_T)``, ``D2 = -sum_t (sqrt(Delta_t / Delta_T) - sqrt(Delta_t))``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["overestimation_limit", "one_point_ddim_weights", "schedule_deviations", "one_point_deviations"]


def overestimation_limit(guidance: ArrayLike) -> np.ndarray:
    """Large-t limit of ``|x0_hat_g - mu| / |x* - mu|`` for a one-point class with exact scores: ``g``."""
    return np.abs(np.asarray(guidance, dtype=np.float64))


def _schedule(times: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=np.float64)
    return np.exp(-t), -np.expm1(-2.0 * t)


def one_point_ddim_weights(times: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(w0 [S+1], wT [S+1])`` of the exact DDIM trajectory at ``g = 1`` for a one-point class,
    started at ``times[0]`` (module docstring)."""
    mt, dt = _schedule(times)
    ratio = np.sqrt(dt / dt[0])
    return mt - mt[0] * ratio, ratio


def schedule_deviations(times: ArrayLike, w0: ArrayLike, wT: ArrayLike) -> tuple[float, float]:
    """``D1 = sum_t (w0 - m_t)``, ``D2 = -sum_t (wT - sqrt(Delta_t))`` over the grid ``times``."""
    mt, dt = _schedule(times)
    return float(np.sum(np.asarray(w0) - mt)), float(-np.sum(np.asarray(wT) - np.sqrt(dt)))


def one_point_deviations(times: ArrayLike) -> tuple[float, float]:
    """``(D1, D2)`` of :func:`one_point_ddim_weights`."""
    return schedule_deviations(times, *one_point_ddim_weights(times))
