"""Posterior concentration and Gaussian-shell coverage (THEORY.md section 8, "Two Calm Ends").

Variance-exploding clock: a query is ``y = x + sigma z`` and the posterior weights are
``w_i(y, sigma) = softmax_i(-|y - a_i|^2 / (2 sigma^2))``. This is the OU query ``x_t = m_t y`` at
``t = t_from_sigma(sigma)`` (``m_t^2 / Delta_t = 1 / sigma^2``), so the weights come from the
library's streamed posterior :func:`diffsim.score.posterior` unchanged.

* posterior concentration ``W_sigma = E max_i w_i(a_j + sigma z, sigma)``, queries built on
  *training* points ``a_j`` (``j`` uniform);
* Gaussian-shell coverage ``C_sigma = P(x + sigma z in union_i S_sigma(a_i))`` with the shell
  ``S_sigma(a) = {y : sigma r_in <= |y - a| <= sigma r_out}``, ``r_in^2 = N - 2 sqrt(c N)``,
  ``r_out^2 = N + 2 sqrt(c N) + 2 c``, queries built on *held-out* points ``x``.

Coverage is a new streamed reduction (:func:`shell_counts`): one ``lax.scan`` over the training
chunks counts, for each query, the training points in its shell; memory ``O(B * chunk)``, so P = 1e6
runs on a laptop. Each curve gets a bootstrap standard error over queries, and the regime
boundaries ``sigma_cov`` (C = 1/2) and ``sigma_w`` (W = 1/2) are read from the curves by linear
interpolation in ``log sigma`` with bootstrap errors (the queries resampled at every sigma).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim._protocols import Drift
from diffsim.observe import Estimate, bootstrap, memorized
from diffsim.process import t_from_sigma, time_grid
from diffsim.sample import as_drift, sample
from diffsim.solvers import EulerMaruyama, Solver
from diffsim.score import TrainingSet, posterior
from diffsim.specs import Options, options_of
from diffsim.theory.geometry import gaussian_moments, wiener_denoiser

__all__ = [
    "GeometryMeasurement",
    "GeometryOptions",
    "check_geometry_options",
    "default_sigmas",
    "measure_geometry",
    "shell_radii",
    "shell_counts",
    "posterior_concentration",
    "level_crossing",
    "WindowSwap",
    "window_swap",
    "swap_windows",
    "SwapMeasurement",
    "measure_memorization",
    "LinearityMeasurement",
    "LinearityOptions",
    "check_linearity_options",
    "measure_linearity",
    "last_exit",
]

HIGHEST = jax.lax.Precision.HIGHEST


def default_sigmas(n: int = 31, low: float = 0.05, high: float = 5.0) -> tuple[float, ...]:
    """Log-spaced VE noise levels."""
    return tuple(float(s) for s in np.exp(np.linspace(math.log(low), math.log(high), n)))


def _check_sigmas(name: str, sigmas) -> tuple[float, ...]:
    sig = _validate.increasing(name, sigmas)
    for value in sig:
        _validate.positive(name, value)
    if len(sig) < 3:
        raise _validate.ConfigError(f"{name}={tuple(sig)!r} is out of range: expected >= 3 increasing positive values")
    return sig


def shell_radii(dim: int, c: float = 5.0) -> tuple[float, float]:
    """``(r_in, r_out)`` of the Gaussian shell (Lemma 4.5 of arXiv 2602.17846):
    ``r_in^2 = max(0, N - 2 sqrt(c N))``, ``r_out^2 = N + 2 sqrt(c N) + 2 c``."""
    dim = _validate.integer("dim", dim, minimum=1)
    c = _validate.positive("c", c)
    r_in2 = max(0.0, dim - 2.0 * math.sqrt(c * dim))
    return math.sqrt(r_in2), math.sqrt(dim + 2.0 * math.sqrt(c * dim) + 2.0 * c)


@partial(jax.jit, static_argnames=("precision",))
def shell_counts(y: jax.Array, sigma: jax.Array, train: TrainingSet, r_in: float, r_out: float, *,
                 precision: jax.lax.Precision = HIGHEST) -> jax.Array:
    """Number of training points in each query's shell ``sigma r_in <= |y - a_i| <= sigma r_out``.

    ``y`` ``[B, N]``, ``sigma`` scalar or ``[B]``; returns int32 ``[B]``. One ``lax.scan`` over the
    training chunks with ``|y - a|^2 = |y|^2 - 2 y.a + |a|^2`` from one matmul per chunk: memory
    ``O(B * chunk)``, never ``[B, P]``.
    """
    sigma = jnp.broadcast_to(jnp.asarray(sigma, y.dtype), y.shape[:1])
    lo = jnp.square(sigma * r_in)
    hi = jnp.square(sigma * r_out)
    ysq = jnp.sum(jnp.square(y), axis=-1)

    def body(count, chunk_data):
        chunk, half_sq, mask = chunk_data
        d2 = ysq[:, None] - 2.0 * jnp.matmul(y, chunk.T, precision=precision) + 2.0 * half_sq[None, :]
        inside = (d2 >= lo[:, None]) & (d2 <= hi[:, None]) & mask[None, :]
        return count + jnp.sum(inside, axis=1, dtype=jnp.int32), None

    init = jnp.zeros(y.shape[:1], jnp.int32)
    count, _ = jax.lax.scan(body, init, (train.chunks, train.half_sq_norms, train.mask))
    return count


@jax.jit
def posterior_concentration(y: jax.Array, sigma: jax.Array, train: TrainingSet) -> jax.Array:
    """``max_i w_i(y, sigma)`` ``[B]``: the streamed posterior at the OU query ``m_t y``,
    ``t = t_from_sigma(sigma)`` (same weights as the VE softmax)."""
    sigma = jnp.broadcast_to(jnp.asarray(sigma, y.dtype), y.shape[:1])
    t = t_from_sigma(sigma)
    return posterior(jnp.exp(-t)[:, None] * y, t, train).max_weight


def level_crossing(sigmas: ArrayLike, curve: ArrayLike, level: float = 0.5) -> float:
    """First ``sigma`` where a curve (on increasing ``sigmas``) crosses ``level``, by linear
    interpolation in ``log sigma``; NaN if it never crosses. Works for rising (C) and falling (W)
    curves: the crossing is between the first pair of neighbours on opposite sides of ``level``."""
    s = np.log(np.asarray(sigmas, dtype=np.float64))
    v = np.asarray(curve, dtype=np.float64) - level
    sign = np.sign(v)
    idx = [i for i in np.nonzero(sign[:-1] * sign[1:] <= 0)[0] if not (v[i] == 0 and v[i + 1] == 0)]
    if not idx:
        return float("nan")
    i = idx[0]
    if v[i] == v[i + 1]:
        return float(np.exp(s[i]))
    frac = v[i] / (v[i] - v[i + 1])
    return float(np.exp(s[i] + frac * (s[i + 1] - s[i])))


@dataclass(frozen=True)
class GeometryMeasurement:
    """Curves on ``sigmas`` ``[S]`` and boundaries.

    ``w``, ``w_stderr``: posterior concentration ``W_sigma`` (training queries); ``c``, ``c_stderr``:
    coverage ``C_sigma`` (held-out queries); ``max_weight`` ``[S, Q]`` and ``covered`` ``[S, Q]``
    per query; ``sigma_w``, ``sigma_cov``: :class:`Estimate` of the W = 1/2 and C = 1/2 crossings;
    ``log_width``: ``log(sigma_w / sigma_cov)`` (the danger zone's log-width; negative if the
    edges cross), ``r_in``, ``r_out``, ``shell_c``: the shell.
    """

    sigmas: np.ndarray
    w: np.ndarray
    w_stderr: np.ndarray
    c: np.ndarray
    c_stderr: np.ndarray
    max_weight: np.ndarray
    covered: np.ndarray
    sigma_w: Estimate
    sigma_cov: Estimate
    log_width: Estimate
    n_points: int
    dim: int
    shell_c: float
    r_in: float
    r_out: float


def _bootstrap_curves(key, per_query, n_boot: int):
    """``[n_boot, S]`` bootstrap replicas of the per-sigma means of ``per_query`` ``[S, Q]``
    (queries resampled independently at each sigma)."""
    s, q = per_query.shape
    idx = jax.random.randint(key, (n_boot, s, q), 0, q)
    return jnp.take_along_axis(jnp.broadcast_to(per_query[None], (n_boot, s, q)), idx, axis=2).mean(axis=2)


@partial(jax.jit, static_argnames=("n_queries", "block", "n_boot"))
def _measure_arrays(key, train, held_out, sigmas, r_in, r_out, *, n_queries, block, n_boot):
    """Per-query max weights ``[S, n_queries]`` (training queries), coverage indicators ``[S, M]``
    (held-out queries) and their bootstrap replicas of the per-sigma means ``[n_boot, S]``: one
    compiled program."""
    k_idx, k_w, k_c, k_boot = jax.random.split(key, 4)
    n_s, dtype, dim = sigmas.shape[0], train.chunks.dtype, train.dim
    idx = jax.random.randint(k_idx, (n_s, n_queries), 0, train.n_points)
    sig_w = jnp.broadcast_to(sigmas[:, None], (n_s, n_queries))
    y_w = train.points[idx] + sig_w[..., None] * jax.random.normal(k_w, (n_s, n_queries, dim), dtype)
    max_weight = _blocked(lambda yy, ss: posterior_concentration(yy, ss, train), y_w, sig_w, block)
    m = held_out.shape[0]
    sig_c = jnp.broadcast_to(sigmas[:, None], (n_s, m))
    y_c = held_out[None] + sig_c[..., None] * jax.random.normal(k_c, (n_s, m, dim), dtype)
    covered = _blocked(lambda yy, ss: shell_counts(yy, ss, train, r_in, r_out), y_c, sig_c, block) > 0
    kb_w, kb_c = jax.random.split(k_boot)
    return max_weight, covered, _bootstrap_curves(kb_w, max_weight, n_boot), _bootstrap_curves(kb_c, covered.astype(dtype), n_boot)


def _crossing_estimate(sigmas, curve, reps, level=0.5) -> tuple[Estimate, np.ndarray]:
    value = level_crossing(sigmas, curve, level)
    boots = np.array([level_crossing(sigmas, r, level) for r in reps])
    finite = boots[np.isfinite(boots)]
    err = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
    return Estimate(value, err), boots


def measure_geometry(
    key: jax.Array,
    train: TrainingSet,
    *,
    held_out: ArrayLike,
    sigmas: ArrayLike,
    n_queries: int = 512,
    shell_c: float = 5.0,
    block: int = 256,
    n_boot: int = 200,
) -> GeometryMeasurement:
    """Posterior concentration ``W_sigma`` and shell coverage ``C_sigma`` on a sigma grid.

    Args:
      key: PRNG key (query indices, noise, bootstrap).
      train: the training set ``a_1..a_P``.
      held_out: ``[M, N]`` points of the same law not in ``train``; every one is used once per
        sigma as a coverage query ``x + sigma z`` (so ``M`` is the coverage sample size).
      sigmas: increasing VE noise levels sigma (at least 3) of W_sigma and C_sigma.
      n_queries: training queries a_j + sigma z per sigma (for W_sigma).
      shell_c: the Gaussian shell's c: r_in^2 = N - 2 sqrt(c N), r_out^2 = N + 2 sqrt(c N) + 2c.
      block: queries per streamed pass.
      n_boot: bootstrap replicas.
    """
    check_geometry_options(sigmas=sigmas, n_queries=n_queries, shell_c=shell_c)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    block = _validate.integer("block", block, minimum=1)
    held_out = jnp.asarray(held_out, train.chunks.dtype)
    if held_out.ndim != 2 or held_out.shape[1] != train.dim or held_out.shape[0] < 2:
        raise _validate.ConfigError(
            f"held_out has shape {held_out.shape}: expected [M >= 2, N={train.dim}] held-out points"
        )
    r_in, r_out = shell_radii(train.dim, shell_c)
    n_boot = _validate.integer("n_boot", n_boot, minimum=2)
    out = _measure_arrays(key, train, held_out, jnp.asarray(sigmas, train.chunks.dtype), r_in, r_out,
                          n_queries=n_queries, block=block, n_boot=n_boot)
    mw, covered, reps_w, reps_c = (np.asarray(a) for a in out)
    mw = mw.astype(np.float64)
    reps_w, reps_c = reps_w.astype(np.float64), reps_c.astype(np.float64)
    w_curve, c_curve = mw.mean(1), covered.mean(1)
    sigma_w, boots_w = _crossing_estimate(sigmas, w_curve, reps_w)
    sigma_cov, boots_c = _crossing_estimate(sigmas, c_curve, reps_c)
    widths = np.log(boots_w / boots_c)
    widths = widths[np.isfinite(widths)]
    log_width = Estimate(
        float(np.log(sigma_w.value / sigma_cov.value)) if np.isfinite(sigma_w.value * sigma_cov.value) else float("nan"),
        float(np.std(widths, ddof=1)) if widths.size > 1 else float("nan"),
    )
    return GeometryMeasurement(
        sigmas=sigmas, w=w_curve, w_stderr=reps_w.std(0, ddof=1), c=c_curve, c_stderr=reps_c.std(0, ddof=1),
        max_weight=mw, covered=covered, sigma_w=sigma_w, sigma_cov=sigma_cov, log_width=log_width,
        n_points=train.n_points, dim=train.dim, shell_c=float(shell_c), r_in=r_in, r_out=r_out,
    )


def check_geometry_options(*, sigmas, n_queries, shell_c) -> None:
    """Range checks of :func:`measure_geometry`'s options (a :class:`~diffsim.ConfigError` naming the
    first bad one), for the API and for configs before any work."""
    _check_sigmas("sigmas", sigmas)
    _validate.integer("n_queries", n_queries, minimum=8)
    _validate.positive("shell_c", shell_c, upper=100.0)


@options_of(measure_geometry, exclude=("held_out", "block", "n_boot"), check=check_geometry_options,
            defaults={"sigmas": default_sigmas()})
class GeometryOptions(Options):
    """The options of :func:`measure_geometry` as a config part (the sigma grid, the queries, the shell)."""


def _blocked(fn, y, sig, block: int):
    """Apply ``fn(y [b, N], sigma [b]) -> [b]`` to ``y`` ``[S, Q, N]`` in blocks of ``block`` queries
    (``lax.map``), returning ``[S, Q]``."""
    s, q, n = y.shape
    flat_y, flat_s = y.reshape(s * q, n), sig.reshape(s * q)
    total = s * q
    n_blocks = -(-total // block)
    pad = n_blocks * block - total
    yb = jnp.pad(flat_y, ((0, pad), (0, 0))).reshape(n_blocks, block, n)
    sb = jnp.pad(flat_s, (0, pad), constant_values=1.0).reshape(n_blocks, block)
    out = jax.lax.map(lambda args: fn(*args), (yb, sb))
    return out.reshape(-1)[:total].reshape(s, q)


# ----------------------------------------------------------------------------- window swaps


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class WindowSwap:
    """A drift that uses ``inside`` for ``sigma_lo <= sigma_t <= sigma_hi`` and ``outside`` elsewhere.

    ``inside`` and ``outside`` are any drifts ``(x [B, N], t) -> score`` or ``-> (score, stats)``
    that are pytrees (:class:`diffsim.score.EmpiricalScore`, :class:`diffsim.nets.LearnedScore`,
    a data model's bound ``score`` wrapped by :func:`diffsim.sample.as_drift`; :func:`window_swap`
    wraps them). The window edges are pytree data, so new windows do not recompile the sampler.
    Returns the score only (the two drifts' statistics differ). With a scalar ``t`` only the chosen
    drift is evaluated (``lax.cond``); with per-trajectory ``t`` ``[B]`` both are, and mixed.
    """

    inside: Drift
    outside: Drift
    sigma_lo: jax.Array
    sigma_hi: jax.Array

    def __call__(self, x: jax.Array, t: jax.Array | float) -> jax.Array:
        t = jnp.asarray(t, x.dtype)
        sigma = jnp.sqrt(jnp.expm1(2.0 * t))  # diffsim.process.sigma_from_t
        in_window = (sigma >= self.sigma_lo) & (sigma <= self.sigma_hi)
        if t.ndim == 0:
            return jax.lax.cond(in_window, lambda: _score_only(self.inside, x, t), lambda: _score_only(self.outside, x, t))
        return jnp.where(in_window[:, None], _score_only(self.inside, x, t), _score_only(self.outside, x, t))


def _score_only(drift: Drift, x: jax.Array, t: jax.Array | float) -> jax.Array:
    out = drift(x, t)
    return out[0] if isinstance(out, tuple) else out


def window_swap(inside: Drift, outside: Drift, sigma_lo: float, sigma_hi: float) -> WindowSwap:
    """Build a :class:`WindowSwap` (drifts wrapped by :func:`diffsim.sample.as_drift`); ``sigma_lo``
    may be 0 and ``sigma_hi`` ``inf`` (windows that reach an end of the schedule)."""

    lo, hi = float(sigma_lo), float(sigma_hi)
    if not (lo >= 0 and hi > lo):
        raise _validate.ConfigError(f"window=({sigma_lo!r}, {sigma_hi!r}) is out of range: expected 0 <= sigma_lo < sigma_hi")
    return WindowSwap(as_drift(inside), as_drift(outside), jnp.asarray(lo, jnp.float32), jnp.asarray(hi, jnp.float32))


def swap_windows(sigma_cov: float, sigma_w: float) -> dict:
    """Small ``[0, sigma_cov]``, medium ``[sigma_cov, sigma_w]``, large ``[sigma_w, inf)``, and controls
    of the medium window's log-width ``k = sigma_w / sigma_cov``: ``[sigma_cov / k, sigma_cov]`` and
    ``[sigma_w, k sigma_w]``."""
    k = sigma_w / sigma_cov
    return {"small": (0.0, sigma_cov), "medium": (sigma_cov, sigma_w), "large": (sigma_w, math.inf),
            "control_below": (sigma_cov / k, sigma_cov), "control_above": (sigma_w, sigma_w * k)}


_memorized = jax.jit(memorized)  # one compile per shape (the scan inside is not re-traced per call)


@dataclass(frozen=True)
class SwapMeasurement:
    """Memorized fraction (1/3 rule) of samples drawn with a drift: ``memorized`` :class:`Estimate`
    (bootstrap over samples), ``flags`` ``[B]`` per sample, ``samples`` ``[B, N]``."""

    memorized: Estimate
    flags: np.ndarray
    samples: np.ndarray


def measure_memorization(
    key: jax.Array,
    train: TrainingSet,
    drift: Drift,
    *,
    n_samples: int = 512,
    n_steps: int = 200,
    t_max: float = 6.0,
    t_min: float = 1e-3,
    solver: Solver = EulerMaruyama(),
    n_boot: int = 200,
) -> SwapMeasurement:
    """Draw ``n_samples`` samples with ``drift`` (backward dynamics from ``N(0, I)`` at ``t_max`` to
    ``t_min`` on a log grid, steps of ``solver``) and measure the memorized fraction (1/3 rule,
    :func:`diffsim.observe.memorized`) with its bootstrap error."""
    n_samples = _validate.integer("n_samples", n_samples, minimum=2)
    k_init, k_run, k_boot = jax.random.split(key, 3)
    x0 = jax.random.normal(k_init, (n_samples, train.dim), train.chunks.dtype)
    traj = sample(k_run, drift, x0, time_grid(t_max, t_min, n_steps), solver=solver)
    flags = _memorized(traj.final, train)
    est = bootstrap(k_boot, lambda f: jnp.mean(f.astype(jnp.float32)), flags, axis=0, n_boot=n_boot)
    return SwapMeasurement(est, np.asarray(flags), np.asarray(traj.final))


# ----------------------------------------------------------------------------- large-noise linearity


@dataclass(frozen=True)
class LinearityMeasurement:
    """Distances between denoisers on a sigma grid ``sigmas`` ``[S]``, queries ``y = x + sigma z`` on
    held-out points ``x``.

    Denoisers (VE clock): empirical ``D_e(y) = sum_i w_i a_i``; Wiener ``D_lin`` from the training
    mean ``abar`` and covariance ``S`` (:func:`diffsim.theory.geometry.wiener_denoiser`); exact
    ``D_x(y) = y + sigma^2 grad log p_sigma(y)`` from the true score (Tweedie), when given.
    ``emp_lin``, ``emp_exact``, ``lin_exact``: relative root-mean-square distances
    ``sqrt(E|D_1 - D_2|^2 / E|D_e - abar|^2)`` (all on the same scale, the empirical denoiser's
    departure from the mean), each with a bootstrap ``*_stderr`` over queries (NaN without an exact
    score); ``msq_*``: the absolute ``E|D_1 - D_2|^2 / N``. ``sigma_lin``: :class:`Estimate` of the
    sigma above which ``emp_lin <= tolerance`` on the rest of the grid (:func:`last_exit`).
    """

    sigmas: np.ndarray
    emp_lin: np.ndarray
    emp_lin_stderr: np.ndarray
    emp_exact: np.ndarray
    emp_exact_stderr: np.ndarray
    lin_exact: np.ndarray
    lin_exact_stderr: np.ndarray
    msq_emp_lin: np.ndarray
    msq_emp_exact: np.ndarray
    msq_lin_exact: np.ndarray
    scale: np.ndarray
    sigma_lin: Estimate
    tolerance: float


def last_exit(sigmas: ArrayLike, curve: ArrayLike, level: float) -> float:
    """The sigma above which ``curve <= level`` on the rest of the grid: interpolated in ``log sigma``
    between the last point above ``level`` and the next; ``sigmas[0]`` if the whole curve is at or
    below ``level``, NaN if its last point is above it."""
    s = np.log(np.asarray(sigmas, dtype=np.float64))
    v = np.asarray(curve, dtype=np.float64) - level
    if not np.all(np.isfinite(v)) or v[-1] > 0:
        return float("nan")
    above = np.nonzero(v > 0)[0]
    if above.size == 0:
        return float(np.exp(s[0]))
    i = above[-1]
    frac = v[i] / (v[i] - v[i + 1])
    return float(np.exp(s[i] + frac * (s[i + 1] - s[i])))


@partial(jax.jit, static_argnames=("block", "has_exact"))
def _linearity_arrays(key, train, held_out, sigmas, score, *, block, has_exact):
    """Queries ``[S, M, N]``, empirical and exact denoisers at them (exact: zeros if absent)."""
    n_s, (m_q, dim) = sigmas.shape[0], held_out.shape
    sig = jnp.broadcast_to(sigmas[:, None], (n_s, m_q))
    y = held_out[None] + sig[..., None] * jax.random.normal(key, (n_s, m_q, dim), held_out.dtype)

    def denoisers(yy, ss):
        t = t_from_sigma(ss)
        mt = jnp.exp(-t)[:, None]
        d_e = posterior(mt * yy, t, train).denoised
        d_x = yy + jnp.square(ss)[:, None] * mt * _score_only(score, mt * yy, t) if has_exact else jnp.zeros_like(yy)
        return d_e, d_x

    flat_y, flat_s = y.reshape(-1, dim), sig.reshape(-1)
    total = flat_s.size
    n_blocks = -(-total // block)
    pad = n_blocks * block - total
    yb = jnp.pad(flat_y, ((0, pad), (0, 0))).reshape(n_blocks, block, dim)
    sb = jnp.pad(flat_s, (0, pad), constant_values=1.0).reshape(n_blocks, block)
    d_e, d_x = jax.lax.map(lambda args: denoisers(*args), (yb, sb))
    shape = (n_s, m_q, dim)
    return y, d_e.reshape(-1, dim)[:total].reshape(shape), d_x.reshape(-1, dim)[:total].reshape(shape)


def measure_linearity(
    key: jax.Array,
    train: TrainingSet,
    *,
    held_out: ArrayLike,
    sigmas: ArrayLike,
    score: Drift | None = None,
    tolerance: float = 0.1,
    block: int = 256,
    n_boot: int = 200,
) -> LinearityMeasurement:
    """Distance of the empirical denoiser to the linear Wiener denoiser of the training moments,
    and of both to the exact denoiser, vs sigma (:class:`LinearityMeasurement`).

    Args:
      key: PRNG key (noise, bootstrap).
      train: the training set.
      held_out: ``[M, N]`` fresh points of the data law; each is one query per sigma.
      sigmas: increasing VE noise levels sigma (at least 3) of the linearity measurement.
      score: optional true score ``(x, t) -> [B, N]`` in the OU clock (a data model's ``score``);
        the exact denoiser is ``y + sigma^2 m_t score(m_t y, t)``.
      tolerance: relative empirical-Wiener distance below which the denoiser counts as linear
        (defines sigma_lin).
      block: queries per streamed pass.
      n_boot: bootstrap replicas (queries resampled at each sigma).
    """
    check_linearity_options(sigmas=sigmas, tolerance=tolerance)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    block = _validate.integer("block", block, minimum=1)
    n_boot = _validate.integer("n_boot", n_boot, minimum=2)
    held_out = jnp.asarray(held_out, train.chunks.dtype)
    if held_out.ndim != 2 or held_out.shape[1] != train.dim or held_out.shape[0] < 2:
        raise _validate.ConfigError(
            f"held_out has shape {held_out.shape}: expected [M >= 2, N={train.dim}] held-out points"
        )
    has_exact = score is not None
    k_q, k_b = jax.random.split(key)
    y, d_e, d_x = (np.asarray(a, dtype=np.float64) for a in _linearity_arrays(
        k_q, train, held_out, jnp.asarray(sigmas, train.chunks.dtype), as_drift(score) if score is not None else None,
        block=block, has_exact=has_exact))
    real = np.asarray(train.chunks, dtype=np.float64).reshape(-1, train.dim)[np.asarray(train.mask).reshape(-1)]
    mean, cov = gaussian_moments(real)  # the real (unmasked) points only
    d_lin = wiener_denoiser(y, mean, cov, sigmas[:, None])
    dim = train.dim
    sq = {  # per-query squared distances [S, M]
        "scale": np.sum(np.square(d_e - mean), -1),
        "emp_lin": np.sum(np.square(d_e - d_lin), -1),
        "emp_exact": np.sum(np.square(d_e - d_x), -1) if has_exact else np.full(y.shape[:2], np.nan),
        "lin_exact": np.sum(np.square(d_lin - d_x), -1) if has_exact else np.full(y.shape[:2], np.nan),
    }
    idx = np.asarray(jax.random.randint(k_b, (n_boot, y.shape[1]), 0, y.shape[1]))
    scale_reps = sq["scale"][:, idx].mean(-1)  # [S, n_boot]
    out = {}
    for name in ("emp_lin", "emp_exact", "lin_exact"):
        value = np.sqrt(sq[name].mean(1) / sq["scale"].mean(1))
        reps = np.sqrt(sq[name][:, idx].mean(-1) / scale_reps)
        out[name] = (value, reps.std(1, ddof=1), reps)
    boots = np.array([last_exit(sigmas, r, tolerance) for r in out["emp_lin"][2].T])
    finite = boots[np.isfinite(boots)]
    sigma_lin = Estimate(last_exit(sigmas, out["emp_lin"][0], tolerance),
                         float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan"))
    return LinearityMeasurement(
        sigmas=sigmas,
        emp_lin=out["emp_lin"][0], emp_lin_stderr=out["emp_lin"][1],
        emp_exact=out["emp_exact"][0], emp_exact_stderr=out["emp_exact"][1],
        lin_exact=out["lin_exact"][0], lin_exact_stderr=out["lin_exact"][1],
        msq_emp_lin=sq["emp_lin"].mean(1) / dim, msq_emp_exact=sq["emp_exact"].mean(1) / dim,
        msq_lin_exact=sq["lin_exact"].mean(1) / dim, scale=sq["scale"].mean(1) / dim,
        sigma_lin=sigma_lin, tolerance=float(tolerance),
    )


def check_linearity_options(*, sigmas, tolerance) -> None:
    """Range checks of :func:`measure_linearity`'s options, for the API and for configs."""
    _check_sigmas("sigmas", sigmas)
    _validate.positive("tolerance", tolerance, upper=10.0)


@options_of(measure_linearity, exclude=("held_out", "score", "block", "n_boot"),
            check=check_linearity_options, defaults={"sigmas": default_sigmas(25, 0.05, 100.0)})
class LinearityOptions(Options):
    """The options of :func:`measure_linearity` as a config part (the sigma grid and the tolerance)."""
