"""Traps and basins of ``U_t = -log p_t^e`` vs theory (THEORY.md section 6) [derived].

One point: a training set of ``P = round(exp(alpha N))`` points of the data model at one dimension N,
measured by :func:`diffsim.measure.traps.measure_traps` (random starts from held-out points of the
same model). Theory (:func:`diffsim.theory.traps.traps_theory`): trap onset ``t_o`` and collapse
``t_C`` (``N -> inf`` spectrum at ``alpha`` and the exact finite-N spectrum at ``log(P)/N``), ``r_b(t)``.
A median basin radius at the bisection limit is reported as a lower bound (``basin_radius`` None,
``basin_radius_is_bound`` true, ``basin_radius_lower_bound``), not as a value.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from diffsim import _validate
from diffsim.landscape import check_times
from diffsim.measure.traps import TrapsMeasurement, measure_traps
from diffsim.results import finite_or_none
from diffsim.studies._common import LandscapeData, build, config_json, validate_data
from diffsim.theory.hmm import Nonlinearity
from diffsim.theory.hmm import asymptotic_spectrum
from diffsim.theory.traps import traps_theory

__all__ = ["TrapsConfig", "TrapsResult", "run_traps", "results_json"]

# max |a|^2 / N of the data models' training sets is below this (unit-variance coordinates): the
# config check of the smallest time; the measurement checks again with the drawn points.
_DATA_SCALE = 4.0


@dataclass(frozen=True)
class TrapsConfig:
    """One point of the traps study (validated by :meth:`validate`).

    Attributes:
        data: data model: gaussian (isotropic) or hmm (hidden manifold).
        alpha: load alpha = log(P)/N (P = round(exp(alpha N)) training points).
        alpha_d: hmm: latent ratio D/N (D = round(alpha_d N)).
        nonlinearity: hmm: activation phi of the hidden manifold.
        dim: dimension N.
        times: times of the measurement (OU time t).
        n_starts: training points probed (the first min(n_starts, P)).
        n_random: random starts per time, from held-out points, for the spurious states (0: none).
        n_bisect: bisection steps of the basin (and attraction) radius.
        r_max: largest basin radius searched, in units of sqrt(N Delta_t); a median at r_max is
            reported as a lower bound.
        step_size: step eta of the fixed-point iteration: 1 is mean-shift, < 1 a damped ascent
            of log p_t^e.
        tol: convergence threshold of the residual |m_t x0_hat(x) - x| / sqrt(N).
        max_iter: largest number of fixed-point iterations.
        traps: run the fixed-point iteration from every probed training point (the trap fractions).
        basin: measure the basin (dominance) radius of the probed points.
        attraction: also measure the mean-shift attraction radius (with basin only).
        seed: random seed (PRNGKey(seed) folded in with N).
    """

    data: LandscapeData = "gaussian"
    alpha: float = 0.2
    alpha_d: float = 0.5
    nonlinearity: Nonlinearity = "linear"
    dim: int = 45
    times: tuple[float, ...] = (0.6, 0.7, 0.8)
    n_starts: int = 256
    n_random: int = 128
    n_bisect: int = 20
    r_max: float = 3.0
    step_size: float = 1.0
    tol: float = 1e-5
    max_iter: int = 2000
    traps: bool = True
    basin: bool = True
    attraction: bool = False
    seed: int = 0

    def validate(self) -> "TrapsConfig":
        validate_data(self.data, self.alpha_d, self.nonlinearity)
        _validate.positive("alpha", self.alpha, upper=5.0)
        if not self.times:
            raise _validate.ConfigError("times=() is out of range: expected a non-empty list")
        _validate.integer("dim", self.dim, minimum=2, maximum=100_000)
        _validate.integer("n_starts", self.n_starts, minimum=1)
        _validate.integer("n_random", self.n_random, minimum=0)
        _validate.dims_at_load((self.dim,), self.alpha, name="dim",
                               bytes_besides=lambda n: 8.0 * (self.n_random**2 + self.n_random * n),
                               knobs={"n_random": self.n_random})  # n_starts is capped at P
        for t in self.times:
            _validate.positive("times", t, upper=20.0)
        check_times(self.times, np.float32, _DATA_SCALE * self.dim)
        _validate.integer("n_bisect", self.n_bisect, minimum=1, maximum=60)
        _validate.positive("r_max", self.r_max, upper=100.0)
        _validate.positive("step_size", self.step_size, upper=1.0)
        _validate.positive("tol", self.tol, upper=1.0)
        _validate.integer("max_iter", self.max_iter, minimum=1)
        _validate.integer("seed", self.seed, minimum=0)
        return self

    @property
    def measure_options(self) -> dict:
        return {"n_starts": self.n_starts, "n_random": self.n_random, "n_bisect": self.n_bisect, "r_max": self.r_max,
                "step_size": self.step_size, "tol": self.tol, "max_iter": self.max_iter, "traps": self.traps,
                "basin": self.basin, "attraction": self.attraction}


@dataclass(frozen=True)
class TrapsResult:
    config: TrapsConfig
    measurement: TrapsMeasurement
    theory: dict  # traps_theory with the N -> inf spectrum at alpha
    theory_spectrum: dict  # traps_theory with the finite-N spectrum at log(P) / N

    @property
    def n(self) -> int:
        return self.config.dim

    @property
    def p(self) -> int:
        return self.measurement.n_points

    def rows(self) -> list[dict]:
        """One row per t: measured fractions and radii with the theory (``theory/t_onset``,
        ``theory/t_collapse``, ``theory/basin_radius``; ``theory/*_spectrum`` keys use the exact finite-N
        spectrum). Where the median basin radius is
        at the bisection limit ``basin_radius`` is None, ``basin_radius_is_bound`` True and
        ``basin_radius_lower_bound`` the limit."""
        c, th, ths = self.measurement, self.theory, self.theory_spectrum
        out = []
        for j, t in enumerate(self.config.times):
            bound = bool(c.basin_radius_is_bound[j])
            out.append({
                "N": self.n, "P": self.p, "t": t, "n_probed": c.n_probed,
                "trap_fraction": finite_or_none(c.trap_fraction[j]),
                "other_fraction": finite_or_none(c.other_fraction[j]),
                "spurious_fraction": finite_or_none(c.spurious_fraction[j]),
                "start_dominated": float(c.start_dominated[j]),
                "basin_radius": finite_or_none(c.basin_radius[j]),
                "basin_radius_stderr": finite_or_none(c.basin_radius_stderr[j]),
                "basin_radius_is_bound": bound, "basin_radius_lower_bound": c.r_max if bound else None,
                "attraction_radius": finite_or_none(c.attraction_radius[j]),
                "random_to_training": finite_or_none(c.random_to_training[j]),
                "random_spurious": finite_or_none(c.random_spurious[j]),
                "spurious_count": finite_or_none(c.spurious_count[j]),
                "theory/basin_radius": float(th["basin_radius"][j]),
                "theory/basin_radius_spectrum": float(ths["basin_radius"][j]),
                "theory/t_onset": th["t_onset"], "theory/t_collapse": th["t_collapse"],
                "theory/t_onset_spectrum": ths["t_onset"],
                "theory/t_collapse_spectrum": ths["t_collapse"],
            })
        return out

    def to_json(self) -> dict:
        return {
            "config": config_json(self.config),
            "theory/t_onset": self.theory["t_onset"],
            "theory/t_collapse": self.theory["t_collapse"],
            "definition": "trap_fraction: probed training points whose mean-shift from m_t a_mu ends with "
                          "weight > 1/2 on mu; basin_radius: median r where w_mu(m_t a_mu + sqrt(N Delta_t) r u) = 1/2 "
                          "(None with basin_radius_is_bound where the median reaches the bisection limit r_max)",
            "rows": self.rows(),
        }


def run_traps(config: TrapsConfig, key=None, *, progress=None) -> TrapsResult:
    """Data -> measure -> theory at one point; ``key`` defaults to ``PRNGKey(seed)``, the point uses
    ``fold_in(key, N)`` (data ``fold_in(., 0)``, ``fold_in(., 1)``; directions 2; random starts 3)."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    point_key = jax.random.fold_in(key, config.dim)
    model, train, spectrum, alpha_n = build(config.data, config.dim, config.alpha, config.alpha_d, config.nonlinearity, point_key)
    measurement = measure_traps(point_key, train, times=config.times, fresh=model, **config.measure_options)
    if progress is not None:
        progress(config.dim)
    theory = traps_theory(config.times, config.alpha, asymptotic_spectrum(config.data, config.alpha_d, config.nonlinearity))
    return TrapsResult(config, measurement, theory, traps_theory(config.times, alpha_n, spectrum))


def results_json(results: list[TrapsResult]) -> dict:
    """One JSON object for points at several N (same other parameters): the first point's config with
    ``dims``, the ``N -> inf`` ``theory/t_onset``, ``theory/t_collapse`` and every point's rows."""
    payload = results[0].to_json()
    payload["config"].pop("dim")
    payload["config"]["dims"] = [r.n for r in results]
    payload["rows"] = [row for r in results for row in r.rows()]
    return payload
