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
from diffsim.measure.traps import TrapsMeasurement, TrapsOptions, measure_traps
from diffsim.specs import DataSpec, config_json, validate_parts
from diffsim.studies._common import LandscapeResult, build, validate_data
from diffsim.results import finite_or_none
from diffsim.theory.hmm import asymptotic_spectrum
from diffsim.theory.traps import traps_theory
from diffsim.studies._registry import register_study

__all__ = ["TrapsConfig", "TrapsResult", "run_traps", "results_json"]

# max |a|^2 / N of the data models' training sets is below this (unit-variance coordinates): the
# config check of the smallest time; the measurement checks again with the drawn points.
_DATA_SCALE = 4.0


@dataclass(frozen=True)
class TrapsConfig:
    """One point of the traps study (validated by :meth:`validate`).

    Attributes:
        data: the data (model gaussian or hmm, unit variance), N, the load alpha (P = round(exp(alpha
            N)) training points) and, for hmm, alpha_d and the nonlinearity.
        measure: the options of measure_traps (times, probed points, random starts, bisection,
            fixed-point iteration, which measurements).
        seed: random seed (PRNGKey(seed) folded in with N).
    """

    data: DataSpec = DataSpec(model="gaussian", dim=45, alpha=0.2)
    measure: TrapsOptions = TrapsOptions()
    seed: int = 0

    def validate(self) -> "TrapsConfig":
        validate_parts(self)
        validate_data(self.data)
        n_random = self.measure.n_random
        _validate.dims_at_load((self.data.dim,), self.data.alpha, name="data.dim",
                               bytes_besides=lambda n: 8.0 * (n_random**2 + n_random * n),
                               knobs={"measure.n_random": n_random})  # n_starts is capped at P
        check_times(self.measure.times, np.float32, _DATA_SCALE * self.data.dim)
        _validate.integer("seed", self.seed, minimum=0)
        return self


@dataclass(frozen=True)
class TrapsResult(LandscapeResult):
    config: TrapsConfig
    measurement: TrapsMeasurement

    def rows(self) -> list[dict]:
        """One row per t: measured fractions and radii with the theory (``theory/t_onset``,
        ``theory/t_collapse``, ``theory/basin_radius``; ``theory/*_spectrum`` keys use the exact finite-N
        spectrum). Where the median basin radius is
        at the bisection limit ``basin_radius`` is None, ``basin_radius_is_bound`` True and
        ``basin_radius_lower_bound`` the limit."""
        c, th, ths = self.measurement, self.theory, self.theory_spectrum
        out = []
        for j, t in enumerate(self.config.measure.times):
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


@register_study("traps", TrapsConfig, description="trap fraction vs t_o, basin radius vs r_b(t), spurious states")
def run_traps(config: TrapsConfig, key=None, *, progress=None) -> TrapsResult:
    """Data -> measure -> theory at one point; ``key`` defaults to ``PRNGKey(seed)``, the point uses
    ``fold_in(key, N)`` (data ``fold_in(., 0)``, ``fold_in(., 1)``; directions 2; random starts 3)."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    d, times = config.data, config.measure.times
    point_key = jax.random.fold_in(key, d.dim)
    model, train, spectrum, alpha_n = build(d, point_key)
    measurement = measure_traps(point_key, train, fresh=model, **config.measure.as_kwargs())
    if progress is not None:
        progress(d.dim)
    theory = traps_theory(times, d.alpha, asymptotic_spectrum(d.model, d.alpha_d, d.nonlinearity))
    return TrapsResult(config, measurement, theory, traps_theory(times, alpha_n, spectrum))


def results_json(results: list[TrapsResult]) -> dict:
    """One JSON object for points at several N (same other parameters): the first point's config with
    ``dims``, the ``N -> inf`` ``theory/t_onset``, ``theory/t_collapse`` and every point's rows."""
    payload = results[0].to_json()
    payload["config"]["data"].pop("dim")
    payload["config"]["dims"] = [r.n for r in results]
    payload["rows"] = [row for r in results for row in r.rows()]
    return payload
