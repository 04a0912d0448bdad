"""The geometric picture of memorization, measured vs theory (THEORY.md section 8).

One config = one point (one N, one load, one data model). ``run_geometry`` draws ``P = round(exp(alpha N))``
training points and held-out points, measures ``W_sigma`` and ``C_sigma`` on a sigma grid
(:func:`diffsim.measure.geometry.measure_geometry`), reads ``sigma_w`` (W = 1/2), ``sigma_cov``
(C = 1/2) and the danger zone's log-width, and sets them against theory: the exact expected coverage
and its edge (:mod:`diffsim.theory.geometry`; isotropic 1-D integral, or the generalized chi-square
route with the model's exact covariance spectrum: exact for the linear HMM, the Gaussian equivalent
for the mixture and nonlinear HMM) and the collapse point ``sigma_C``, the leading-order limit of both
edges (no finite-N theory of ``sigma_w`` is offered: its theory value is ``sigma_C``).

``run_swap`` samples with the exact true and exact empirical scores swapped inside sigma windows
placed from the measured boundaries (small ``[0, sigma_cov]``, medium ``[sigma_cov, sigma_w]``, large
``[sigma_w, inf)``, and width-matched controls of the medium window's log-width just below and just
above it), and reports the memorized fraction (1/3 rule) with bootstrap errors, in both directions.

Large-noise linearity (``with_linearity = True``): on a second grid ``linearity.sigmas`` (reaching
large sigma), the relative distance of the empirical denoiser to the Wiener denoiser of the training
mean and covariance, and of both to the exact denoiser (true score, Tweedie), with ``sigma_lin``, the
sigma above which the empirical-Wiener distance stays below ``linearity.tolerance``
(:func:`diffsim.measure.geometry.measure_linearity`); rows with ``quantity`` ``emp_lin``,
``emp_exact``, ``lin_exact``.

Analyses over several points: :func:`zone_table` (one row per result) and :func:`zone_trend` (the
log-width against ``log N``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import jax
import numpy as np

from diffsim import _validate, data
from diffsim.measure.geometry import (
    GeometryMeasurement,
    GeometryOptions,
    LinearityMeasurement,
    LinearityOptions,
    default_sigmas,
    measure_geometry,
    measure_linearity,
    measure_memorization,
    swap_windows,
    window_swap,
)
from diffsim.results import finite_or_none
from diffsim.score import EmpiricalScore, TrainingSet
from diffsim.solvers import solver
from diffsim.specs import DataSpec, Sampling, config_json, validate_parts
from diffsim.studies._common import LANDSCAPE_DATA
from diffsim.theory.geometry import (
    collapse_sigma,
    coverage_edge_isotropic,
    coverage_edge_spectrum,
    coverage_isotropic,
    coverage_spectrum,
)
from diffsim.theory.spectrum import Spectrum
from diffsim.studies._registry import register_study

__all__ = [
    "GeometryConfig", "GeometryResult", "run_geometry", "SwapConfig", "SwapResult", "run_swap",
    "zone_table", "zone_trend", "default_sigmas",
]


@dataclass(frozen=True)
class GeometryConfig:
    """One point of the geometry study (validated by :meth:`validate`).

    Attributes:
        data: the data model, N (2 to 4096) and the load alpha (P = round(exp(alpha N)) training
            points, at least 2).
        measure: the options of measure_geometry (the sigma grid of W_sigma and C_sigma, the
            training queries per sigma, the shell's c).
        n_held_out: held-out points, one coverage query each per sigma (for C_sigma).
        n_theory: Monte-Carlo queries of the exact coverage theory (mixture and hmm; gaussian
            uses a 1-D integral).
        linearity: the options of measure_linearity (its sigma grid and tolerance).
        with_linearity: also measure the distance of the empirical denoiser to the linear (Wiener) one.
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="gaussian", dim=20, alpha=0.2)
    measure: GeometryOptions = GeometryOptions()
    n_held_out: int = 512
    n_theory: int = 256
    linearity: LinearityOptions = LinearityOptions()
    with_linearity: bool = True
    seed: int = 0

    def validate(self) -> "GeometryConfig":
        validate_parts(self)
        d = self.data
        _validate.integer("data.dim", d.dim, minimum=2, maximum=4096)
        _validate.integer("n_held_out", self.n_held_out, minimum=8)
        _validate.integer("n_theory", self.n_theory, minimum=16)
        _validate.integer("seed", self.seed, minimum=0)
        p = self.n_points
        if p < 2:
            raise _validate.ConfigError(f"alpha * dim = {d.alpha * d.dim:g} gives P = {p}: expected P >= 2")
        # the training set and its chunked copy, the held-out points, and the queries of every sigma
        # (both grids) with their denoised estimates
        n_queries = self.measure.n_queries
        n_sigmas = len(self.measure.sigmas) + len(self.linearity.sigmas)
        _validate.memory(f"the geometry measurement at P={p}, N={d.dim}",
                         4.0 * (2 * p + self.n_held_out) * d.dim + 16.0 * n_queries * n_sigmas * d.dim,
                         knobs={"measure.n_queries": n_queries, "n_held_out": self.n_held_out, "data.dim": d.dim})
        return self

    @property
    def n_points(self) -> int:
        return self.data.n_points


def _predictions(config: GeometryConfig, spectrum_eigs: np.ndarray, p: int, sigmas: np.ndarray) -> dict:
    """Exact coverage curve and edge, sigma_C, and which route computed them."""
    n = config.data.dim
    alpha_n = math.log(p) / n
    sc = float(collapse_sigma(alpha_n, Spectrum.from_eigenvalues(spectrum_eigs)))
    shell_c = config.measure.shell_c
    if config.data.model == "gaussian":
        curve = coverage_isotropic(sigmas, p, n, c=shell_c)
        edge, route = coverage_edge_isotropic(p, n, c=shell_c), "isotropic"
    else:
        curve, _ = coverage_spectrum(sigmas, p, spectrum_eigs, c=shell_c, n_y=config.n_theory)
        edge = coverage_edge_spectrum(p, spectrum_eigs, c=shell_c, n_y=config.n_theory)
        exact = config.data.model == "hmm" and config.data.nonlinearity == "linear"
        route = "spectrum" if exact else "gaussian_equivalent"
    return {"sigma_c": sc, "c_curve": np.asarray(curve), "sigma_cov": float(edge), "route": route}


@dataclass(frozen=True)
class GeometryResult:
    config: GeometryConfig
    n_points: int
    measurement: GeometryMeasurement
    theory: dict
    linearity: LinearityMeasurement | None = None

    def rows(self) -> list[dict]:
        """One row per (quantity, sigma): ``quantity`` in {W, C} (``theory``: exact expected coverage),
        and with the linearity measurement {emp_lin, emp_exact, lin_exact}; ``t`` the OU time of sigma.
        Boundary rows (``sigma`` None): ``sigma_cov`` (theory: exact edge), ``sigma_w`` (theory:
        sigma_C), ``log_width``, ``sigma_lin``."""
        m = self.measurement
        out = []
        for j, s in enumerate(m.sigmas):
            t = 0.5 * math.log1p(s * s)
            out.append({"N": self.config.data.dim, "P": self.n_points, "quantity": "W", "sigma": float(s), "t": t,
                        "value": float(m.w[j]), "stderr": float(m.w_stderr[j]), "theory": None})
            out.append({"N": self.config.data.dim, "P": self.n_points, "quantity": "C", "sigma": float(s), "t": t,
                        "value": float(m.c[j]), "stderr": float(m.c_stderr[j]), "theory": float(self.theory["c_curve"][j])})
        summ = self.summary()
        for q, theory in (("sigma_cov", summ["theory/sigma_cov"]), ("sigma_w", summ["theory/sigma_w"]),
                          ("log_width", None), ("sigma_lin", None)):
            if summ[q] is None and q == "sigma_lin" and self.linearity is None:
                continue
            out.append({"N": self.config.data.dim, "P": self.n_points, "quantity": q, "sigma": None, "t": None,
                        "value": summ[q], "stderr": summ[f"{q}_stderr"], "theory": theory})
        lin = self.linearity
        if lin is not None:
            for j, s in enumerate(lin.sigmas):
                t = 0.5 * math.log1p(s * s)
                for q in ("emp_lin", "emp_exact", "lin_exact"):
                    out.append({"N": self.config.data.dim, "P": self.n_points, "quantity": q, "sigma": float(s), "t": t,
                                "value": finite_or_none(getattr(lin, q)[j]), "stderr": finite_or_none(getattr(lin, q + "_stderr")[j]),
                                "theory": None})
        return out

    def summary(self) -> dict:
        """The boundaries: measured (value, stderr) and theory (``theory/sigma_cov``: the exact
        coverage edge; ``theory/sigma_w`` = ``theory/sigma_c``: the collapse scale sigma_C;
        ``theory/log_width``: 0 at leading order; ``theory/route``: how sigma_C was computed)."""
        m = self.measurement
        th = self.theory
        return {
            "N": self.config.data.dim, "P": self.n_points, "data": self.config.data.model, "alpha_d": self.config.data.alpha_d,
            "sigma_cov": finite_or_none(m.sigma_cov.value), "sigma_cov_stderr": finite_or_none(m.sigma_cov.stderr),
            "sigma_w": finite_or_none(m.sigma_w.value), "sigma_w_stderr": finite_or_none(m.sigma_w.stderr),
            "log_width": finite_or_none(m.log_width.value), "log_width_stderr": finite_or_none(m.log_width.stderr),
            "theory/sigma_cov": finite_or_none(th["sigma_cov"]), "theory/sigma_w": finite_or_none(th["sigma_c"]),
            "theory/sigma_c": finite_or_none(th["sigma_c"]), "theory/log_width": 0.0, "theory/route": th["route"],
            "sigma_lin": None if self.linearity is None else finite_or_none(self.linearity.sigma_lin.value),
            "sigma_lin_stderr": None if self.linearity is None else finite_or_none(self.linearity.sigma_lin.stderr),
            "linearity_tolerance": self.config.linearity.tolerance,
            "emp_lin_at_sigma_w": None if self.linearity is None else _at(self.linearity, m.sigma_w.value),
        }

    def to_json(self) -> dict:
        m = self.measurement
        return {
            "config": config_json(self.config), **self.summary(),
            "sigma": [float(s) for s in m.sigmas], "W": _list(m.w), "W_stderr": _list(m.w_stderr),
            "C": _list(m.c), "C_stderr": _list(m.c_stderr), "theory/C": _list(self.theory["c_curve"]),
            **({} if self.linearity is None else {
                "linearity_sigma": _list(self.linearity.sigmas),
                "emp_lin": _list(self.linearity.emp_lin), "emp_lin_stderr": _list(self.linearity.emp_lin_stderr),
                "emp_exact": _list(self.linearity.emp_exact), "emp_exact_stderr": _list(self.linearity.emp_exact_stderr),
                "lin_exact": _list(self.linearity.lin_exact), "lin_exact_stderr": _list(self.linearity.lin_exact_stderr),
            }),
        }


def _at(lin: LinearityMeasurement, sigma: float):
    """The empirical-Wiener relative distance at ``sigma`` (interpolated in log sigma; None off the grid)."""
    if not math.isfinite(sigma) or not lin.sigmas[0] <= sigma <= lin.sigmas[-1]:
        return None
    return finite_or_none(np.interp(math.log(sigma), np.log(lin.sigmas), lin.emp_lin))


def _list(a):
    return [finite_or_none(v) for v in np.asarray(a)]


def _build(spec: DataSpec, key):
    model = spec.make(jax.random.fold_in(key, 0))
    p = spec.n_points
    train = TrainingSet.from_points(model.sample(jax.random.fold_in(key, 1), p))
    return model, train, p


@register_study("geometry", GeometryConfig,
                description="posterior concentration W and shell coverage C vs sigma; sigma_cov, sigma_w, danger zone "
                "vs exact coverage theory and sigma_C")
def run_geometry(config: GeometryConfig, key=None, *, progress=None) -> GeometryResult:
    """Measure W and C, their boundaries, and the theory, at one point; ``key`` defaults to
    ``PRNGKey(seed)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model, train, p = _build(config.data, key)
    held = model.sample(jax.random.fold_in(key, 2), config.n_held_out)
    sigmas = np.asarray(config.measure.sigmas, dtype=np.float64)
    meas = measure_geometry(jax.random.fold_in(key, 3), train, held_out=held,
                            **{**config.measure.as_kwargs(), "sigmas": sigmas})
    if progress is not None:
        progress(f"N={config.data.dim} measured")
    theory = _predictions(config, np.asarray(model.covariance_spectrum(), dtype=np.float64), p, sigmas)
    lin = None
    if config.with_linearity:
        lin = measure_linearity(jax.random.fold_in(key, 5), train, held_out=held,
                                score=model.score if data.has_exact_score(model, config.data.dim) else None,
                                **config.linearity.as_kwargs())
    return GeometryResult(config, p, meas, theory, lin)


def zone_table(results) -> list[dict]:
    """One summary row per result (N, P, edges measured and theory, log-width)."""
    return [r.summary() for r in results]


def zone_trend(results) -> dict:
    """Least-squares slope of the measured log-width against ``log N`` (negative: the zone narrows),
    and of the gaps ``sigma_w - sigma_C`` and ``sigma_C - sigma_cov``."""
    rows = zone_table(results)
    n = np.log([r["N"] for r in rows])

    def slope(key):
        v = np.array([r[key] if r[key] is not None else np.nan for r in rows], dtype=float)
        ok = np.isfinite(v)
        return float(np.polyfit(n[ok], v[ok], 1)[0]) if ok.sum() >= 2 else None

    for r in rows:
        r["gap_w"] = None if r["sigma_w"] is None else r["sigma_w"] - r["theory/sigma_c"]
        r["gap_cov"] = None if r["sigma_cov"] is None else r["theory/sigma_c"] - r["sigma_cov"]
    return {"log_width_slope": slope("log_width"), "gap_w_slope": slope("gap_w"), "gap_cov_slope": slope("gap_cov")}


# ----------------------------------------------------------------------------- swaps

WINDOWS = ("small", "medium", "large", "control_below", "control_above")
DIRECTIONS = ("empirical_in_true", "true_in_empirical")
Method = Literal["sde", "ode"]
"""The swap samplers, names of :data:`diffsim.solvers.SOLVERS`: backward SDE or probability-flow ODE."""


@dataclass(frozen=True)
class SwapConfig:
    """One point of the swap study with exact scores (data ``gaussian`` or linear ``hmm``).

    Attributes:
        data: data model with an exact true score (gaussian, or hmm with the linear nonlinearity),
            N and the load alpha (P = round(exp(alpha N)) training points).
        sampling: the sampler of every window and direction: sde (backward SDE) or ode
            (probability-flow ODE), at least 10 steps on a log grid from t_max to t_min (OU time).
        measure: the options of measure_geometry for the boundaries sigma_cov, sigma_w that place
            the windows (n_queries: training and held-out queries per sigma).
        n_samples: generated samples per window and direction of the swap.
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="gaussian", dim=20, alpha=0.2)
    sampling: Sampling = Sampling(solver="sde", n_steps=200, t_max=6.0, t_min=1e-3)
    measure: GeometryOptions = GeometryOptions(n_queries=256)
    n_samples: int = 512
    seed: int = 0

    def validate(self) -> "SwapConfig":
        validate_parts(self)
        _validate.choice("data.model", self.data.model, LANDSCAPE_DATA)
        if self.data.model == "hmm":
            _validate.choice("data.nonlinearity", self.data.nonlinearity, ("linear",))
        self.sampling.validate(solvers=("sde", "ode"), grids=("log",))
        _validate.integer("sampling.n_steps", self.sampling.n_steps, minimum=10, maximum=_validate.MAX_STEPS)
        _validate.integer("n_samples", self.n_samples, minimum=8)
        # the samples of the two baselines and every swapped window (states, noise, scores: ~16 floats each)
        _validate.memory(f"the swap samples at N={self.data.dim}", 64.0 * self.n_samples * self.data.dim,
                         knobs={"n_samples": self.n_samples, "data.dim": self.data.dim})
        self.geometry_config().validate()
        return self

    def geometry_config(self) -> GeometryConfig:
        """The geometry point whose boundaries place the windows (held-out points: ``n_queries``)."""
        return GeometryConfig(data=self.data, measure=self.measure, n_held_out=self.measure.n_queries, seed=self.seed)


@dataclass(frozen=True)
class SwapResult:
    config: SwapConfig
    sigma_cov: float
    sigma_w: float
    windows: dict  # name -> (lo, hi)
    fractions: dict  # (direction, window) -> Estimate; also ("all_true", None), ("all_empirical", None)

    def rows(self) -> list[dict]:
        """One row per (direction, window), ``quantity`` ``memorized_fraction``; baselines have ``window`` None."""
        out = []
        for (direction, window), est in self.fractions.items():
            lo, hi = self.windows.get(window, (None, None))
            out.append({"N": self.config.data.dim, "P": self.config.data.n_points,
                        "direction": direction, "window": window, "sigma_lo": finite_or_none(lo),
                        "sigma_hi": finite_or_none(hi),
                        "quantity": "memorized_fraction", "value": float(est.value), "stderr": finite_or_none(est.stderr)})
        return out

    def to_json(self) -> dict:
        return {"config": config_json(self.config), "sigma_cov": finite_or_none(self.sigma_cov),
                "sigma_w": finite_or_none(self.sigma_w), "rows": self.rows()}


@register_study("geometry_swap", SwapConfig,
                description="exact true/empirical scores swapped inside sigma windows placed from the measured "
                "boundaries: memorized fraction")
def run_swap(config: SwapConfig, key=None, *, progress=None) -> SwapResult:
    """Exact-score window swaps at windows placed from the measured boundaries."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model, train, _ = _build(config.data, key)
    held = model.sample(jax.random.fold_in(key, 2), config.measure.n_queries)
    geo = measure_geometry(jax.random.fold_in(key, 3), train, held_out=held, **config.measure.as_kwargs())
    lo, hi = geo.sigma_cov.value, geo.sigma_w.value
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise _validate.ConfigError(f"the measured boundaries sigma_cov={lo}, sigma_w={hi} do not bracket a window: widen sigmas")
    windows = swap_windows(lo, hi)
    emp, true = EmpiricalScore(train), model.score
    k_run = jax.random.fold_in(key, 4)  # the same noise for every window: paired comparisons

    sampler = solver(config.sampling.solver)

    def frac(inside, outside, a, b):
        smp = config.sampling
        return measure_memorization(k_run, train, window_swap(inside, outside, a, b), n_samples=config.n_samples,
                                    n_steps=smp.n_steps, t_max=smp.t_max, t_min=smp.t_min, solver=sampler).memorized

    fractions = {("all_true", None): frac(emp, true, 1e30, 1e31), ("all_empirical", None): frac(true, emp, 1e30, 1e31)}
    for name, (a, b) in windows.items():
        b = min(b, 1e30)
        fractions[("empirical_in_true", name)] = frac(emp, true, a, b)
        fractions[("true_in_empirical", name)] = frac(true, emp, a, b)
        if progress is not None:
            progress(f"window {name}")
    return SwapResult(config, lo, hi, windows, fractions)
