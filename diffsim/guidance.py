"""Classifier-free guidance as a score combinator, and a deterministic DDIM sampler (THEORY.md section 9).

A *conditional denoiser* is any pytree callable ``(x [B, N], t, label) -> x0_hat [B, N]`` where
``label`` is a scalar int32 (traced allowed) and ``label = -1`` is the unconditional branch; the
score follows as ``s = (m_t x0_hat - x) / Delta_t``. Provided by
:class:`~diffsim.data.conditional.ClassConditionalSet` (``.denoiser``: exact empirical, streamed),
the data models of :mod:`diffsim.data.conditional` (``.denoiser``: exact true posterior means) and
:class:`diffsim.nets.conditional.ConditionalLearnedScore` (one network, label dropout).

Guidance combines the two branches linearly,

    s_g = s_u + g (s_c - s_u),

and since ``eps = -sqrt(Delta_t) s`` and ``x0_hat = (x + Delta_t s) / m_t`` are affine in ``s`` with
weights summing to one, the same combination holds for noise predictions and denoisers:
``eps_g = eps_u + g (eps_c - eps_u)``, ``x0_hat_g = x0_u + g (x0_c - x0_u)``.

:class:`Guided` is a sampler drift ``(x, t) -> (s_g, stats)`` (frozen pytree: the label and ``g`` are
array leaves, so new conditions and scales reuse the compiled sampler, also under ``vmap``).
``stats`` holds ``denoised`` (``x0_hat_g``) and ``eps_difference`` (``eps_c - eps_u``), recorded by
the samplers at every step.

:func:`ddim_sample` is the deterministic DDIM update on the OU clock,

    x_{t'} = m_{t'} x0_hat_g(x_t, t) + sqrt(Delta_{t'}) eps_g(x_t, t),

exact (for any step size) when ``x0_hat`` is constant along the step, and stable for any g because
``x0_hat_g`` is bounded (no ``g / Delta_t`` stiffness). The probability-flow Heun and the SDE
samplers are those of :func:`diffsim.sample.sample`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from diffsim import _validate
from diffsim.process import delta, m
from diffsim.sample import as_drift

__all__ = ["Guided", "guided", "DDIMTrajectories", "ddim_sample", "noise_prediction", "denoised"]


def _column(x, t):
    return jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])[:, None]


def noise_prediction(x, t, score):
    """``eps_hat = -sqrt(Delta_t) s``, ``[B, N]``."""
    return -jnp.sqrt(delta(_column(x, t))) * score


def denoised(x, t, score):
    """Tweedie ``x0_hat = (x + Delta_t s) / m_t``, ``[B, N]``."""
    tt = _column(x, t)
    return (x + delta(tt) * score) / m(tt)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class Guided:
    """Classifier-free guidance ``x0_g = x0_u + g (x0_c - x0_u)`` as a score drift
    ``(x, t) -> (s_g, stats)``, ``s_g = (m_t x0_g - x) / Delta_t = s_u + g (s_c - s_u)``.

    The combination is taken on the denoisers, which every conditional model computes directly
    (posterior means, closed forms, networks): recovering ``x0`` from a score,
    ``(x + Delta_t s) / m_t``, loses ``1 / m_t`` digits at large t.

    Attributes:
      denoiser: conditional denoiser ``(x, t, label) -> x0_hat [B, N]`` (a pytree; module docstring).
      label: scalar int32 condition (``-1`` gives the unconditional branch for both).
      guidance: scalar g (``g = 1``: the conditional model; ``g = 0``: the unconditional one).
    """

    denoiser: Any
    label: jax.Array
    guidance: jax.Array

    def branches(self, x, t):
        """``(x0_u, x0_c)``, each ``[B, N]``."""
        return self.denoiser(x, t, jnp.asarray(-1, jnp.int32)), self.denoiser(x, t, self.label)

    def __call__(self, x, t):
        x0_u, x0_c = self.branches(x, t)
        x0_g = x0_u + self.guidance * (x0_c - x0_u)
        tt = _column(x, t)
        mt, dt = m(tt), delta(tt)
        eps_diff = -(mt / jnp.sqrt(dt)) * (x0_c - x0_u)
        return (mt * x0_g - x) / dt, {"denoised": x0_g, "eps_difference": eps_diff}


def guided(denoiser: Callable, label, guidance) -> Guided:
    """:class:`Guided` with ``label`` and ``guidance`` as arrays (int32 and float32); a bound method
    (``data.denoiser``, ``model.denoiser``) is wrapped as a pytree callable."""
    return Guided(as_drift(denoiser), jnp.asarray(label, jnp.int32), jnp.asarray(guidance, jnp.float32))


class DDIMTrajectories(NamedTuple):
    """Result of :func:`ddim_sample`: ``final [B, N]`` (state at ``times[-1]``), ``denoised [B, N]``
    (``x0_hat`` at the last time), ``times [S+1]``, ``states [S+1, B, N]`` and ``records``: the
    drift's stats at every time, each ``[S+1, B, ...]``."""

    final: jax.Array
    denoised: jax.Array
    times: jax.Array
    states: jax.Array
    records: dict


def _evaluate(drift, x, t):
    out = drift(x, t)
    return out if isinstance(out, tuple) else (out, {})


@jax.jit
def _ddim(drift, x_init, times):
    def step(x, tt):
        t, t_next = tt
        s, stats = _evaluate(drift, x, t)
        x0 = denoised(x, t, s)
        eps = noise_prediction(x, t, s)
        x_next = m(t_next) * x0 + jnp.sqrt(delta(t_next)) * eps
        return x_next, (x, stats)

    x_final, (states, stats) = jax.lax.scan(step, x_init, (times[:-1], times[1:]))
    s_last, stats_last = _evaluate(drift, x_final, times[-1])
    states = jnp.concatenate([states, x_final[None]], 0)
    records = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b[None]], 0), stats, stats_last)
    return DDIMTrajectories(x_final, denoised(x_final, times[-1], s_last), times, states, records)


def ddim_sample(drift: Callable, x_init, times) -> DDIMTrajectories:
    """Deterministic DDIM from ``times[0]`` down to ``times[-1]`` (module docstring), keeping every state.

    Args:
      drift: score drift ``(x, t) -> score`` or ``-> (score, stats)`` (a pytree, e.g. :class:`Guided`).
      x_init: ``[B, N]`` initial states.
      times: decreasing ``[S + 1]`` grid (:func:`diffsim.process.time_grid`).
    """
    times = jnp.asarray(times, jnp.asarray(x_init).dtype)
    if times.ndim != 1 or times.shape[0] < 2:
        raise _validate.ConfigError(f"times has shape {times.shape}: expected a decreasing [S + 1] grid, S >= 1")
    return _ddim(drift, jnp.asarray(x_init), times)
