"""Generalization time ``t_g`` (THEORY.md section 7, [open]: operational definitions stated here).

Definition used for ``t_g`` (``kl``, the primary one, after Achilli et al.'s "KL divergence between the
exact distribution and the reverse one at time t"): stop the backward empirical-score dynamics at
``t`` and map the state back to data scale, ``y = x_t / m_t``. Its law is exactly the Gaussian kernel
density estimate ``q_t = (1/P) sum_mu N(a_mu, sigma_t^2 I)``, ``sigma_t^2 = exp(2t) - 1`` (``x_t ~ p_t^e``).
The generalization error is ``G(t) = KL(p_0 || q_t) / D`` computed *on the data manifold*: for the
linear HMM both laws are restricted to the D-dimensional span of ``F`` (``p_0`` is singular in the
ambient space, so the ambient KL is infinite); for isotropic Gaussian data ``D = N``. ``t_g`` is the
minimiser of ``G``. It is measured by Monte Carlo on fresh points ``y ~ p_0``:
``G = (-E log q_t(y) - H(p_0)) / D`` with ``H`` exact.

Theory: :mod:`diffsim.theory.generalization` (the ``r = 0`` REM of section 5, [derived]), ``t_g < t_C``.
The measurement is :func:`diffsim.measure.generalization.measure_generalization` on the training set
projected onto the latent subspace; one point is one (``alpha_d``, N).

Secondary definition (THEORY.md's suggestion, ``sw``): the denoised estimate ``x0_hat(x_t, t)`` of
``x_t ~ p_t^e`` compared with fresh samples by the sliced 2-Wasserstein distance (per latent
dimension); ``t_g^sw`` is its minimiser. It has no penalty for reproducing training points (as
``t -> 0`` the samples *are* training points, themselves draws of ``p_0``), so it is reported for
comparison only.

Data: isotropic Gaussian or linear HMM (nonlinear manifolds have no latent subspace: not supported).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim.measure.generalization import GeneralizationMeasurement, GeneralizationOptions, measure_generalization
from diffsim.results import finite_or_none
from diffsim.score import TrainingSet
from diffsim.specs import DataSpec, config_json, replace_path, validate_parts
from diffsim.studies._common import build, validate_data
from diffsim.theory.collapse import collapse_time
from diffsim.theory.generalization import gaussian_entropy, generalization_error, generalization_time, latent_spectrum
from diffsim.theory.spectrum import Spectrum
from diffsim.studies._registry import register_study

__all__ = ["GeneralizationConfig", "GeneralizationResult", "run_generalization", "results_json", "DEFINITION"]

DEFINITION = (
    "t_g = argmin_t KL(p_0 || q_t) / D, q_t = law of x_t / m_t under the empirical backward dynamics stopped "
    "at t (Gaussian KDE of the training set, bandwidth^2 = exp(2t) - 1), restricted to the latent subspace; "
    "t_g/sw = argmin_t of the sliced 2-Wasserstein distance between x0_hat(x_t, t) and fresh samples"
)


@dataclass(frozen=True)
class GeneralizationConfig:
    """One point (validated by :meth:`validate`): latent ratio ``data.alpha_d`` (ignored for gaussian
    data, ``D = N``) and dimension ``data.dim`` at load ``data.alpha``.

    Attributes:
        data: the data: gaussian (isotropic, D = N) or hmm (the linear hidden manifold only, unit
            variance), N, the load alpha (P = round(exp(alpha N)) training points) and alpha_d.
        measure: the options of measure_generalization (sliced-Wasserstein directions, bootstrap).
        n_times: log-spaced times (OU time t) from 2.5 t_C to 0.02 t_C, t_C the collapse time of
            the latent training set.
        n_test: fresh test points y ~ p_0 of the Monte-Carlo KL.
        seed: random seed (PRNGKey(seed) folded in with N).
    """

    data: DataSpec = DataSpec(model="hmm", dim=60, alpha=0.1)
    measure: GeneralizationOptions = GeneralizationOptions(n_proj=64)
    n_times: int = 28
    n_test: int = 1024
    seed: int = 0

    def validate(self) -> "GeneralizationConfig":
        validate_parts(self)
        validate_data(self.data)
        if self.data.model == "hmm":
            _validate.choice("data.nonlinearity", self.data.nonlinearity, ("linear",))
        _validate.integer("n_times", self.n_times, minimum=5, maximum=100_000)
        _validate.integer("n_test", self.n_test, minimum=16)
        _validate.dims_at_load((self.data.dim,), self.data.alpha, name="data.dim",
                               bytes_besides=lambda n: 8.0 * self.n_test * self.n_times * n,
                               knobs={"n_test": self.n_test, "n_times": self.n_times})
        _validate.integer("seed", self.seed, minimum=0)
        return self


@dataclass(frozen=True)
class GeneralizationResult:
    """One point: the measurement on the latent subspace, ``kl = cross_entropy - H(p_0) / D`` and the
    theory at finite N (latent spectrum of the draw) and ``N -> inf``."""

    config: GeneralizationConfig
    measurement: GeneralizationMeasurement
    p: int
    latent_dim: int
    kl: np.ndarray
    kl_theory: np.ndarray
    t_g_theory: float
    t_collapse: float
    t_g_asymptotic: float
    t_collapse_asymptotic: float

    @property
    def alpha_d(self) -> float:
        return 1.0 if self.config.data.model == "gaussian" else self.config.data.alpha_d

    @property
    def n(self) -> int:
        return self.config.data.dim

    def rows(self) -> list[dict]:
        """One row per t with the curves (``quantity = "curve"``: ``kl_per_dim`` measured,
        ``theory/kl_per_dim_spectrum`` at the draw's latent spectrum) and one summary row with
        ``quantity = "t_g"`` (the definition is in it): ``t_g`` and ``t_g/sw`` measured, the theory
        ``theory/t_g``, ``theory/t_collapse`` (``N -> inf``) and ``theory/t_g_spectrum``,
        ``theory/t_collapse_spectrum`` (the draw's latent spectrum)."""
        c = self.measurement
        base = {"alpha": self.config.data.alpha, "alpha_d": self.alpha_d, "N": self.n, "P": self.p, "D": self.latent_dim}
        out = []
        for t, g, s, th, w in zip(c.times, self.kl, c.cross_entropy_stderr, self.kl_theory, c.sw):
            out.append({**base, "quantity": "curve", "t": float(t), "kl_per_dim": float(g), "kl_per_dim_stderr": float(s),
                        "theory/kl_per_dim_spectrum": float(th), "sw_per_dim": finite_or_none(w)})
        out.append({**base, "quantity": "t_g", "t_g": c.t_g.value, "t_g_stderr": c.t_g.stderr,
                    "t_g/sw": finite_or_none(c.t_g_sw.value),
                    "theory/t_g_spectrum": self.t_g_theory, "theory/t_collapse_spectrum": self.t_collapse,
                    "theory/t_g": self.t_g_asymptotic, "theory/t_collapse": self.t_collapse_asymptotic,
                    "definition": DEFINITION})
        return out

    def to_json(self) -> dict:
        return {"config": config_json(self.config), "definition": DEFINITION, "rows": self.rows()}


def results_json(results: list[GeneralizationResult]) -> dict:
    """One JSON object for several points: every point's config and rows."""
    return {"configs": [config_json(r.config) for r in results], "definition": DEFINITION,
            "rows": [row for r in results for row in r.rows()]}


def _latent(model, data_name: str):
    """Orthonormal basis ``[N, D]`` of the data's support and its covariance eigenvalues ``[D]``."""
    if data_name == "gaussian":
        return jnp.eye(model.dim), np.ones(model.dim)
    u, spikes = model.latent_basis()
    return u, np.asarray(spikes, dtype=np.float64)


def _asymptotic_latent_spectrum(data: str, alpha_d: float) -> Spectrum:
    return Spectrum.isotropic(1.0) if data == "gaussian" else latent_spectrum(Spectrum.marchenko_pastur(alpha_d))


@register_study("generalization", GeneralizationConfig,
                description="generalization time t_g (KL on the manifold) vs t_C over alpha_d")
def run_generalization(config: GeneralizationConfig, key=None, *, progress=None) -> GeneralizationResult:
    """Data -> measure -> theory at one point; ``key`` defaults to ``PRNGKey(seed)``; the point uses
    ``fold_in(fold_in(key, 0), N)`` (data ``fold_in(., 0)``, ``fold_in(., 1)``, held-out points
    ``fold_in(., 5)``, measurement keys 6-8)."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    point_key = jax.random.fold_in(jax.random.fold_in(key, 0), config.data.dim)
    spec = config.data if config.data.model == "hmm" else replace_path(config.data, "alpha_d", 1.0)
    alpha_d = spec.alpha_d
    model, train, _, _ = build(spec, point_key)
    basis, spikes = _latent(model, spec.model)
    d = basis.shape[1]
    alpha_lat = math.log(train.n_points) / d
    lat_spec = Spectrum.from_eigenvalues(spikes)
    t_c = float(collapse_time(alpha_lat, lat_spec))
    times = np.exp(np.linspace(math.log(2.5 * t_c), math.log(0.02 * t_c), config.n_times))
    train_lat = TrainingSet.from_points(train.points @ basis)
    held_out = jnp.asarray(model.sample(jax.random.fold_in(point_key, 5), config.n_test)) @ basis  # y ~ p_0 [M, D]
    measurement = measure_generalization(point_key, train_lat, held_out, times=times, **config.measure.as_kwargs())
    if progress is not None:
        progress(f"alpha_d={alpha_d} N={spec.dim}")
    lat_inf = _asymptotic_latent_spectrum(spec.model, alpha_d)
    alpha_lat_inf = spec.alpha / alpha_d
    return GeneralizationResult(
        config=config, measurement=measurement, p=train.n_points, latent_dim=d,
        kl=measurement.cross_entropy - gaussian_entropy(spikes) / d,
        kl_theory=generalization_error(times, alpha_lat, lat_spec), t_g_theory=generalization_time(alpha_lat, lat_spec),
        t_collapse=t_c, t_g_asymptotic=generalization_time(alpha_lat_inf, lat_inf),
        t_collapse_asymptotic=float(collapse_time(alpha_lat_inf, lat_inf)),
    )
