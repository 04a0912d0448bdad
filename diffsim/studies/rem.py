"""Random-energy-model statistics of the posterior weights, measured vs theory (THEORY.md section 5).

For each N a training set of ``P = round(exp(alpha N))`` points is drawn, and at each time ``t`` two
kinds of queries are posed to the streamed posterior:

* ``fresh``: ``x = m_t a_0 + sqrt(Delta_t) xi`` with ``a_0`` a new data point. Theory [derived]: the
  weights condense below ``t_C`` with Poisson-Dirichlet parameter ``k_c(t)``, ``E[Y2] = 1 - k_c``
  (0 above ``t_C``); ``(1/N) log Z`` -> :func:`diffsim.theory.free_energy`; entropy per dimension
  ``max(0, s(1))`` above ``t_C`` and the total ``psi(1) - psi(1 - k_c)`` below.
* ``train``: ``x = m_t a_mu + sqrt(Delta_t) xi`` (law ``p_t^e``). The own term ``-|xi|^2 / 2 ~ -N/2``
  dominates the others' ``N F`` exactly when ``t < t_C``: ``E[Y2] -> 1`` below and ``0`` above;
  ``(1/N) log Z -> max(-1/2, F)``.

Measured per (N, t, query kind): mean, standard error and deciles of ``Y2 = sum w^2``; mean max
weight; mean total entropy ``-sum w log w``; mean ``(1/N) log Z``, ``Z = sum_mu exp(-E_mu)``,
``E_mu = |x - m_t a_mu|^2 / (2 Delta_t)``. Theory at the realised load ``log(P)/N`` with the exact
finite-N covariance spectrum (``*_spectrum`` keys) and with the ``N -> inf`` spectrum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np

from diffsim import _validate
from diffsim.studies._common import build, config_json, validate_data
from diffsim.studies._queries import fresh_queries, noised_training_queries, query_statistics
from diffsim.theory.hmm import asymptotic_spectrum
from diffsim.theory.collapse import collapse_time
from diffsim.theory.rem import free_energy, mean_y2, weight_entropy, weight_entropy_condensed

__all__ = ["QUERY_KINDS", "RemConfig", "RemResult", "run_rem", "rem_theory"]

QUERY_KINDS = ("fresh", "train")


@dataclass(frozen=True)
class RemConfig:
    """Parameters of the REM study (validated by :meth:`validate`)."""

    data: str = "gaussian"
    alpha: float = 0.1
    alpha_d: float = 0.5
    nonlinearity: str = "linear"
    dims: tuple[int, ...] = (40, 70, 100)
    times: tuple[float, ...] = (0.3, 0.45, 0.6, 0.75, 1.0, 1.4)
    n_queries: int = 1024
    seed: int = 0

    def validate(self) -> "RemConfig":
        validate_data(self.data, self.alpha_d, self.nonlinearity)
        _validate.positive("alpha", self.alpha, upper=5.0)
        if not self.dims or not self.times:
            raise _validate.ConfigError("dims and times must be non-empty lists")
        _validate.dims_at_load(self.dims, self.alpha, bytes_besides=lambda n: 8.0 * self.n_queries * len(self.times) * n)
        for t in self.times:
            _validate.positive("times", t, upper=20.0)
        _validate.integer("n_queries", self.n_queries, minimum=8)
        _validate.integer("seed", self.seed, minimum=0)
        return self


def rem_theory(times, alpha, spectrum) -> dict:
    """REM predictions at ``times`` ``[T]`` (section 5), each ``[T]``: ``y2_fresh = 1 - k_c``,
    ``y2_train`` (1 below ``t_C``, 0 above), ``log_z_fresh`` (free energy), ``log_z_train``
    (``max(-1/2, free energy)``), ``entropy_per_dim_fresh`` (``max(0, s(1))``), ``entropy_fresh``
    (total, ``psi(1) - psi(1 - k_c)``, inf above ``t_C``) and the scalar ``t_collapse``."""
    times = np.asarray(times, dtype=np.float64)
    t_c = float(collapse_time(alpha, spectrum))
    f = free_energy(times, alpha, spectrum)
    return {
        "t_collapse": t_c,
        "y2_fresh": mean_y2(times, alpha, spectrum),
        "y2_train": (times < t_c).astype(float),
        "log_z_fresh": f,
        "log_z_train": np.maximum(-0.5, f),
        "entropy_per_dim_fresh": weight_entropy(times, alpha, spectrum),
        "entropy_fresh": weight_entropy_condensed(times, alpha, spectrum),
    }


@dataclass(frozen=True)
class RemCell:
    """Measurements at one (N, query kind), each ``[T]``; ``y2_deciles`` ``[T, 9]``."""

    n: int
    p: int
    kind: str
    mean_y2: np.ndarray
    y2_stderr: np.ndarray
    y2_deciles: np.ndarray
    mean_max_weight: np.ndarray
    mean_entropy: np.ndarray
    mean_log_z: np.ndarray
    log_z_stderr: np.ndarray
    theory_spectrum: dict  # rem_theory with the finite-N spectrum at alpha_n


@dataclass(frozen=True)
class RemResult:
    config: RemConfig
    theory: dict  # rem_theory with the N -> inf spectrum at alpha
    cells: tuple[RemCell, ...]

    def rows(self) -> list[dict]:
        """One row per (N, t, query kind). ``theory_y2`` is the ``N -> inf`` value (``1 - k_c`` for
        fresh queries), ``theory_y2_spectrum`` the same with the exact finite-N spectrum."""
        out = []
        for c in self.cells:
            for j, t in enumerate(self.config.times):
                out.append({
                    "N": c.n, "P": c.p, "t": t, "query": c.kind,
                    "mean_y2": float(c.mean_y2[j]), "y2_stderr": float(c.y2_stderr[j]),
                    "y2_q10": float(c.y2_deciles[j, 0]), "y2_q50": float(c.y2_deciles[j, 4]), "y2_q90": float(c.y2_deciles[j, 8]),
                    "theory_y2": float(self.theory[f"y2_{c.kind}"][j]),
                    "theory_y2_spectrum": float(c.theory_spectrum[f"y2_{c.kind}"][j]),
                    "mean_max_weight": float(c.mean_max_weight[j]),
                    "mean_entropy": float(c.mean_entropy[j]),
                    "log_z_per_dim": float(c.mean_log_z[j]), "log_z_stderr": float(c.log_z_stderr[j]),
                    "theory_log_z": float(self.theory[f"log_z_{c.kind}"][j]),
                    "theory_log_z_spectrum": float(c.theory_spectrum[f"log_z_{c.kind}"][j]),
                    "theory_entropy_per_dim": float(self.theory["entropy_per_dim_fresh"][j]) if c.kind == "fresh" else None,
                    "theory_entropy_condensed": _finite(self.theory["entropy_fresh"][j]) if c.kind == "fresh" else None,
                    "t_collapse": self.theory["t_collapse"],
                    "t_collapse_spectrum": c.theory_spectrum["t_collapse"],
                })
        return out

    def to_json(self) -> dict:
        """``rows``: fresh queries (keys ``N``, ``t``, ``mean_y2``, ``theory_y2 = 1 - k_c``, ...);
        ``train_rows``: queries noised from training points."""
        rows = self.rows()
        return {
            "config": config_json(self.config), "t_collapse": self.theory["t_collapse"],
            "rows": [r for r in rows if r["query"] == "fresh"], "train_rows": [r for r in rows if r["query"] == "train"],
        }


def _finite(v):
    v = float(v)
    return v if math.isfinite(v) else None


def _summaries(stats: dict, n_times: int, n_queries: int, dim: int) -> dict:
    shape = (n_times, n_queries)
    y2 = np.asarray(stats["y2"], dtype=np.float64).reshape(shape)
    log_z = np.asarray(stats["log_z"], dtype=np.float64).reshape(shape) / dim
    return {
        "mean_y2": y2.mean(1),
        "y2_stderr": y2.std(1, ddof=1) / math.sqrt(n_queries),
        "y2_deciles": np.quantile(y2, np.linspace(0.1, 0.9, 9), axis=1).T,
        "mean_max_weight": np.asarray(stats["max_weight"], dtype=np.float64).reshape(shape).mean(1),
        "mean_entropy": np.asarray(stats["entropy"], dtype=np.float64).reshape(shape).mean(1),
        "mean_log_z": log_z.mean(1),
        "log_z_stderr": log_z.std(1, ddof=1) / math.sqrt(n_queries),
    }


def run_rem(config: RemConfig, key=None, *, progress=None) -> RemResult:
    """Run the study; ``key`` defaults to ``PRNGKey(seed)``; dimension N uses ``fold_in(key, N)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    times = np.asarray(config.times, dtype=np.float64)
    cells = []
    for n in config.dims:
        dim_key = jax.random.fold_in(key, n)
        model, train, spectrum, alpha_n = build(config.data, n, config.alpha, config.alpha_d, config.nonlinearity, dim_key)
        th = rem_theory(times, alpha_n, spectrum)
        for i, kind in enumerate(QUERY_KINDS):
            qkey = jax.random.fold_in(dim_key, 10 + i)
            if kind == "fresh":
                queries = fresh_queries(qkey, model, times, config.n_queries)
            else:
                queries = noised_training_queries(qkey, train, times, config.n_queries)
            stats = query_statistics(queries, train)
            cells.append(RemCell(n, train.n_points, kind, **_summaries(stats, len(times), config.n_queries, n), theory_spectrum=th))
        if progress is not None:
            progress(n)
    theory = rem_theory(times, config.alpha, asymptotic_spectrum(config.data, config.alpha_d, config.nonlinearity))
    return RemResult(config, theory, tuple(cells))
