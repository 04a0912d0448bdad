"""Speciation time by the clone protocol on the two-cluster mixture (THEORY.md section 3).

Trajectories driven by the exact mixture score run from ``N(0, I)`` at ``t_max``; at branch times
around ``t_S = 0.5 log Lambda`` each state is cloned into two copies that continue independently to
``t_min``, and ``phi(t)`` is the fraction of clone pairs ending in the same cluster. Theory:
``phi(t) = 0.5 int (G_+^2 + G_-^2) / (G_+ + G_-) dq``. The measured ``t_S`` is read where the measured
phi crosses the theoretical ``phi(t_S)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate, data
from diffsim.observe import bootstrap, branch_indices, clone_protocol, crossing_time
from diffsim.process import time_grid
from diffsim.sample import sample
from diffsim.theory.speciation import speciation_time, two_cluster_clone_agreement

__all__ = ["SpeciationConfig", "SpeciationResult", "run_speciation"]


@dataclass(frozen=True)
class SpeciationConfig:
    dims: tuple[int, ...] = (16, 32, 64)
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
        if not self.dims:
            raise _validate.ConfigError("dims=() is out of range: expected at least one dimension")
        for n in self.dims:
            _validate.integer("dims", n, minimum=1, maximum=1_000_000)
        _validate.positive("mtilde", self.mtilde)
        _validate.positive("sigma", self.sigma)
        _validate.integer("n_pairs", self.n_pairs, minimum=2)
        _validate.integer("n_branch", self.n_branch, minimum=2)
        _validate.integer("seed", self.seed, minimum=0)
        _validate.positive("t_min", self.t_min, upper=1.0)
        _validate.integer("n_steps", self.n_steps, minimum=2)
        _validate.integer("record_every", self.record_every, minimum=1, maximum=self.n_steps)
        if self.n_steps % self.record_every:
            raise _validate.ConfigError(
                f"record_every={self.record_every} is out of range: expected a divisor of n_steps={self.n_steps}"
            )
        _validate.integer("clone_steps", self.clone_steps, minimum=2)
        _validate.integer("n_bootstrap", self.n_bootstrap, minimum=10)
        return self


@dataclass(frozen=True)
class SpeciationRow:
    n: int
    largest_eigenvalue: float
    t_speciation_theory: float
    t_speciation: tuple[float, float]
    branch_times: np.ndarray
    phi: np.ndarray
    phi_stderr: np.ndarray
    phi_theory: np.ndarray


@dataclass(frozen=True)
class SpeciationResult:
    config: SpeciationConfig
    per_dim: tuple[SpeciationRow, ...]

    def to_json(self) -> dict:
        return {
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()},
            "rows": [
                {
                    "N": r.n,
                    "largest_eigenvalue": r.largest_eigenvalue,
                    "t_speciation": {"value": r.t_speciation[0], "stderr": r.t_speciation[1]},
                    "theory": {"t_speciation": r.t_speciation_theory},
                    "curve": {
                        "t": r.branch_times.tolist(),
                        "phi": r.phi.tolist(),
                        "phi_stderr": r.phi_stderr.tolist(),
                        "phi_theory": r.phi_theory.tolist(),
                    },
                }
                for r in self.per_dim
            ],
        }

    def rows(self) -> list[dict]:
        out = []
        for r in self.per_dim:
            base = {"N": r.n}
            out.append({**base, "quantity": "t_speciation", "t": None, "value": r.t_speciation[0], "stderr": r.t_speciation[1]})
            out.append({**base, "quantity": "t_speciation_theory", "t": None, "value": r.t_speciation_theory, "stderr": None})
            for t, p, e, th in zip(r.branch_times, r.phi, r.phi_stderr, r.phi_theory):
                out.append({**base, "quantity": "phi", "t": float(t), "value": float(p), "stderr": float(e)})
                out.append({**base, "quantity": "phi_theory", "t": float(t), "value": float(th), "stderr": None})
        return out


def _measure_dimension(config: SpeciationConfig, n: int, key) -> SpeciationRow:
    init_key, sde_key, clone_key, boot_key = jax.random.split(key, 4)
    model = data.TwoClusterMixture.create(n, mtilde=config.mtilde, sigma=config.sigma)
    lam = float(model.covariance_spectrum()[0])
    t_s = float(speciation_time(lam))
    norm_v = math.sqrt(n) * config.mtilde
    t_max = t_s + 4.0
    times = time_grid(t_max, config.t_min, config.n_steps, "log")
    x_init = jax.random.normal(init_key, (config.n_pairs, n))
    traj = sample(sde_key, model.score, x_init, times, record_every=config.record_every, keep_states=True)
    idx = branch_indices(np.asarray(traj.times), 0.4 * t_s, min(2.0 * t_s, t_s + 2.5), config.n_branch)
    branch_t, same = clone_protocol(
        clone_key, model.score, traj, idx, config.t_min, lambda x, rec: model.label_of(x),
        n_pairs=config.n_pairs, n_steps=config.clone_steps,
    )
    phi = np.asarray(jnp.mean(same, axis=1))
    phi_err = np.asarray(jnp.std(same, axis=1, ddof=1)) / math.sqrt(same.shape[1])
    phi_th = np.asarray(two_cluster_clone_agreement(branch_t, norm_v, config.sigma))
    level = float(two_cluster_clone_agreement(np.array([t_s]), norm_v, config.sigma)[0])
    t_meas = bootstrap(
        boot_key, lambda s: crossing_time(jnp.asarray(branch_t), jnp.mean(s, axis=1), level), same,
        axis=1, n_boot=config.n_bootstrap,
    )
    return SpeciationRow(n, lam, t_s, t_meas, branch_t, phi, phi_err, phi_th)


def run_speciation(config: SpeciationConfig, key=None) -> SpeciationResult:
    """Run the speciation study; each N uses ``fold_in(key, N)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    return SpeciationResult(config, tuple(_measure_dimension(config, n, jax.random.fold_in(key, n)) for n in config.dims))
