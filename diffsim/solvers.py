"""Backward solvers as strategy objects for :func:`diffsim.sample.sample` (THEORY.md sections 0 and 9).

A solver makes one step of the backward dynamics from ``t`` down to ``t_next = t - h`` with a *drift*
(see :mod:`diffsim.sample`), as a diffrax solver makes one step of an ODE:

* :class:`EulerMaruyama`, the backward SDE:   ``x_{t-h} = x_t + h (x_t + 2 s(x_t, t)) + sqrt(2h) z``
* :class:`Heun`, the probability-flow ODE:    ``x_{t-h} = x_t + h (x_t + s(x_t, t))`` with a trapezoidal
  corrector (second order);
* :class:`DDIM`, deterministic DDIM on the OU clock:
  ``x_{t'} = m_{t'} x0_hat(x_t, t) + sqrt(Delta_{t'}) eps_hat(x_t, t)``, exact (for any step size) when
  ``x0_hat`` is constant along the step, and stable under strong guidance because ``x0_hat`` is bounded
  (no ``g / Delta_t`` stiffness).

Each is a frozen dataclass registered as a pytree without leaves, so it is a valid argument of a jitted
function (its class keys the compilation). Configs name a solver by a string (``method = "ode"``);
:data:`SOLVERS` maps the names to the classes and :func:`solver` turns a name into a solver once, at
the edge. A new solver is a subclass with a ``step`` and a line in :data:`SOLVERS`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Callable, Literal

import jax
import jax.numpy as jnp

from diffsim import _validate
from diffsim.process import delta, denoised, m, noise_prediction

__all__ = ["Solver", "EulerMaruyama", "Heun", "DDIM", "SOLVERS", "SolverName", "solver", "check_solver", "evaluate_drift"]


def evaluate_drift(drift: Callable, x: jax.Array, t) -> tuple[jax.Array, dict]:
    """``(score [B, N], stats)`` of a drift returning a score or a ``(score, stats)`` pair."""
    out = drift(x, t)
    if isinstance(out, tuple):
        return out
    return out, {}


def _column(t, x: jax.Array) -> jax.Array:
    """``t`` as ``[B, 1]`` (or scalar) to broadcast against x."""
    t = jnp.asarray(t, x.dtype)
    return t[:, None] if t.ndim == 1 else t


class Solver(abc.ABC):
    """One step of the backward dynamics (module docstring); subclasses are frozen pytree dataclasses."""

    @abc.abstractmethod
    def step(self, drift: Callable, x: jax.Array, t, t_next, key: jax.Array) -> tuple[jax.Array, dict]:
        """One backward step of the states ``x [B, N]`` from ``t`` to ``t_next < t`` (scalars or ``[B]``).

        Args:
          drift: score ``(x, t) -> score [B, N]`` or ``-> (score, stats)``.
          key: PRNG key of this step's noise (unused by deterministic solvers).

        Returns ``(x_next [B, N], stats)``, ``stats`` the drift's observables at ``(x, t)``.
        """


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class EulerMaruyama(Solver):
    """Euler-Maruyama for the backward SDE ``x_{t-h} = x_t + h (x_t + 2 s(x_t, t)) + sqrt(2h) z``."""

    def step(self, drift, x, t, t_next, key):
        h = _column(t - t_next, x)
        score, stats = evaluate_drift(drift, x, t)
        z = jax.random.normal(key, x.shape, x.dtype)
        return x + h * (x + 2.0 * score) + jnp.sqrt(2.0 * h) * z, stats


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Heun(Solver):
    """Heun (trapezoidal predictor-corrector) for the probability-flow ODE ``dx/d(-t) = x + s(x, t)``."""

    def step(self, drift, x, t, t_next, key):
        score, stats = evaluate_drift(drift, x, t)
        d1 = x + score
        h = _column(t - t_next, x)
        x_pred = x + h * d1
        score2, _ = evaluate_drift(drift, x_pred, t_next)
        return x + 0.5 * h * (d1 + x_pred + score2), stats


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class DDIM(Solver):
    """Deterministic DDIM ``x_{t'} = m_{t'} x0_hat(x_t, t) + sqrt(Delta_{t'}) eps_hat(x_t, t)``, with
    ``x0_hat`` and ``eps_hat`` the Tweedie denoiser and the noise prediction of the drift's score."""

    def step(self, drift, x, t, t_next, key):
        score, stats = evaluate_drift(drift, x, t)
        x0 = denoised(x, t, score)
        eps = noise_prediction(x, t, score)
        t_next = _column(t_next, x)
        return m(t_next) * x0 + jnp.sqrt(delta(t_next)) * eps, stats


SolverName = Literal["sde", "ode", "ddim"]
SOLVERS: dict[str, type[Solver]] = {"sde": EulerMaruyama, "ode": Heun, "ddim": DDIM}


def solver(name: str) -> Solver:
    """The solver a config names: ``sde`` (:class:`EulerMaruyama`), ``ode`` (:class:`Heun`) or ``ddim``
    (:class:`DDIM`); ConfigError naming ``solver`` otherwise."""
    return SOLVERS[_validate.choice("solver", name, SOLVERS)]()


def check_solver(value: Any) -> Solver:
    """``value`` if it is a :class:`Solver`, else a ConfigError naming ``solver`` and the choices."""
    if not isinstance(value, Solver):
        raise _validate.ConfigError(
            f"solver={value!r} is not a Solver: expected one of "
            f"{', '.join(f'{cls.__name__}()' for cls in SOLVERS.values())} "
            f"(diffsim.solver(name) turns a config name, one of {', '.join(SOLVERS)}, into one)"
        )
    return value
