"""What a query is: the checks at the API edge and the per-query logit coefficients.

Every public entry point of :mod:`diffsim.score` takes queries ``x`` (``[B, N]``, or one query
``[N]``) at time(s) ``t`` (a scalar or ``[B]``). :func:`checked_queries` converts them to arrays of
one float dtype (float64 input becomes float32 without ``jax_enable_x64``, silently), raises
:class:`~diffsim._validate.ConfigError` naming ``x`` or ``t`` on a bad shape (always, also while
tracing) or on a bad value of ``t`` (only when it is concrete: inside ``jax.jit`` the values are
not known and checking them would need a host sync per call), and adds the batch axis of a single
query, which :func:`unbatch` removes from the results.

Imports nothing from :mod:`diffsim.score`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim.process import delta, m

__all__ = ["default_float", "as_float_array", "is_concrete", "checked_queries", "unbatch", "logit_coefficients"]


def default_float() -> np.dtype:
    """float32, or float64 under ``jax_enable_x64``."""
    return jax.dtypes.canonicalize_dtype(np.float64)


def as_float_array(a) -> jax.Array:
    """``a`` as a JAX array of a float dtype: JAX arrays (and tracers) of a float dtype are kept as
    they are; integers and booleans become :func:`default_float`; NumPy or Python float64 becomes
    float32 without ``jax_enable_x64`` (no truncation warning)."""
    if isinstance(a, jax.Array):
        return a if jnp.issubdtype(a.dtype, jnp.inexact) else a.astype(default_float())
    a = np.asarray(a)
    if not jnp.issubdtype(a.dtype, jnp.inexact):
        return jnp.asarray(a, default_float())
    return jnp.asarray(a, jax.dtypes.canonicalize_dtype(a.dtype))


def is_concrete(a) -> bool:
    """True when the values of ``a`` can be read on this host: not a tracer (inside ``jit``,
    ``vmap``, ``grad``), and not an array with shards on other processes."""
    return not isinstance(a, jax.core.Tracer) and getattr(a, "is_fully_addressable", True)


def _check_times(t) -> None:
    """``t`` finite and > 0, when concrete (a Python number costs nothing; an array one read)."""
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        ok = math.isfinite(t) and t > 0
    elif is_concrete(t):
        values = np.asarray(t)
        ok = bool(np.all(np.isfinite(values) & (values > 0)))
    else:
        return
    if not ok:
        shown = float(np.asarray(t)) if np.ndim(t) == 0 else np.asarray(t)
        raise _validate.ConfigError(f"t={shown!r} is out of range: expected finite times > 0")


def checked_queries(x, t, dim: int) -> tuple[jax.Array, jax.Array, bool]:
    """Checked ``(x [B, N], t [B], single)`` from queries ``x`` (``[B, N]`` or ``[N]``) and times
    ``t`` (scalar or ``[B]``; ``[1]`` also broadcasts) against a training set in ``dim``
    dimensions; ``single`` says that ``x`` was one ``[N]`` query (pass it to :func:`unbatch`)."""
    x = as_float_array(x)
    if x.ndim not in (1, 2) or x.shape[-1] != dim:
        raise _validate.ConfigError(
            f"x has shape {tuple(x.shape)}: expected [B, N] queries or one [N] query with N={dim}, "
            "the training set's dimension"
        )
    single = x.ndim == 1
    if single:
        x = x[None]
    _check_times(t)
    t = jnp.asarray(t, x.dtype) if isinstance(t, jax.Array) else jnp.asarray(np.asarray(t, x.dtype))
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] not in (1, x.shape[0])):
        expected = "a scalar" if single else f"a scalar or [B] times with B={x.shape[0]}"
        raise _validate.ConfigError(f"t has shape {tuple(t.shape)}: expected {expected}")
    return x, jnp.broadcast_to(t, x.shape[:1]), single


def unbatch(tree, single: bool):
    """Drop the batch axis that :func:`checked_queries` added to a single query's results."""
    return jax.tree_util.tree_map(lambda a: a[0], tree) if single else tree


def logit_coefficients(x: jax.Array, t) -> tuple[jax.Array, jax.Array]:
    """``(m/Delta, m^2/Delta)`` per query (``[B]`` each) for the logits
    ``l = (m/Delta) x.a - (m^2/Delta) |a|^2/2``. The second is floored at the smallest normal number
    so that a masked point (``|a|^2/2 = inf``) always gets the logit -inf, also where ``m^2``
    underflows (t > 43 in fp32); for a real point the floor changes its logit by less than 1e-30."""
    t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
    mt, dt = m(t), delta(t)
    return mt / dt, jnp.maximum(mt * mt / dt, jnp.finfo(x.dtype).tiny)
