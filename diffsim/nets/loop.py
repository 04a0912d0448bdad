"""The one training loop: any loss, any optax transform, many steps per jitted ``lax.scan``.

A training run is a :class:`TrainState` (split model, optimiser state, EMA of the weights, PRNG
key, one pytree), an :class:`Objective` (the loss and the randomness it consumes) and an
``optax.GradientTransformation``. :func:`fit_steps` advances the state ``n_steps`` steps in one
jitted ``lax.scan`` (one host round trip): the objective draws the dispatch's inputs up front,
``draws(key, step, data, n_steps) -> (key, xs)``, and each step takes one gradient step on
``loss(model, x, data)`` for one slice ``x`` of ``xs``. A state with a leading ``[M]`` axis (its
``step`` is ``[M]``) is an ensemble, advanced as one ``vmap`` over the members and their ``data``;
the objective's own leaves are shared by every member. :func:`fit` dispatches until ``steps``,
stopping at checkpoints for a callback::

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.adam(1e-3)
    state = TrainState.start(params, rest, tx.init(params), key)
    result = fit(graphdef, state, DSM(config), tx, (points, n_points), steps=4000, steps_per_dispatch=100)

The objectives of the package: :class:`diffsim.nets.DSM` (denoising score matching),
:class:`diffsim.nets.conditional.ConditionalDSM` (with label dropout) and
:class:`diffsim.measure.separation_size.ScoreRegression` (regression onto a given score).
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from diffsim import _validate

__all__ = ["Objective", "TrainState", "FitResult", "fit_steps", "fit"]


class Objective(Protocol):
    """A training loss and its randomness; a pytree (its arrays, e.g. a training set, are traced
    and shared by the members of an ensemble; its settings are static fields)."""

    def draws(self, key: jax.Array, step: jax.Array, data: Any, n_steps: int) -> tuple[jax.Array, Any]:
        """The inputs of the ``n_steps`` steps that start at ``step`` (a pytree, leading
        ``[n_steps]`` on every leaf) and the member's key for the next dispatch."""
        ...

    def loss(self, model: nnx.Module, x: Any, data: Any) -> jax.Array:
        """The scalar loss of one step on its inputs ``x`` (one slice of the draws)."""
        ...


class TrainState(NamedTuple):
    """Everything that advances during training, one pytree (leading ``[M]`` for an ensemble).

    step: int32 step counter; params: differentiated ``nnx.State``; rest: the model's other
    variables (head masks); opt_state: optax state; ema: EMA of params; key: uint32 PRNG key.
    """

    step: jax.Array
    params: Any
    rest: Any
    opt_state: Any
    ema: Any
    key: jax.Array

    @classmethod
    def start(cls, params, rest, opt_state, key) -> "TrainState":
        """A state at step 0 (the EMA a copy of ``params``); ``key [2]`` for one model, ``[M, 2]``
        for an ensemble (then every other argument has the leading ``[M]``)."""
        key = jnp.asarray(key)
        members = key.shape if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key.shape[:-1]
        return cls(jnp.zeros(members, jnp.int32), params, rest, opt_state, jax.tree_util.tree_map(jnp.copy, params), key)


class FitResult(NamedTuple):
    """The final state, the step at which each ``losses`` entry ends (``[D]``), the mean training
    loss of each dispatch (``[D]``, ``[D, M]`` for an ensemble), the wall time and the checkpoint
    callback's outputs ``[(step, output), ...]``."""

    state: TrainState
    loss_steps: np.ndarray
    losses: np.ndarray
    seconds: float
    evaluations: list


def _step(graphdef, objective, tx, ema_decay: float, state: TrainState, data, x):
    """One gradient step of ``objective.loss`` on the inputs ``x``, then the EMA update with the
    warm-up ``min(ema_decay, (1 + k) / (10 + k))`` at step k."""

    def loss_fn(params):
        return objective.loss(nnx.merge(graphdef, params, state.rest), x, data)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    k = state.step.astype(jax.tree_util.tree_leaves(params)[0].dtype)
    decay = jnp.minimum(ema_decay, (1.0 + k) / (10.0 + k))
    ema = jax.tree_util.tree_map(lambda e, p: decay * e + (1.0 - decay) * p, state.ema, params)
    return TrainState(state.step + 1, params, state.rest, opt_state, ema, state.key), loss


@partial(jax.jit, static_argnames=("graphdef", "tx", "n_steps", "ema_decay"), donate_argnums=(0,))
def fit_steps(state: TrainState, objective: Objective, data=None, *, graphdef: nnx.GraphDef,
              tx: optax.GradientTransformation, n_steps: int, ema_decay: float = 0.0):
    """Advance ``state`` ``n_steps`` steps of ``objective`` with ``tx`` in one ``lax.scan``.

    Args:
      state: :class:`TrainState` of one model, or of an ensemble (leading ``[M]``); donated.
      objective: the :class:`Objective` (shared by the members).
      data: the member's data read by the objective (an ensemble: leading ``[M]`` on every leaf).
      graphdef: the static part of the split model.
      tx: the optax transform (static: pass the same object to reuse the compile).
      n_steps: steps of this dispatch.
      ema_decay: decay of the EMA of the weights (0: the EMA follows the weights).

    Returns ``(state, losses)``, ``losses [n_steps]`` (``[M, n_steps]`` for an ensemble).
    """

    def member(st, d):
        key, xs = objective.draws(st.key, st.step, d, n_steps)
        st, losses = jax.lax.scan(lambda s, x: _step(graphdef, objective, tx, ema_decay, s, d, x), st, xs)
        return st._replace(key=key), losses

    if jnp.ndim(state.step) == 0:
        return member(state, data)
    return jax.vmap(member)(state, data)


def fit(
    graphdef: nnx.GraphDef,
    state: TrainState,
    objective: Objective,
    tx: optax.GradientTransformation,
    data=None,
    *,
    steps: int,
    steps_per_dispatch: int,
    ema_decay: float = 0.0,
    checkpoints: tuple[int, ...] = (),
    on_checkpoint: Callable[[int, TrainState], Any] | None = None,
    progress: Callable[[int, np.ndarray], Any] | None = None,
) -> FitResult:
    """Train ``state`` for ``steps`` steps of ``objective`` with the optax transform ``tx``.

    Args:
      graphdef, state: the split model and its :class:`TrainState` (an ensemble: leading ``[M]``).
      objective, data: the :class:`Objective` and the members' data (see :func:`fit_steps`).
      tx: any ``optax.GradientTransformation`` (e.g. ``optax.adam(1e-3)``), whose state
        ``state.opt_state`` is.
      steps: steps in all, a multiple of ``steps_per_dispatch`` (steps per jitted scan).
      ema_decay: decay of the EMA of the weights kept in ``state.ema`` (0: none).
      checkpoints: steps (multiples of ``steps_per_dispatch``, 0 allowed) at which
        ``on_checkpoint(step, state)`` is called; its outputs are collected.
      progress: ``progress(step, losses)`` after every dispatch, ``losses`` its mean loss (per member).
    """
    if steps % steps_per_dispatch:
        raise _validate.ConfigError(f"steps={steps} is out of range: expected a multiple of steps_per_dispatch={steps_per_dispatch}")
    stops = sorted({*checkpoints, steps})
    evaluations, loss_steps, losses = [], [], []
    start = time.time()
    step = 0
    for target in stops:
        while step < target:
            state, chunk = fit_steps(state, objective, data, graphdef=graphdef, tx=tx, n_steps=steps_per_dispatch,
                                     ema_decay=ema_decay)
            step += steps_per_dispatch
            loss_steps.append(step)
            losses.append(np.asarray(jnp.mean(chunk, axis=-1)))
            if progress is not None:
                progress(step, losses[-1])
        if on_checkpoint is not None and target in checkpoints:
            evaluations.append((step, on_checkpoint(step, state)))
    jax.block_until_ready(state)
    return FitResult(state, np.asarray(loss_steps), np.asarray(losses), time.time() - start, evaluations)
