"""Traps and basins of ``U_t = -log p_t^e`` vs theory (THEORY.md section 6) [derived].

For each N (training set of ``P = round(exp(alpha N))`` points) and each time t:

* ``trap_fraction``: fraction of the probed training points mu whose mean-shift iteration started at
  ``m_t a_mu`` ends at a fixed point with weight > 1/2 on mu (mu owns a trap); also the fractions ending
  on another training point or on a spurious mixture state, and ``start_dominated``: the fraction with
  ``w_mu(m_t a_mu) > 1/2`` (the ``r = 0`` criterion whose ``N -> inf`` step is exactly ``t_o``);
* ``basin_radius``: median over probed points of the dominance radius (bisection on r of
  ``w_mu(m_t a_mu + sqrt(N Delta_t) r u) = 1/2``), against ``r_b(t)``; optionally the mean-shift
  attraction radius;
* random starts (fresh noised queries): fraction converging to a training point, to a spurious state,
  and the number of distinct spurious fixed points (points closer than ``0.01 sqrt(N)`` are one).

Theory: trap onset ``t_o`` and collapse ``t_C`` (``N -> inf`` spectrum at ``alpha`` and the exact
finite-N spectrum at ``log(P)/N``), ``r_b(t)`` from :func:`diffsim.theory.basin_radius`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim.landscape import (
    OTHER,
    OWN,
    SPURIOUS,
    attraction_radius,
    classify,
    distinct_count,
    dominance_radius,
    mean_shift,
    own_trap_classes,
    own_weight,
    random_directions,
    trap_starts,
)
from diffsim.studies._common import build, config_json, validate_data
from diffsim.studies._queries import fresh_queries
from diffsim.theory.hmm import asymptotic_spectrum
from diffsim.theory.collapse import collapse_time, trap_onset_time
from diffsim.theory.traps import basin_radius

__all__ = ["TrapsConfig", "TrapsResult", "run_traps", "traps_theory"]


@dataclass(frozen=True)
class TrapsConfig:
    """Parameters of the traps study (validated by :meth:`validate`)."""

    data: str = "gaussian"
    alpha: float = 0.2
    alpha_d: float = 0.5
    nonlinearity: str = "linear"
    dims: tuple[int, ...] = (30, 45, 60)
    times: tuple[float, ...] = (0.6, 0.7, 0.8)
    n_starts: int = 256
    n_random: int = 128
    n_bisect: int = 20
    step_size: float = 1.0
    tol: float = 1e-5
    max_iter: int = 2000
    traps: bool = True  # mean-shift from every probed training point
    basin: bool = True
    attraction: bool = False
    seed: int = 0

    def validate(self) -> "TrapsConfig":
        validate_data(self.data, self.alpha_d, self.nonlinearity)
        _validate.positive("alpha", self.alpha, upper=5.0)
        if not self.dims or not self.times:
            raise _validate.ConfigError("dims and times must be non-empty lists")
        _validate.dims_at_load(self.dims, self.alpha, bytes_besides=lambda n: 8.0 * self.n_random**2)
        for t in self.times:
            _validate.positive("times", t, upper=20.0)
        _validate.integer("n_starts", self.n_starts, minimum=1)
        _validate.integer("n_random", self.n_random, minimum=0)
        _validate.integer("n_bisect", self.n_bisect, minimum=1, maximum=60)
        _validate.positive("step_size", self.step_size, upper=1.0)
        _validate.positive("tol", self.tol, upper=1.0)
        _validate.integer("max_iter", self.max_iter, minimum=1)
        _validate.integer("seed", self.seed, minimum=0)
        return self


def traps_theory(times, alpha, spectrum) -> dict:
    """``t_onset``, ``t_collapse`` (scalars) and ``basin_radius`` ``[T]`` (section 6)."""
    return {
        "t_onset": float(trap_onset_time(alpha, spectrum)),
        "t_collapse": float(collapse_time(alpha, spectrum)),
        "basin_radius": basin_radius(np.asarray(times, dtype=np.float64), alpha, spectrum),
    }


@dataclass(frozen=True)
class TrapsCell:
    """Measurements at one N, each ``[T]`` (radii NaN where not measured)."""

    n: int
    p: int
    n_probed: int
    trap_fraction: np.ndarray
    other_fraction: np.ndarray
    spurious_fraction: np.ndarray
    start_dominated: np.ndarray
    basin_radius: np.ndarray
    basin_radius_stderr: np.ndarray
    attraction_radius: np.ndarray
    random_to_training: np.ndarray
    random_spurious: np.ndarray
    spurious_count: np.ndarray
    max_residual: float
    theory_spectrum: dict


@dataclass(frozen=True)
class TrapsResult:
    config: TrapsConfig
    theory: dict  # traps_theory with the N -> inf spectrum at alpha
    cells: tuple[TrapsCell, ...]

    def rows(self) -> list[dict]:
        """One row per (N, t): measured fractions and radii with the theory (``t_onset``, ``t_collapse``,
        ``r_b``; ``*_spectrum`` keys use the exact finite-N spectrum)."""
        out = []
        for c in self.cells:
            for j, t in enumerate(self.config.times):
                out.append({
                    "N": c.n, "P": c.p, "t": t, "n_probed": c.n_probed,
                    "trap_fraction": _num(c.trap_fraction[j]),
                    "other_fraction": _num(c.other_fraction[j]),
                    "spurious_fraction": _num(c.spurious_fraction[j]),
                    "start_dominated": float(c.start_dominated[j]),
                    "basin_radius": _num(c.basin_radius[j]), "basin_radius_stderr": _num(c.basin_radius_stderr[j]),
                    "attraction_radius": _num(c.attraction_radius[j]),
                    "random_to_training": _num(c.random_to_training[j]),
                    "random_spurious": _num(c.random_spurious[j]),
                    "spurious_count": _num(c.spurious_count[j]),
                    "theory_basin_radius": float(self.theory["basin_radius"][j]),
                    "theory_basin_radius_spectrum": float(c.theory_spectrum["basin_radius"][j]),
                    "t_onset": self.theory["t_onset"], "t_collapse": self.theory["t_collapse"],
                    "t_onset_spectrum": c.theory_spectrum["t_onset"],
                    "t_collapse_spectrum": c.theory_spectrum["t_collapse"],
                })
        return out

    def to_json(self) -> dict:
        return {
            "config": config_json(self.config),
            "t_onset": self.theory["t_onset"],
            "t_collapse": self.theory["t_collapse"],
            "definition": "trap_fraction: probed training points whose mean-shift from m_t a_mu ends with "
                          "weight > 1/2 on mu; basin_radius: median r where w_mu(m_t a_mu + sqrt(N Delta_t) r u) = 1/2",
            "rows": self.rows(),
        }


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def _fraction(classes: np.ndarray, code: int) -> np.ndarray:
    """Per-time fraction of ``classes == code`` (NaN where the classes were not measured, -1)."""
    measured = classes >= 0
    return np.where(measured.all(1), (classes == code).mean(1), np.nan)


def _median_with_error(values: np.ndarray) -> tuple[float, float]:
    """Median and its large-sample standard error ``1.2533 * 1.4826 MAD / sqrt(K)``."""
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return med, 1.2533 * 1.4826 * mad / math.sqrt(values.size)


def _measure(config: TrapsConfig, n: int, key) -> TrapsCell:
    model, train, spectrum, alpha_n = build(config.data, n, config.alpha, config.alpha_d, config.nonlinearity, key)
    times = np.asarray(config.times, dtype=np.float64)
    n_t = times.size
    k = min(config.n_starts, train.n_points)
    indices = jnp.arange(k, dtype=jnp.int32)  # training points are iid: the first k are a random subset

    classes = np.full((n_t, k), -1)
    max_res = 0.0
    if config.traps:
        classes, fixed = own_trap_classes(train, times, indices, tol=config.tol, max_iter=config.max_iter,
                                          step_size=config.step_size)
        classes = np.asarray(classes)
        max_res = float(jnp.max(fixed.residual))
    x0, t0, i0 = trap_starts(train, times, indices)
    start_dom = np.asarray(own_weight(x0, t0, train, i0) > 0.5).reshape(n_t, k).mean(1)

    radius = np.full(n_t, np.nan)
    radius_err = np.full(n_t, np.nan)
    attract = np.full(n_t, np.nan)
    if config.basin:
        directions = random_directions(jax.random.fold_in(key, 2), (k, n), train.chunks.dtype)
        for j, t in enumerate(times):  # a few times; each call is one jitted bisection
            r = np.asarray(dominance_radius(train, float(t), indices, directions, n_bisect=config.n_bisect))
            radius[j], radius_err[j] = _median_with_error(r)
            if config.attraction:
                attract[j] = float(np.median(np.asarray(attraction_radius(train, float(t), indices, directions))))

    to_train = np.full(n_t, np.nan)
    spur = np.full(n_t, np.nan)
    count = np.full(n_t, np.nan)
    if config.n_random:
        queries = fresh_queries(jax.random.fold_in(key, 3), model, times, config.n_random)
        fp = mean_shift(queries.x, queries.t, train, tol=config.tol, max_iter=config.max_iter, step_size=config.step_size)
        cls = np.asarray(classify(fp)).reshape(n_t, config.n_random)
        to_train, spur = (cls == OTHER).mean(1), (cls == SPURIOUS).mean(1)
        xs = fp.x.reshape(n_t, config.n_random, n)
        tol = 1e-2 * math.sqrt(n)
        count = np.array([int(distinct_count(xs[j], jnp.asarray(cls[j] == SPURIOUS), tol=tol)) for j in range(n_t)])
        max_res = max(max_res, float(jnp.max(fp.residual)))

    return TrapsCell(
        n=n, p=train.n_points, n_probed=k,
        trap_fraction=_fraction(classes, OWN), other_fraction=_fraction(classes, OTHER),
        spurious_fraction=_fraction(classes, SPURIOUS), start_dominated=start_dom,
        basin_radius=radius, basin_radius_stderr=radius_err, attraction_radius=attract,
        random_to_training=to_train, random_spurious=spur, spurious_count=count, max_residual=max_res,
        theory_spectrum=traps_theory(times, alpha_n, spectrum),
    )


def run_traps(config: TrapsConfig, key=None, *, progress=None) -> TrapsResult:
    """Run the study; ``key`` defaults to ``PRNGKey(seed)``; dimension N uses ``fold_in(key, N)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    cells = []
    for n in config.dims:
        cells.append(_measure(config, n, jax.random.fold_in(key, n)))
        if progress is not None:
            progress(n)
    theory = traps_theory(config.times, config.alpha, asymptotic_spectrum(config.data, config.alpha_d, config.nonlinearity))
    return TrapsResult(config, theory, tuple(cells))
