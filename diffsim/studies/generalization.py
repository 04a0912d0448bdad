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

Theory for it ([derived] in this module from section 5 with a query at radius ``r = 0``): for fresh
``y`` the energies ``|y - a_mu|^2 / (2 sigma^2)`` form a REM whose log-partition function per latent
dimension is ``F_0(t) =`` :func:`diffsim.theory.free_energy` ``(t, alpha_lat, spectrum_lat, r=0)``,
``alpha_lat = log(P) / D``, so

    G(t) = -F_0(t) + alpha_lat + 0.5 log(sigma_t^2) - 0.5 - 0.5 <log lambda>_lat .

Where the ``r = 0`` REM is not condensed this is ``KL(N(0, C) || N(0, C + sigma^2))``, increasing in t;
below its condensation time ``G`` grows again, so ``t_g`` lies below ``t_C``.

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
from diffsim.process import m
from diffsim.score import TrainingSet
from diffsim.studies._common import build, config_json
from diffsim.studies._queries import Queries, noised_training_queries, query_statistics
from diffsim.theory.collapse import collapse_time
from diffsim.theory.rem import free_energy
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "GeneralizationConfig",
    "GeneralizationResult",
    "run_generalization",
    "generalization_error_theory",
    "generalization_time_theory",
    "latent_spectrum",
    "sliced_wasserstein",
    "DEFINITION",
]

DEFINITION = (
    "t_g = argmin_t KL(p_0 || q_t) / D, q_t = law of x_t / m_t under the empirical backward dynamics stopped "
    "at t (Gaussian KDE of the training set, bandwidth^2 = exp(2t) - 1), restricted to the latent subspace; "
    "t_g_sw = argmin_t of the sliced 2-Wasserstein distance between x0_hat(x_t, t) and fresh samples"
)


@dataclass(frozen=True)
class GeneralizationConfig:
    """Parameters (validated by :meth:`validate`); ``alpha_ds`` is swept at fixed ``alpha``."""

    data: str = "hmm"
    alpha: float = 0.1
    alpha_ds: tuple[float, ...] = (1.0, 0.5, 0.25)
    dims: tuple[int, ...] = (40, 60, 80)
    n_times: int = 28
    n_test: int = 1024
    n_proj: int = 64  # random directions of the sliced-Wasserstein t_g (0: skip it)
    seed: int = 0

    def validate(self) -> "GeneralizationConfig":
        _validate.choice("data", self.data, ("gaussian", "hmm"))
        _validate.positive("alpha", self.alpha, upper=5.0)
        if not self.alpha_ds or not self.dims:
            raise _validate.ConfigError("alpha_ds and dims must be non-empty lists")
        for a in self.alpha_ds:
            _validate.positive("alpha_ds", a, upper=1.0)
        _validate.dims_at_load(self.dims, self.alpha, bytes_besides=lambda n: 8.0 * self.n_test * self.n_times * n)
        _validate.integer("n_times", self.n_times, minimum=5)
        _validate.integer("n_test", self.n_test, minimum=16)
        _validate.integer("n_proj", self.n_proj, minimum=0)
        _validate.integer("seed", self.seed, minimum=0)
        return self


def latent_spectrum(spectrum: Spectrum) -> Spectrum:
    """The non-zero part of a spectrum, renormalised (the law on the latent subspace)."""
    keep = spectrum.eigenvalues > 0
    w = spectrum.weights[keep]
    return Spectrum(spectrum.eigenvalues[keep], w / w.sum())


def generalization_error_theory(t, alpha_lat: float, spectrum_lat: Spectrum) -> np.ndarray:
    """``G(t) = KL(p_0 || q_t) / D`` ([derived], module docstring); ``t`` ``[T]`` -> ``[T]``."""
    t = np.asarray(t, dtype=np.float64)
    f0 = free_energy(t, alpha_lat, spectrum_lat, r=0.0)
    mean_log = float(spectrum_lat.mean(np.log))
    return -f0 + alpha_lat + 0.5 * np.log(np.expm1(2.0 * t)) - 0.5 - 0.5 * mean_log


def generalization_time_theory(alpha_lat: float, spectrum_lat: Spectrum, *, t_high: float | None = None) -> float:
    """Minimiser of :func:`generalization_error_theory` (grid then golden-section search in ``log t``)."""
    t_c = float(collapse_time(alpha_lat, spectrum_lat))
    hi = math.log(t_high if t_high is not None else 2.0 * t_c)
    grid = np.linspace(math.log(1e-4 * t_c), hi, 400)
    g = generalization_error_theory(np.exp(grid), alpha_lat, spectrum_lat)
    j = int(np.clip(np.argmin(g), 1, grid.size - 2))
    lo, hi = grid[j - 1], grid[j + 1]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        ga, gb = generalization_error_theory(np.exp([a, b]), alpha_lat, spectrum_lat)
        lo, hi = (lo, b) if ga < gb else (a, hi)
    return float(math.exp(0.5 * (lo + hi)))


def sliced_wasserstein(key, x, y, n_proj: int):
    """Sliced 2-Wasserstein distance between two equal-size samples ``[M, D]``, per dimension:
    ``sqrt(mean_theta W2^2(theta.x, theta.y))`` over ``n_proj`` random unit directions."""
    theta = jax.random.normal(key, (n_proj, x.shape[1]), x.dtype)
    theta = theta / jnp.linalg.norm(theta, axis=1, keepdims=True)
    px, py = jnp.sort(x @ theta.T, axis=0), jnp.sort(y @ theta.T, axis=0)
    return jnp.sqrt(jnp.mean((px - py) ** 2))


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def _argmin_log_parabola(times: np.ndarray, values: np.ndarray) -> float:
    """Minimiser of a sampled curve: parabola in ``log t`` through the grid minimum and its neighbours."""
    j = int(np.argmin(values))
    if j == 0 or j == values.size - 1:
        return float(times[j])
    u = np.log(times[j - 1:j + 2])
    a, b, _ = np.polyfit(u, values[j - 1:j + 2], 2)
    return float(np.exp(np.clip(-b / (2 * a), u.min(), u.max()))) if a > 0 else float(times[j])


@dataclass(frozen=True)
class GeneralizationCell:
    """One (alpha_d, N): curves ``[T]`` and ``t_g`` estimates ``(value, stderr)``."""

    alpha_d: float
    n: int
    p: int
    latent_dim: int
    times: np.ndarray
    kl: np.ndarray
    kl_stderr: np.ndarray
    kl_theory: np.ndarray
    sw: np.ndarray
    t_g: tuple[float, float]
    t_g_sw: float
    t_g_theory: float
    t_collapse: float


@dataclass(frozen=True)
class GeneralizationResult:
    config: GeneralizationConfig
    cells: tuple[GeneralizationCell, ...]
    asymptotic: dict  # alpha_d -> {"t_g": ..., "t_collapse": ...} (N -> inf)

    def rows(self) -> list[dict]:
        """One row per (alpha_d, N, t) with the curves, and one summary row per (alpha_d, N) with
        ``quantity = "t_g"`` (the definition is in every row)."""
        out = []
        for c in self.cells:
            base = {"alpha": self.config.alpha, "alpha_d": c.alpha_d, "N": c.n, "P": c.p, "D": c.latent_dim}
            for t, g, s, th, w in zip(c.times, c.kl, c.kl_stderr, c.kl_theory, c.sw):
                out.append({**base, "quantity": "curve", "t": float(t), "kl_per_dim": float(g), "kl_stderr": float(s),
                            "kl_theory": float(th), "sw_per_dim": _num(w)})
            asym = self.asymptotic[c.alpha_d]
            out.append({**base, "quantity": "t_g", "t_g": c.t_g[0], "t_g_stderr": c.t_g[1], "t_g_sw": _num(c.t_g_sw),
                        "t_g_theory": c.t_g_theory, "t_collapse": c.t_collapse,
                        "t_g_asymptotic": asym["t_g"], "t_collapse_asymptotic": asym["t_collapse"],
                        "definition": DEFINITION})
        return out

    def to_json(self) -> dict:
        return {"config": config_json(self.config), "definition": DEFINITION, "rows": self.rows()}


def _latent(model, data_name: str):
    """Orthonormal basis ``[N, D]`` of the data's support and its covariance eigenvalues ``[D]``."""
    if data_name == "gaussian":
        return jnp.eye(model.dim), np.ones(model.dim)
    u, spikes = model.latent_basis()
    return u, np.asarray(spikes, dtype=np.float64)


def _measure(config: GeneralizationConfig, alpha_d: float, n: int, key) -> GeneralizationCell:
    model, train, spectrum, alpha_n = build(config.data, n, config.alpha, alpha_d, "linear", key)
    basis, spikes = _latent(model, config.data)
    d = basis.shape[1]
    alpha_lat = math.log(train.n_points) / d
    lat_spec = Spectrum.from_eigenvalues(spikes)
    t_c = float(collapse_time(alpha_lat, lat_spec))
    times = np.exp(np.linspace(math.log(2.5 * t_c), math.log(0.02 * t_c), config.n_times))
    train_lat = TrainingSet.from_points(train.points @ basis)
    test = jnp.asarray(model.sample(jax.random.fold_in(key, 5), config.n_test)) @ basis  # fresh y ~ p_0 [M, D]

    # G(t): queries m_t y at time t; log q_t(y) = log_z - log P - (D/2) log(2 pi sigma_t^2)
    t_rep = jnp.repeat(jnp.asarray(times, test.dtype), config.n_test)
    y_rep = jnp.tile(test, (config.n_times, 1))
    stats = query_statistics(Queries(m(t_rep)[:, None] * y_rep, t_rep, jnp.full(t_rep.shape, -1, jnp.int32)), train_lat)
    log_z = np.asarray(stats["log_z"], dtype=np.float64).reshape(config.n_times, config.n_test)
    sigma2 = np.expm1(2.0 * times)[:, None]
    log_q = log_z - math.log(train.n_points) - 0.5 * d * np.log(2 * np.pi * sigma2)
    entropy = 0.5 * d * math.log(2 * math.pi * math.e) + 0.5 * float(np.sum(np.log(spikes)))
    per_point = (-log_q - entropy) / d  # [T, M]
    kl = per_point.mean(1)
    kl_err = per_point.std(1, ddof=1) / math.sqrt(config.n_test)
    rng = np.random.default_rng(int(jax.random.randint(jax.random.fold_in(key, 6), (), 0, 2**31 - 1)))
    boots = [_argmin_log_parabola(times, per_point[:, rng.integers(0, config.n_test, config.n_test)].mean(1)) for _ in range(100)]
    t_g = (_argmin_log_parabola(times, kl), float(np.std(boots, ddof=1)))

    # secondary (n_proj > 0): x0_hat of x_t ~ p_t^e vs fresh samples, sliced W2
    sw = np.full(config.n_times, np.nan)
    if config.n_proj:
        queries = noised_training_queries(jax.random.fold_in(key, 7), train_lat, times, config.n_test)
        den = query_statistics(queries, train_lat, with_denoised=True)["denoised"].reshape(config.n_times, config.n_test, d)
        proj_key = jax.random.fold_in(key, 8)
        sw = np.array([float(sliced_wasserstein(proj_key, den[j], test, config.n_proj)) for j in range(config.n_times)])

    return GeneralizationCell(
        alpha_d=alpha_d, n=n, p=train.n_points, latent_dim=d, times=times, kl=kl, kl_stderr=kl_err,
        kl_theory=generalization_error_theory(times, alpha_lat, lat_spec), sw=sw, t_g=t_g,
        t_g_sw=_argmin_log_parabola(times, sw) if config.n_proj else float("nan"), t_g_theory=generalization_time_theory(alpha_lat, lat_spec),
        t_collapse=t_c,
    )


def run_generalization(config: GeneralizationConfig, key=None, *, progress=None) -> GeneralizationResult:
    """Run the study; ``key`` defaults to ``PRNGKey(seed)``; cell (alpha_d index i, N) uses
    ``fold_in(fold_in(key, i), N)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    alpha_ds = (1.0,) if config.data == "gaussian" else config.alpha_ds
    cells, asymptotic = [], {}
    for i, alpha_d in enumerate(alpha_ds):
        if config.data == "gaussian":
            lat = Spectrum.isotropic(1.0)
        else:
            lat = latent_spectrum(Spectrum.marchenko_pastur(alpha_d))
        alpha_lat = config.alpha / alpha_d
        asymptotic[alpha_d] = {"t_g": generalization_time_theory(alpha_lat, lat),
                               "t_collapse": float(collapse_time(alpha_lat, lat))}
        for n in config.dims:
            cells.append(_measure(config, alpha_d, n, jax.random.fold_in(jax.random.fold_in(key, i), n)))
            if progress is not None:
                progress(f"alpha_d={alpha_d} N={n}")
    return GeneralizationResult(config, tuple(cells), asymptotic)
