"""Random-energy-model statistics of the posterior weights, measured vs theory (THEORY.md section 5).

One point: a training set of ``P = round(exp(alpha N))`` points of the data model at one dimension
``N``, measured by :func:`diffsim.measure.rem.measure_rem` at every time with fresh queries (held-out
points of the same model) and queries noised from training points. Theory
(:func:`diffsim.theory.rem.rem_theory`):

* ``fresh``: below ``t_C`` the weights condense with Poisson-Dirichlet parameter ``k_c(t)``,
  ``E[Y2] = 1 - k_c`` (0 above ``t_C``); ``(1/N) log Z`` -> :func:`diffsim.theory.free_energy`; entropy
  per dimension ``max(0, s(1))`` above ``t_C`` and the total ``psi(1) - psi(1 - k_c)`` below.
* ``train``: ``E[Y2] -> 1`` below ``t_C`` and ``0`` above; ``(1/N) log Z -> max(-1/2, F)``.

Theory at the realised load ``log(P)/N`` with the exact finite-N covariance spectrum (``*_spectrum``
keys) and with the ``N -> inf`` spectrum at ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from diffsim import _validate
from diffsim.measure.rem import QUERY_KINDS, RemMeasurement, RemOptions, measure_rem
from diffsim.specs import DataSpec, config_json, validate_parts
from diffsim.studies._common import LandscapeResult, build, validate_data
from diffsim.results import finite_or_none
from diffsim.theory.hmm import asymptotic_spectrum
from diffsim.theory.rem import rem_theory
from diffsim.studies._registry import register_study

__all__ = ["QUERY_KINDS", "RemConfig", "RemResult", "run_rem", "results_json"]


@dataclass(frozen=True)
class RemConfig:
    """One point of the REM study (validated by :meth:`validate`).

    Attributes:
        data: the data (model gaussian or hmm, unit variance), N, the load alpha (P = round(exp(alpha
            N)) training points) and, for hmm, alpha_d and the nonlinearity.
        measure: the options of measure_rem (the times and the queries per time and kind).
        seed: random seed (PRNGKey(seed) folded in with N).
    """

    data: DataSpec = DataSpec(model="gaussian", dim=70, alpha=0.1)
    measure: RemOptions = RemOptions()
    seed: int = 0

    def validate(self) -> "RemConfig":
        validate_parts(self)
        validate_data(self.data)
        m = self.measure
        _validate.dims_at_load((self.data.dim,), self.data.alpha, name="data.dim",
                               bytes_besides=lambda n: 8.0 * m.n_queries * len(m.times) * n,
                               knobs={"measure.n_queries": m.n_queries})
        _validate.integer("seed", self.seed, minimum=0)
        return self


@dataclass(frozen=True)
class RemResult(LandscapeResult):
    config: RemConfig
    measurement: RemMeasurement

    def rows(self) -> list[dict]:
        """One row per (t, query kind). ``theory/mean_y2`` is the ``N -> inf`` value (``1 - k_c`` for
        fresh queries), ``theory/mean_y2_spectrum`` the same with the exact finite-N spectrum (likewise
        ``theory/log_z_per_dim(_spectrum)``, ``theory/t_collapse(_spectrum)``); ``theory/entropy_per_dim``
        is the REM weight entropy per dimension and ``theory/mean_entropy_condensed`` the total weight
        entropy of the condensed phase (None above ``t_C``), both for fresh queries only."""
        out = []
        th, ths = self.theory, self.theory_spectrum
        for kind, c in self.measurement.curves.items():
            for j, t in enumerate(self.config.measure.times):
                out.append({
                    "N": self.n, "P": self.p, "t": t, "query": kind,
                    "mean_y2": float(c.mean_y2[j]), "mean_y2_stderr": float(c.y2_stderr[j]),
                    "y2_q10": float(c.y2_deciles[j, 0]), "y2_q50": float(c.y2_deciles[j, 4]), "y2_q90": float(c.y2_deciles[j, 8]),
                    "theory/mean_y2": float(th[f"y2_{kind}"][j]),
                    "theory/mean_y2_spectrum": float(ths[f"y2_{kind}"][j]),
                    "mean_max_weight": float(c.mean_max_weight[j]),
                    "mean_entropy": float(c.mean_entropy[j]),
                    "log_z_per_dim": float(c.mean_log_z[j]), "log_z_per_dim_stderr": float(c.log_z_stderr[j]),
                    "theory/log_z_per_dim": float(th[f"log_z_{kind}"][j]),
                    "theory/log_z_per_dim_spectrum": float(ths[f"log_z_{kind}"][j]),
                    "theory/entropy_per_dim": float(th["entropy_per_dim_fresh"][j]) if kind == "fresh" else None,
                    "theory/mean_entropy_condensed":
                        finite_or_none(th["entropy_fresh"][j]) if kind == "fresh" else None,
                    "theory/t_collapse": th["t_collapse"],
                    "theory/t_collapse_spectrum": ths["t_collapse"],
                })
        return out

    def to_json(self) -> dict:
        """``rows``: fresh queries (keys ``N``, ``t``, ``mean_y2``, ``theory/mean_y2 = 1 - k_c``, ...);
        ``train_rows``: queries noised from training points."""
        rows = self.rows()
        return {
            "config": config_json(self.config), "theory/t_collapse": self.theory["t_collapse"],
            "rows": [r for r in rows if r["query"] == "fresh"], "train_rows": [r for r in rows if r["query"] == "train"],
        }


@register_study("rem", RemConfig, description="REM statistics of the posterior weights (Y2, log Z) vs theory")
def run_rem(config: RemConfig, key=None, *, progress=None) -> RemResult:
    """Data -> measure -> theory at one point; ``key`` defaults to ``PRNGKey(seed)``, the point uses
    ``fold_in(key, N)`` (data from ``fold_in(., 0)``, ``fold_in(., 1)``; queries ``fold_in(., 10 + kind)``)."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    d = config.data
    times = np.asarray(config.measure.times, dtype=np.float64)
    point_key = jax.random.fold_in(key, d.dim)
    model, train, spectrum, alpha_n = build(d, point_key)
    report = None if progress is None else (lambda what: progress(f"N={d.dim} {what}"))
    measurement = measure_rem(point_key, train, times=times, n_queries=config.measure.n_queries, fresh=model, progress=report)
    theory = rem_theory(times, d.alpha, asymptotic_spectrum(d.model, d.alpha_d, d.nonlinearity))
    return RemResult(config, measurement, theory, rem_theory(times, alpha_n, spectrum))


def results_json(results: list[RemResult]) -> dict:
    """One JSON object for points at several N (same other parameters): the first point's config with
    ``dims``, the ``N -> inf`` ``theory/t_collapse``, and every point's fresh and training rows."""
    config = config_json(results[0].config)
    config["data"].pop("dim")
    config["dims"] = [r.n for r in results]
    parts = [r.to_json() for r in results]
    return {"config": config, "theory/t_collapse": results[0].theory["t_collapse"],
            "rows": [row for p in parts for row in p["rows"]], "train_rows": [row for p in parts for row in p["train_rows"]]}
