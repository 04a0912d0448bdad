"""Estimators on recorded observables (THEORY.md sections 3, 4 and 12), and the typed estimate.

All estimators are pure JAX functions of recorded observables, so they vmap over bootstrap
resamples. Times are decreasing (the backward clock): ``times[0]`` is the earliest record. Nothing
here simulates: trajectories come from :mod:`diffsim.sample`, protocols that run them (clones,
Monte-Carlo queries) from :mod:`diffsim.measure`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffsim.score import TrainingSet, nearest_two

__all__ = [
    "crossing_time",
    "condensed_fraction",
    "condensation_time",
    "freezing_times",
    "clone_agreement",
    "branch_indices",
    "excess_entropy_threshold",
    "excess_entropy_time",
    "memorized",
    "memorization_fraction",
    "Estimate",
    "bootstrap",
    "extrapolate_inverse_n",
    "crossing_step",
    "descent_step",
    "fit_power_law",
    "finite_or_none",
]


def crossing_time(times: jax.Array, curve: jax.Array, level: float | jax.Array) -> jax.Array:
    """First time (scanning the backward clock from ``times[0]``) at which ``curve >= level``,
    linearly interpolated between records. ``times`` and ``curve`` are ``[R]``; NaN if never."""
    above = curve >= level
    idx = jnp.argmax(above)
    prev = jnp.maximum(idx - 1, 0)
    c0, c1 = curve[prev], curve[idx]
    w = jnp.where(c1 != c0, (level - c0) / jnp.where(c1 != c0, c1 - c0, 1.0), 0.0)
    t = times[prev] + jnp.clip(w, 0.0, 1.0) * (times[idx] - times[prev])
    return jnp.where(jnp.any(above), jnp.where(idx > 0, t, times[0]), jnp.nan)


def branch_indices(record_times: ArrayLike, low: float, high: float, n_branch: int) -> np.ndarray:
    """Up to ``n_branch`` record indices, evenly spread, whose times lie in ``[low, high]``."""
    record_times = np.asarray(record_times)
    inside = np.flatnonzero((record_times >= low) & (record_times <= high))
    if inside.size <= n_branch:
        return inside
    return inside[np.round(np.linspace(0, inside.size - 1, n_branch)).astype(int)]


def condensed_fraction(max_weight: jax.Array) -> jax.Array:
    """Fraction of trajectories whose max posterior weight exceeds 1/2; ``[R, B] -> [R]``."""
    return jnp.mean(max_weight > 0.5, axis=-1)


def condensation_time(times: jax.Array, max_weight: jax.Array) -> jax.Array:
    """Estimator 1 of section 4: time at which half the trajectories are condensed."""
    return crossing_time(times, condensed_fraction(max_weight), 0.5)


def freezing_times(times: jax.Array, argmax: jax.Array) -> jax.Array:
    """Estimator 2 of section 4: per trajectory, the time of the last change of the nearest
    training point (the posterior argmax), taken midway between the two records that bracket it;
    ``times [R]``, ``argmax [R, B]`` -> ``[B]``. A trajectory that never changes gives ``times[0]``."""
    changed = argmax[1:] != argmax[:-1]  # [R-1, B]; change between record j and j+1
    r = changed.shape[0]
    last = r - 1 - jnp.argmax(changed[::-1], axis=0)  # index j of the last change
    mid = 0.5 * (times[:-1] + times[1:])
    return jnp.where(jnp.any(changed, axis=0), mid[last], times[0])


def clone_agreement(labels: jax.Array) -> jax.Array:
    """Estimator 3 of sections 3-4: ``labels [K, n_clones, B]`` (end class or end training point
    of each clone) -> ``[K, B]`` booleans, True where all clones of a pair agree."""
    return jnp.all(labels == labels[:, :1], axis=1)


def excess_entropy_threshold(dim: int) -> float:
    """Level ``log(2) / N``: a sample ``-log w_mu / N`` of :func:`diffsim.measure.collapse.excess_entropy_samples` equals it
    exactly when the own point carries half of the posterior weight (the criterion of estimator 1,
    applied to queries noised from training points)."""
    return math.log(2.0) / dim


def excess_entropy_time(times: jax.Array, samples: jax.Array, dim: int) -> jax.Array:
    """Estimator 4 of section 4: zero crossing of the excess entropy, read from the per-sample
    values of :func:`diffsim.measure.collapse.excess_entropy_samples` (``[T, S]``, times decreasing).

    Each sample ``-log w_mu / N`` concentrates on ``f_e(t)`` as N grows, but with fluctuations of
    order ``N^{-1/2}`` near t_C that lift the *mean* above zero there. The estimator therefore reads
    the time at which the *median* sample falls to ``log(2)/N``: half of the queries have their own
    point carrying at least half of the posterior weight. As N -> infinity this is the zero of f_e.
    """
    return crossing_time(times, -jnp.median(samples, axis=-1), -excess_entropy_threshold(dim))


def memorized(samples: jax.Array, train: TrainingSet) -> jax.Array:
    """1/3 criterion (section 12): distance to the nearest training point < 1/3 of the distance to
    the second nearest; ``[B, N] -> [B]`` booleans."""
    d1, d2, _ = nearest_two(samples, train)
    return d1 < d2 / 3.0


def memorization_fraction(samples: jax.Array, train: TrainingSet) -> jax.Array:
    """Fraction of memorized samples (1/3 criterion)."""
    return jnp.mean(memorized(samples, train))


class Estimate(NamedTuple):
    """A measured number and its standard error (bootstrap or Monte Carlo; NaN when unknown).

    A ``NamedTuple``: ``value, stderr = estimate`` unpacks it, and ``Estimate(*pair)`` builds one.
    """

    value: float
    stderr: float

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.stderr:.2g}"

    def within(self, target: float, n_sigma: float = 3.0, floor: float = 0.0) -> bool:
        """True when ``|value - target| <= n_sigma * stderr + floor``."""
        return bool(abs(self.value - target) <= n_sigma * self.stderr + floor)

    @classmethod
    def of_mean(cls, samples: ArrayLike) -> "Estimate":
        """Mean of iid samples with its standard error ``std / sqrt(n)`` (non-finite samples dropped;
        computed in the samples' own dtype, so a float32 mean is reproduced bit for bit)."""
        x = np.asarray(samples).ravel()
        x = x[np.isfinite(x)]
        if x.size == 0:
            return cls(float("nan"), float("nan"))
        err = float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
        return cls(float(np.mean(x)), err)


def bootstrap(key: jax.Array, statistic: Callable[..., Any], *arrays: jax.Array, axis: int = -1, n_boot: int = 200) -> Estimate:
    """:class:`Estimate` of ``statistic(*arrays)`` with the bootstrap standard error of resampling
    ``arrays`` jointly along ``axis`` (trajectories, queries, clone pairs). ``statistic`` must be a
    JAX function (it is vmapped over the resamples); NaN resamples are left out of the error."""
    size = arrays[0].shape[axis]
    idx = jax.random.randint(key, (n_boot, size), 0, size)

    def one(i: jax.Array) -> Any:
        return statistic(*(jnp.take(a, i, axis=axis) for a in arrays))

    reps = np.asarray(jax.vmap(one)(idx))
    value = float(statistic(*arrays))
    finite = reps[np.isfinite(reps)]
    stderr = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
    return Estimate(value, stderr)


def extrapolate_inverse_n(
    dims: ArrayLike, values: ArrayLike, stderrs: ArrayLike | None = None
) -> tuple[float, float, float]:
    """Weighted least-squares fit ``value = a + b / N``; returns ``(a, stderr_a, b)``.

    With stderrs, weights are ``1/stderr^2`` and the intercept error is the parameter error of
    the weighted fit scaled by the reduced chi^2 when it exceeds 1 (so a poor fit widens the error).
    """
    n = np.asarray(dims, dtype=float)
    v = np.asarray(values, dtype=float)
    keep = np.isfinite(v)
    n, v = n[keep], v[keep]
    if n.size < 2:
        return float("nan"), float("nan"), float("nan")
    if stderrs is None:
        s = np.ones_like(v)
    else:
        s = np.asarray(stderrs, dtype=float)[keep]
        s = np.where(np.isfinite(s) & (s > 0), s, np.nanmax(np.where(s > 0, s, np.nan)) if np.any(s > 0) else 1.0)
    design = np.stack([np.ones_like(n), 1.0 / n], axis=1) / s[:, None]
    coef, *_ = np.linalg.lstsq(design, v / s, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    dof = n.size - 2
    if dof > 0:
        chi2 = float(np.sum(((design @ coef) - v / s) ** 2)) / dof
        cov = cov * max(1.0, chi2)
    return float(coef[0]), float(np.sqrt(cov[0, 0])), float(coef[1])


# ----------------------------------------------------------------------------- curves over training steps


def crossing_step(steps: ArrayLike, curve: ArrayLike, level: float) -> float:
    """First step at which ``curve >= level``, linear in log(step) between the bracketing
    checkpoints (the step-0 checkpoint counts as step ``steps[1] / 2`` on the log axis); NaN if
    never. ``steps [C]`` increasing, ``curve [C]``."""
    steps = np.asarray(steps, dtype=float)
    curve = np.asarray(curve, dtype=float)
    log_s = np.log(np.where(steps > 0, steps, 0.5 * steps[steps > 0].min()))
    hit = np.flatnonzero(curve >= level)
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(steps[0])
    c0, c1 = curve[i - 1], curve[i]
    w = 0.0 if c1 == c0 else float(np.clip((level - c0) / (c1 - c0), 0.0, 1.0))
    return float(np.exp(log_s[i - 1] + w * (log_s[i] - log_s[i - 1])))


def descent_step(steps: ArrayLike, loss: ArrayLike, tolerance: float) -> float:
    """First step at which ``loss - min(loss) <= tolerance (loss[0] - min(loss))`` (tau_gen),
    interpolated like :func:`crossing_step`; NaN if the loss never decreased."""
    loss = np.asarray(loss, dtype=float)
    drop = loss[0] - np.nanmin(loss)
    if not np.isfinite(drop) or drop <= 0:
        return float("nan")
    progress = (loss[0] - loss) / drop  # 0 at start, 1 at the minimum
    return crossing_step(steps, progress, 1.0 - tolerance)


def fit_power_law(
    x: ArrayLike, y: ArrayLike, stderr: ArrayLike | None = None, *, min_points: int = 3
) -> tuple[float, float, float]:
    """Least-squares fit ``log y = log c + b log x`` over the finite positive points; returns
    ``(b, stderr_b, c)``, all NaN with fewer than ``min_points`` distinct x (a line through two
    points is a slope, not a fit: callers that want it pass ``min_points=2`` and get ``stderr_b``
    NaN). With ``stderr`` of y, the points are weighted by ``(y / stderr)^2`` (the delta-method
    variance of log y); a point without a finite positive stderr (e.g. one seed) gets the median
    weight of the others, not an arbitrary one."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = np.log(x[keep]), np.log(y[keep])
    if np.unique(x).size < max(min_points, 2):
        return float("nan"), float("nan"), float("nan")
    w = np.ones_like(x)
    if stderr is not None:
        s = np.asarray(stderr, dtype=float)[keep] / np.exp(y)
        known = np.isfinite(s) & (s > 0)
        if np.any(known):
            w_known = 1.0 / np.maximum(s[known], 1e-3) ** 2
            w = np.full_like(x, float(np.median(w_known)))
            w[known] = w_known
    design = np.stack([np.ones_like(x), x], axis=1) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(design, y * np.sqrt(w), rcond=None)
    err = float("nan")
    if np.size(x) > 2:
        resid = design @ coef - y * np.sqrt(w)
        cov = np.linalg.inv(design.T @ design) * float(resid @ resid) / (np.size(x) - 2)
        err = float(np.sqrt(cov[1, 1]))
    return float(coef[1]), err, float(np.exp(coef[0]))


def finite_or_none(value) -> float | None:
    """``float(value)`` if finite, else None (also for None): the strict-JSON form of a number."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
