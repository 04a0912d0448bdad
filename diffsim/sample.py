"""The backward sampling driver under ``lax.scan`` (THEORY.md section 0).

A *drift* is any callable ``(x [B, N], t scalar or [B]) -> score [B, N]`` or ``-> (score, stats)``
where ``stats`` is a dict of per-query observables computed in the same pass (the empirical score
returns its posterior statistics this way, so observables cost nothing extra).

:func:`sample` integrates a drift with a *solver*, a strategy object of :mod:`diffsim.solvers` passed
as diffrax passes one: ``sample(key, drift, x, times, solver=EulerMaruyama())`` (the backward SDE, the
default), ``Heun()`` (probability-flow ODE) or ``DDIM()`` (deterministic DDIM).

Observables are recorded every ``record_every`` steps (and at the final time); full trajectories
are kept only on request. Times may be shared (``[n_steps + 1]``) or per trajectory
(``[n_steps + 1, B]``), which lets clones branched at different times integrate in one batch.
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim.process import time_grid
from diffsim.solvers import EulerMaruyama, Solver, check_solver, evaluate_drift

__all__ = ["Trajectories", "as_drift", "sample", "branch_and_continue"]


class Trajectories(NamedTuple):
    """Result of a backward run.

    final: ``[B, N]`` states at the last time; times: ``[R]`` or ``[R, B]`` record times;
    records: dict of observables, each ``[R, B, ...]``; states: ``[R, B, N]`` or None.
    """

    final: jax.Array
    times: jax.Array
    records: dict
    states: Any


def as_drift(fn: Callable) -> Callable:
    """Make ``fn`` a pytree callable suitable as a jit argument (bound methods keep their object
    as pytree data, so a new data model of the same shape does not recompile)."""
    if inspect.ismethod(fn):
        return jax.tree_util.Partial(fn.__func__, fn.__self__)
    leaves = jax.tree_util.tree_leaves(fn)
    if len(leaves) == 1 and leaves[0] is fn:
        return jax.tree_util.Partial(fn)
    return fn


@partial(jax.jit, static_argnames=("record_every", "keep_states"))
def _run(drift, solver: Solver, key, x0, times, *, record_every, keep_states):
    n_steps = times.shape[0] - 1
    n_seg = n_steps // record_every
    starts = times[:-1].reshape((n_seg, record_every) + times.shape[1:])
    ends = times[1:].reshape((n_seg, record_every) + times.shape[1:])
    keys = jax.random.split(key, n_steps)
    keys = keys.reshape((n_seg, record_every) + keys.shape[1:])  # raw [n, 2] or typed [n] keys

    def inner(x, step):
        t, t_next, k = step
        x_next, _ = solver.step(drift, x, t, t_next, k)
        return x_next, None

    def segment(x, seg):
        t, t_next, k = seg
        x_next, stats = solver.step(drift, x, t[0], t_next[0], k[0])
        x_next, _ = jax.lax.scan(inner, x_next, (t[1:], t_next[1:], k[1:]))
        return x_next, (stats, x if keep_states else None)

    x_final, (stats, states) = jax.lax.scan(segment, x0, (starts, ends, keys))
    _, final_stats = evaluate_drift(drift, x_final, times[-1])
    records = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b[None]], 0), stats, final_stats)
    if keep_states:
        states = jnp.concatenate([states, x_final[None]], 0)
    record_times = jnp.concatenate([starts[:, 0], times[-1:]], 0)
    return Trajectories(x_final, record_times, records, states)


def _check_times(times, batch: int) -> None:
    """A ``[S + 1]`` or ``[S + 1, batch]`` grid, finite, > 0 and strictly decreasing along its first
    axis; the values are checked when concrete (not while tracing)."""
    shape = np.shape(times)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != batch):
        raise _validate.ConfigError(
            f"times has shape {shape}: expected a [n_steps + 1] grid or [n_steps + 1, B] per-trajectory "
            f"grids with B={batch}, the number of rows of x_init"
        )
    if isinstance(times, jax.core.Tracer) or not getattr(times, "is_fully_addressable", True):
        return
    values = np.asarray(times, dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _validate.ConfigError(
            f"times{list(at)}={float(values[at])!r} is out of range: expected finite times > 0"
        )
    rising = np.diff(values, axis=0) >= 0
    if rising.any():
        k, *column = (int(i) for i in np.argwhere(rising)[0])
        raise _validate.ConfigError(
            f"times[{k}]={float(values[(k, *column)])!r} then times[{k + 1}]={float(values[(k + 1, *column)])!r}"
            f"{f' (trajectory {column[0]})' if column else ''} is out of range: expected strictly "
            "decreasing times (the backward dynamics runs from times[0] down to times[-1])"
        )


def sample(
    key,
    drift: Callable,
    x_init,
    times,
    *,
    solver: Solver = EulerMaruyama(),
    record_every: int | None = None,
    keep_states: bool = False,
) -> Trajectories:
    """Integrate the backward dynamics from ``times[0]`` down to ``times[-1]``.

    Args:
      key: PRNG key for the SDE noise (split into one key per step).
      drift: score function (see module docstring).
      x_init: ``[B, N]`` initial states (typically ``N(0, I)`` at large t).
      times: strictly decreasing ``[n_steps + 1]`` grid of finite times > 0, or ``[n_steps + 1, B]``
        per trajectory (values checked unless traced).
      solver: a :class:`~diffsim.solvers.Solver`: :class:`~diffsim.solvers.EulerMaruyama` (backward
        SDE), :class:`~diffsim.solvers.Heun` (probability flow) or :class:`~diffsim.solvers.DDIM`
        (:func:`diffsim.solvers.solver` turns a config name into one).
      record_every: record observables every this many steps (must divide n_steps; default: only
        at the start and the end).
      keep_states: also return the states at the record times.
    """
    check_solver(solver)
    x_init = jnp.asarray(x_init)
    if x_init.ndim != 2:
        raise _validate.ConfigError(
            f"x_init has shape {tuple(x_init.shape)}: expected [B, N] initial states (one trajectory: x_init[None])"
        )
    _check_times(times, x_init.shape[0])
    times = jnp.asarray(times, dtype=x_init.dtype)
    n_steps = times.shape[0] - 1
    _validate.integer("n_steps (len(times) - 1)", n_steps, minimum=1)
    record_every = n_steps if record_every is None else _validate.integer("record_every", record_every, minimum=1)
    if n_steps % record_every:
        raise _validate.ConfigError(
            f"record_every={record_every} is out of range: expected a divisor of n_steps={n_steps}"
        )
    return _run(as_drift(drift), solver, key, x_init, times, record_every=record_every, keep_states=keep_states)


def branch_and_continue(
    key,
    drift: Callable,
    branch_states,
    branch_times,
    t_min: float,
    *,
    n_clones: int = 2,
    n_steps: int = 200,
    solver: Solver = EulerMaruyama(),
) -> Trajectories:
    """Clone protocol: continue each branched state ``n_clones`` times with independent noise.

    Args:
      branch_states: ``[K, B, N]`` states at the branch times ``branch_times`` ``[K]``.
      t_min: common final time. Each branch is integrated on its own log grid from its branch
        time to ``t_min`` with ``n_steps`` steps of ``solver``, all clones in one batch.

    Returns trajectories over ``K * n_clones * B`` clones, ordered as ``[K, n_clones, B]`` when
    reshaped; ``records`` hold the drift's statistics at the branch time and at ``t_min``.
    """
    branch_states = jnp.asarray(branch_states)
    k, b, n = branch_states.shape
    grids = np.stack([time_grid(float(tb), t_min, n_steps, "log") for tb in np.asarray(branch_times)])  # [K, S+1]
    per_traj = np.repeat(grids[:, None, :], n_clones * b, axis=1).reshape(k * n_clones * b, n_steps + 1).T
    x0 = jnp.broadcast_to(branch_states[:, None], (k, n_clones, b, n)).reshape(-1, n)
    return sample(key, drift, x0, per_traj, solver=solver, record_every=n_steps)
