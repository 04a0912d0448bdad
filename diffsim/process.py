"""The forward Ornstein-Uhlenbeck process and its clocks (THEORY.md section 0).

``dx = -x dt + sqrt(2) dW``, so ``x_t = m_t x_0 + sqrt(Delta_t) xi`` with ``m_t = exp(-t)`` and
``Delta_t = 1 - exp(-2 t)``. Every other clock used in the literature is converted here, in one place:

* variance exploding / EDM:  ``sigma_t^2 = exp(2t) - 1``      (``y = x_t / m_t = x_0 + sigma xi``)
* DDPM:                      ``alpha_bar_t = m_t^2``
* "Provable Separations":    ``dX = -X/2 ds + dB``, time ``s = 2 t``

The clock functions are elementwise and work on floats or arrays (NumPy or JAX). The score ``s`` of
the noised law has two other parameterisations: the noise prediction ``eps = -sqrt(Delta_t) s`` and the
Tweedie denoiser ``x0_hat = (x + Delta_t s) / m_t`` (:func:`noise_prediction`, :func:`denoised`).
Training times follow :func:`log_sigma_times` (``log sigma_t`` uniform) or a grid of :func:`time_grid`.
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate

__all__ = [
    "m",
    "delta",
    "sigma_from_t",
    "t_from_sigma",
    "alpha_bar_from_t",
    "t_from_alpha_bar",
    "separations_time_from_t",
    "t_from_separations_time",
    "noise_prediction",
    "denoised",
    "log_sigma_times",
    "time_grid",
    "GRID_KINDS",
    "time_column",
    "GridKind",
]

# The linear clock changes keep the kind of their argument (float, NumPy or JAX array).
_Time = TypeVar("_Time", float, np.ndarray, jax.Array)
Times = float | np.ndarray | jax.Array  # a time or an array of times, any shape


def m(t: Times) -> jax.Array:
    """Signal coefficient ``m_t = exp(-t)``."""
    return jnp.exp(-t)


def delta(t: Times) -> jax.Array:
    """Noise variance ``Delta_t = 1 - exp(-2t)`` (computed as ``-expm1(-2t)``, accurate at small t)."""
    return -jnp.expm1(-2.0 * t)


def sigma_from_t(t: Times) -> jax.Array:
    """VE / EDM noise level ``sigma_t = sqrt(exp(2t) - 1)``."""
    return jnp.sqrt(jnp.expm1(2.0 * t))


def t_from_sigma(sigma: Times) -> jax.Array:
    """Inverse of :func:`sigma_from_t`: ``t = 0.5 log(1 + sigma^2)``."""
    return 0.5 * jnp.log1p(jnp.square(sigma))


def alpha_bar_from_t(t: Times) -> jax.Array:
    """DDPM ``alpha_bar_t = m_t^2 = exp(-2t)``."""
    return jnp.exp(-2.0 * t)


def t_from_alpha_bar(alpha_bar: Times) -> jax.Array:
    """Inverse of :func:`alpha_bar_from_t`: ``t = -0.5 log(alpha_bar)``."""
    return -0.5 * jnp.log(alpha_bar)


def separations_time_from_t(t: _Time) -> _Time:
    """Time of the "Provable Separations" clock (``dX = -X/2 ds + dB``): ``s = 2t``."""
    return 2.0 * t


def t_from_separations_time(s: _Time) -> _Time:
    """Inverse of :func:`separations_time_from_t`."""
    return 0.5 * s


def time_column(x, t):
    """``t`` (scalar or ``[B]``) as a ``[B, 1]`` column of x's dtype (to scale states ``x [B, N]``)."""
    return jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])[:, None]


def noise_prediction(x, t, score):
    """``eps_hat = -sqrt(Delta_t) s`` of states ``x [B, N]`` at times ``t`` (scalar or ``[B]``), ``[B, N]``."""
    return -jnp.sqrt(delta(time_column(x, t))) * score


def denoised(x, t, score):
    """Tweedie ``x0_hat = (x + Delta_t s) / m_t`` of states ``x [B, N]`` at times ``t`` (scalar or ``[B]``),
    ``[B, N]``."""
    tt = time_column(x, t)
    return (x + delta(tt) * score) / m(tt)


def log_sigma_times(key, shape, t_min: float, t_max: float, dtype=jnp.float32):
    """Times ``t`` of the given ``shape`` with ``log sigma_t ~ U[log sigma(t_min), log sigma(t_max)]``
    (``sigma_t^2 = exp(2t) - 1``): the same number of draws per decade of noise level, the training-time
    law of the score networks. The bounds are Python floats, so the law can be drawn inside jit."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    lo, hi = (0.5 * math.log(math.expm1(2.0 * t_min)), 0.5 * math.log(math.expm1(2.0 * t_max)))
    return t_from_sigma(jnp.exp(jax.random.uniform(key, shape, dtype, lo, hi)))


GridKind = Literal["log", "uniform", "edm"]
GRID_KINDS: tuple[GridKind, ...] = ("log", "uniform", "edm")


def time_grid(t_max: float, t_min: float, n_steps: int, kind: str = "log") -> np.ndarray:
    """Decreasing time grid ``t_0 = t_max > ... > t_{n_steps} = t_min`` for the backward process.

    kinds:
      * ``"log"``: geometric spacing, refined near 0; the step ``h`` stays a fixed fraction of ``t``,
        so the Euler step of the empirical score (stiffness ``~ 1/Delta_t``) is stable down to t_min.
      * ``"uniform"``: equal steps in t.
      * ``"edm"``: Karras et al. spacing (rho = 7) in the sigma clock.

    Returns a float64 NumPy array of shape ``[n_steps + 1]``.
    """
    t_max = _validate.positive("t_max", t_max)
    t_min = _validate.positive("t_min", t_min)
    if t_min >= t_max:
        raise _validate.ConfigError(f"t_min={t_min!r} is out of range: expected 0 < t_min < t_max={t_max}")
    n_steps = _validate.integer("n_steps", n_steps, minimum=1)
    _validate.choice("kind", kind, GRID_KINDS)
    u = np.linspace(0.0, 1.0, n_steps + 1)
    if kind == "log":
        grid = np.exp(np.log(t_max) + u * (np.log(t_min) - np.log(t_max)))
    elif kind == "uniform":
        grid = t_max + u * (t_min - t_max)
    else:
        rho = 7.0
        s_max, s_min = (np.sqrt(np.expm1(2 * x)) for x in (t_max, t_min))
        sig = (s_max ** (1 / rho) + u * (s_min ** (1 / rho) - s_max ** (1 / rho))) ** rho
        grid = 0.5 * np.log1p(sig**2)
    grid[0], grid[-1] = t_max, t_min
    return grid
