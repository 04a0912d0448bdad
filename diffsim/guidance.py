"""Classifier-free guidance as a score combinator (THEORY.md section 9).

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

A guided drift is sampled by :func:`diffsim.sample.sample` with any solver; the deterministic
:class:`~diffsim.solvers.DDIM`,

    x_{t'} = m_{t'} x0_hat_g(x_t, t) + sqrt(Delta_{t'}) eps_g(x_t, t),

is exact (for any step size) when ``x0_hat`` is constant along the step, and stable for any g because
``x0_hat_g`` is bounded (no ``g / Delta_t`` stiffness). The score conversions
:func:`~diffsim.process.noise_prediction` and :func:`~diffsim.process.denoised` are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp

from diffsim.process import delta, denoised, m, noise_prediction, time_column
from diffsim.sample import as_drift

__all__ = ["Guided", "guided", "noise_prediction", "denoised"]


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
        tt = time_column(x, t)
        mt, dt = m(tt), delta(tt)
        eps_diff = -(mt / jnp.sqrt(dt)) * (x0_c - x0_u)
        return (mt * x0_g - x) / dt, {"denoised": x0_g, "eps_difference": eps_diff}


def guided(denoiser: Callable, label, guidance) -> Guided:
    """:class:`Guided` with ``label`` and ``guidance`` as arrays (int32 and float32); a bound method
    (``data.denoiser``, ``model.denoiser``) is wrapped as a pytree callable."""
    return Guided(as_drift(denoiser), jnp.asarray(label, jnp.int32), jnp.asarray(guidance, jnp.float32))
