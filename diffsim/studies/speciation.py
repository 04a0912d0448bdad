"""Speciation time by the clone protocol on the two-cluster mixture (THEORY.md section 3).

One config is one point (one N). Trajectories driven by the exact mixture score run from ``N(0, I)``;
at branch times around ``t_S = 0.5 log Lambda`` each state is cloned into two copies that continue
independently to ``t_min``, and ``phi(t)`` is the fraction of clone pairs ending in the same cluster
(:func:`diffsim.measure.measure_speciation`). Theory: ``phi(t) = 0.5 int (G_+^2 + G_-^2) / (G_+ + G_-) dq``.
The measured ``t_S`` is read where the measured phi crosses the theoretical ``phi(t_S)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from diffsim import _validate, data
from diffsim.measure.speciation import SpeciationMeasurement, SpeciationOptions, measure_speciation
from diffsim.specs import DataSpec, config_json, validate_parts
from diffsim.theory.speciation import speciation_time, two_cluster_clone_agreement
from diffsim.studies._registry import register_study

__all__ = ["SpeciationConfig", "SpeciationResult", "run_speciation"]


@dataclass(frozen=True)
class SpeciationConfig:
    """One point of the speciation study: the two-cluster mixture at one N and the sizes of the clone
    protocol (validated by :meth:`validate`).

    Attributes:
        data: the two-cluster mixture (model mixture only): N, mtilde (centres +-v, |v|^2 = N mtilde^2)
            and sigma (cluster standard deviation); its exact score drives the dynamics.
        measure: the options of measure_speciation (pairs, branch times, time grid, clones, bootstrap).
        seed: random seed (PRNGKey(seed) folded in with N).
    """

    data: DataSpec = DataSpec(model="mixture", dim=32, mtilde=1.0, sigma=1.0)
    measure: SpeciationOptions = SpeciationOptions()
    seed: int = 0

    def validate(self) -> "SpeciationConfig":
        validate_parts(self)
        _validate.choice("data.model", self.data.model, ("mixture",))
        _validate.integer("data.dim", self.data.dim, minimum=1, maximum=1_000_000)
        _validate.integer("seed", self.seed, minimum=0)
        # the recorded trajectories (n_pairs states per record), the clones at every branch time
        # and the bootstrap of their agreement
        m, n = self.measure, self.data.dim
        records = m.n_steps // m.record_every + 1
        _validate.memory(
            f"the clone protocol in N={n}",
            4.0 * m.n_pairs * (n * (records + 4 * m.n_branch) + m.n_branch * m.n_bootstrap) + 8.0 * m.n_steps,
            knobs={"measure.n_pairs": m.n_pairs, "data.dim": n, "measure.n_steps": m.n_steps},
        )
        return self


@dataclass(frozen=True)
class SpeciationResult:
    """One point: the config, the largest eigenvalue ``Lambda``, theory ``t_S`` and ``phi(t)``, and
    the measurement."""

    config: SpeciationConfig
    largest_eigenvalue: float
    t_speciation_theory: float
    phi_theory: np.ndarray
    measurement: SpeciationMeasurement

    def to_json(self) -> dict:
        m = self.measurement
        return {
            "config": config_json(self.config),
            "N": m.dim,
            "largest_eigenvalue": self.largest_eigenvalue,
            "t_speciation": {"value": m.t_speciation.value, "stderr": m.t_speciation.stderr},
            "theory": {"t_speciation": self.t_speciation_theory},
            "curve": {
                "t": m.branch_times.tolist(),
                "phi": m.phi.tolist(),
                "phi_stderr": m.phi_stderr.tolist(),
                "theory/phi": self.phi_theory.tolist(),
            },
        }

    def rows(self) -> list[dict]:
        m = self.measurement
        base = {"N": m.dim}
        out = [
            {**base, "quantity": "t_speciation", "t": None, "value": m.t_speciation.value, "stderr": m.t_speciation.stderr},
            {**base, "quantity": "theory/t_speciation", "t": None, "value": self.t_speciation_theory, "stderr": None},
        ]
        for t, p, e, th in zip(m.branch_times, m.phi, m.phi_stderr, self.phi_theory):
            out.append({**base, "quantity": "phi", "t": float(t), "value": float(p), "stderr": float(e)})
            out.append({**base, "quantity": "theory/phi", "t": float(t), "value": float(th), "stderr": None})
        return out


@register_study("speciation", SpeciationConfig, description="speciation phi(t) by clones vs theory")
def run_speciation(config: SpeciationConfig, key=None, *, progress=None) -> SpeciationResult:
    """Run one point with the exact mixture score; the point uses ``fold_in(key, dim)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    n, sigma = config.data.dim, config.data.sigma
    model = data.TwoClusterMixture.create(n, mtilde=config.data.mtilde, sigma=sigma)
    lam = float(model.covariance_spectrum()[0])
    t_s = float(speciation_time(lam))
    norm_v = math.sqrt(n) * config.data.mtilde
    level = float(two_cluster_clone_agreement(np.array([t_s]), norm_v, sigma)[0])
    m = measure_speciation(jax.random.fold_in(key, n), None, dim=n, drift=model.score, label_of=model.label_of,
                           level=level, t_ref=t_s, **config.measure.as_kwargs())
    phi_th = np.asarray(two_cluster_clone_agreement(m.branch_times, norm_v, sigma))
    if progress is not None:
        progress(f"N={n}")
    return SpeciationResult(config, lam, t_s, phi_th, m)
