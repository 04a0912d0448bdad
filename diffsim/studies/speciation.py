"""Speciation time by the clone protocol on the two-cluster mixture (THEORY.md section 3).

One config is one point (one N). Trajectories driven by the exact mixture score run from ``N(0, I)``;
at branch times around ``t_S = 0.5 log Lambda`` each state is cloned into two copies that continue
independently to ``t_min``, and ``phi(t)`` is the fraction of clone pairs ending in the same cluster
(:func:`diffsim.measure.measure_speciation`). Theory: ``phi(t) = 0.5 int (G_+^2 + G_-^2) / (G_+ + G_-) dq``.
The measured ``t_S`` is read where the measured phi crosses the theoretical ``phi(t_S)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import jax
import numpy as np

from diffsim import _validate, data
from diffsim.measure.speciation import SpeciationMeasurement, measure_speciation
from diffsim.theory.speciation import speciation_time, two_cluster_clone_agreement

__all__ = ["SpeciationConfig", "SpeciationResult", "run_speciation"]


@dataclass(frozen=True)
class SpeciationConfig:
    """One point of the speciation study: the two-cluster mixture at one N (validated by :meth:`validate`).

    Attributes:
        dim: dimension N.
        mtilde: cluster separation: centres +-v with |v|^2 = N mtilde^2.
        sigma: cluster standard deviation.
        n_pairs: trajectories, and clone pairs per branch time.
        n_branch: branch times in [0.4 t_S, min(2 t_S, t_S + 2.5)] (t_S = 0.5 log Lambda, OU time).
        seed: random seed (PRNGKey(seed) folded in with N).
        t_min: last time of the trajectories and clones (OU time t; they start at t_S + 4).
        n_steps: backward SDE steps on a log grid from t_S + 4 to t_min.
        record_every: record the states every this many steps, the candidate branch times (a divisor
            of n_steps).
        clone_steps: SDE steps of each clone continuation to t_min.
        n_bootstrap: bootstrap resamples of the standard error of t_S.
    """

    dim: int = 32
    mtilde: float = 1.0
    sigma: float = 1.0
    n_pairs: int = 512
    n_branch: int = 16
    seed: int = 0
    t_min: float = 1e-2
    n_steps: int = 400
    record_every: int = 2
    clone_steps: int = 100
    n_bootstrap: int = 200

    def validate(self) -> "SpeciationConfig":
        _validate.integer("dim", self.dim, minimum=1, maximum=1_000_000)
        _validate.positive("mtilde", self.mtilde)
        _validate.positive("sigma", self.sigma)
        _validate.integer("n_pairs", self.n_pairs, minimum=2)
        _validate.integer("n_branch", self.n_branch, minimum=2)
        _validate.integer("seed", self.seed, minimum=0)
        _validate.positive("t_min", self.t_min, upper=1.0)
        _validate.integer("n_steps", self.n_steps, minimum=2, maximum=_validate.MAX_STEPS)
        _validate.integer("record_every", self.record_every, minimum=1, maximum=self.n_steps)
        if self.n_steps % self.record_every:
            raise _validate.ConfigError(
                f"record_every={self.record_every} is out of range: expected a divisor of n_steps={self.n_steps}"
            )
        _validate.integer("clone_steps", self.clone_steps, minimum=2, maximum=_validate.MAX_STEPS)
        _validate.integer("n_bootstrap", self.n_bootstrap, minimum=10)
        # the recorded trajectories (n_pairs states per record), the clones at every branch time
        # and the bootstrap of their agreement
        records = self.n_steps // self.record_every + 1
        _validate.memory(
            f"the clone protocol in N={self.dim}",
            4.0 * self.n_pairs * (self.dim * (records + 4 * self.n_branch) + self.n_branch * self.n_bootstrap)
            + 8.0 * self.n_steps,
            knobs={"n_pairs": self.n_pairs, "dim": self.dim, "n_steps": self.n_steps},
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
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()},
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


def run_speciation(config: SpeciationConfig, key=None, *, progress=None) -> SpeciationResult:
    """Run one point with the exact mixture score; the point uses ``fold_in(key, dim)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    n = config.dim
    model = data.TwoClusterMixture.create(n, mtilde=config.mtilde, sigma=config.sigma)
    lam = float(model.covariance_spectrum()[0])
    t_s = float(speciation_time(lam))
    norm_v = math.sqrt(n) * config.mtilde
    level = float(two_cluster_clone_agreement(np.array([t_s]), norm_v, config.sigma)[0])
    m = measure_speciation(
        jax.random.fold_in(key, n), None, dim=n, drift=model.score, label_of=model.label_of, level=level, t_ref=t_s,
        n_pairs=config.n_pairs, n_branch=config.n_branch, t_min=config.t_min, n_steps=config.n_steps,
        record_every=config.record_every, clone_steps=config.clone_steps, n_bootstrap=config.n_bootstrap,
    )
    phi_th = np.asarray(two_cluster_clone_agreement(m.branch_times, norm_v, config.sigma))
    if progress is not None:
        progress(f"N={n}")
    return SpeciationResult(config, lam, t_s, phi_th, m)
