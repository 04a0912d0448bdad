"""Window swaps between trained denoisers, and training that undertrains one window (THEORY.md
section 8, "Two Calm Ends", the paper's diagnostic).

One config = one point. ``run_net_swap`` draws ``n_many`` points of a data model with an exact score;
the first ``n_few`` of them are the *few-point* set (so the few-point set is a subset of the many-point
set, as in the paper's memorizing / generalizing pair), and measures the windows' swaps
(:func:`diffsim.measure.geometry_nets.measure_net_swap`): the memorized fraction against the few-point
set (quantity ``memorized_fraction_few`` in ``value``) and against the many-point set (column
``memorized_fraction_own``), with bootstrap errors and 95% intervals. ``run_mitigation`` compares
standard and zone-undertrained DSM (:func:`diffsim.measure.geometry_nets.measure_mitigation`).

Choice of the defaults (isotropic Gaussian, N = 8, P_few = 8, P_many = 32, width 128, 4000 Adam
steps): the memorizing net copies its points (about 0.87 of its samples memorized), while the
generalizing net is not at 0 by construction: it memorizes about a quarter of its own 32 points and
about 0.09 of its samples sit on a few-point (the few-point set is inside its training set), so a swap
can move either baseline up or down. With P_many = 64 or 128 the generalizing baseline drops to
0.01 / 0.002 against the few-point set (degenerate for the ``mem_in_gen`` direction's lower side).
:func:`calm_ends` states, per family, whether each end window is calm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import jax
import numpy as np

from diffsim import _validate, data, nets
from diffsim.data import DataName
from diffsim.measure.geometry_nets import (
    FAMILIES,
    QUALITY,
    SWAP_DIRECTIONS,
    VARIANTS,
    ZONES,
    Family,
    MitigationMeasurement,
    NetSwapMeasurement,
    Zone,
    calm_ends,
    measure_mitigation,
    measure_net_swap,
)
from diffsim.nets.models import Parameterisation
from diffsim.observe import finite_or_none
from diffsim.score import TrainingSet
from diffsim.solvers import solver
from diffsim.studies._common import config_json, measure_options
from diffsim.studies.geometry import Method, default_sigmas
from diffsim.studies._registry import register_study

__all__ = [
    "NetSwapConfig", "NetSwapResult", "run_net_swap", "calm_ends", "FAMILIES", "SWAP_DIRECTIONS",
    "MitigationConfig", "MitigationResult", "run_mitigation", "ZONES", "VARIANTS", "QUALITY",
]


@dataclass(frozen=True)
class NetSwapConfig:
    """One point of the trained-net swap study (module docstring).

    Data (``data`` with an exact score, ``dim``, ``alpha_d`` for the linear HMM), the two training sets
    (``n_few`` inside ``n_many``), the nets (``width``, ``depth``, ``parameterisation``) and their
    training (``steps``, ``batch_size``, ``learning_rate``, ``steps_per_dispatch``), the boundaries
    (``sigmas``, ``n_queries`` training and held-out queries per sigma), the sampler (``n_samples``,
    ``n_steps`` on a log grid from ``t_max`` to ``t_min``, ``method``), ``families`` to swap and
    ``n_boot`` bootstrap replicas.

    Attributes:
        data: data model with an exact true score: gaussian (isotropic), mixture (two clusters) or
            hmm (linear).
        dim: dimension N.
        alpha_d: hmm: latent ratio D/N (D = round(alpha_d N)).
        n_few: training points of the memorizing net (the first n_few of the n_many).
        n_many: training points of the generalizing net (more than n_few).
        width: MLP width of both nets.
        depth: residual blocks of both nets.
        parameterisation: what the nets predict: eps (the noise), x0 (the denoised point) or edm.
        steps: Adam steps of both nets (a multiple of steps_per_dispatch).
        batch_size: minibatch size.
        learning_rate: Adam learning rate.
        steps_per_dispatch: training steps per jitted scan.
        sigmas: increasing VE noise levels sigma (at least 3) of the few-point set's boundaries
            sigma_cov, sigma_w that place the windows.
        n_queries: training and held-out queries per sigma of the boundaries.
        n_samples: generated samples per window, direction and family.
        n_steps: sampler steps on a log grid from t_max to t_min.
        t_max: first sampler time (OU time t).
        t_min: last sampler time (OU time t).
        method: sampler: sde (backward SDE) or ode (probability-flow ODE).
        families: score pairs to swap: nets (memorizing / generalizing net) and/or exact (empirical /
            true score).
        n_boot: bootstrap replicas of the boundaries and of every memorized fraction.
        seed: random seed.
    """

    data: DataName = "gaussian"
    dim: int = 8
    alpha_d: float = 0.5
    n_few: int = 8
    n_many: int = 32
    width: int = 128
    depth: int = 2
    parameterisation: Parameterisation = "eps"
    steps: int = 4000
    batch_size: int = 64
    learning_rate: float = 3e-3
    steps_per_dispatch: int = 100
    sigmas: tuple[float, ...] = default_sigmas()
    n_queries: int = 512
    n_samples: int = 512
    n_steps: int = 200
    t_max: float = 5.0
    t_min: float = 1e-3
    method: Method = "sde"
    families: tuple[Family, ...] = FAMILIES
    n_boot: int = 200
    seed: int = 0

    def validate(self) -> "NetSwapConfig":
        _validate.choice("data", self.data, data.DATA_MODELS)
        _validate.integer("dim", self.dim, minimum=1, maximum=4096)
        if self.data == "hmm":
            _validate.positive("alpha_d", self.alpha_d, upper=1.0)
        _validate.integer("n_few", self.n_few, minimum=2, maximum=10**5)
        _validate.integer("n_many", self.n_many, minimum=self.n_few + 1, maximum=10**6)
        _validate.integer("width", self.width, minimum=1, maximum=65_536)
        _validate.integer("depth", self.depth, minimum=0, maximum=64)
        _validate.choice("parameterisation", self.parameterisation, nets.PARAMETERISATIONS)
        _validate.integer("steps_per_dispatch", self.steps_per_dispatch, minimum=1)
        _validate.integer("steps", self.steps, minimum=self.steps_per_dispatch, maximum=10**7)
        if self.steps % self.steps_per_dispatch:
            raise _validate.ConfigError(f"steps={self.steps} is out of range: expected a multiple of steps_per_dispatch={self.steps_per_dispatch}")
        _validate.integer("batch_size", self.batch_size, minimum=1, maximum=2**16)
        _validate.positive("learning_rate", self.learning_rate, upper=1.0)
        sig = _validate.increasing("sigmas", self.sigmas)
        if len(sig) < 3 or sig[0] <= 0:
            raise _validate.ConfigError(f"sigmas={tuple(self.sigmas)!r} is out of range: expected >= 3 increasing positive values")
        _validate.integer("n_queries", self.n_queries, minimum=8, maximum=2**20)
        _validate.integer("n_samples", self.n_samples, minimum=8, maximum=2**20)
        _validate.integer("n_steps", self.n_steps, minimum=10, maximum=100_000)
        _validate.positive("t_max", self.t_max, upper=50.0)
        _validate.positive("t_min", self.t_min, upper=self.t_max)
        if self.t_min >= self.t_max:
            raise _validate.ConfigError(f"t_min={self.t_min} is out of range: expected t_min < t_max={self.t_max}")
        _validate.choice("method", self.method, get_args(Method))
        if not self.families:
            raise _validate.ConfigError("families=() is out of range: expected some of nets, exact")
        for f in self.families:
            _validate.choice("families", f, FAMILIES)
        _validate.integer("n_boot", self.n_boot, minimum=2, maximum=100_000)
        _validate.integer("seed", self.seed, minimum=0)
        _validate.memory("training sets, queries and samples",
                         4.0 * self.dim * (3 * self.n_many + 4 * self.n_queries * len(sig) + 8 * self.n_samples)
                         + 4.0 * 64 * self.batch_size * max(self.dim, self.width))
        return self


@dataclass(frozen=True)
class NetSwapResult:
    config: NetSwapConfig
    measurement: NetSwapMeasurement

    def rows(self) -> list[dict]:
        """One row per (family, direction, window); baselines have ``window`` None."""
        c, m, out = self.config, self.measurement, []
        for (family, direction, window), o in m.outcomes.items():
            lo, hi = m.windows.get(window, (None, None))
            out.append({
                "N": c.dim, "P_few": c.n_few, "P_many": c.n_many, "family": family, "direction": direction,
                "window": window, "sigma_lo": finite_or_none(lo), "sigma_hi": finite_or_none(hi),
                "sigma_cov": finite_or_none(m.sigma_cov.value), "sigma_w": finite_or_none(m.sigma_w.value),
                "quantity": "memorized_fraction_few", "value": float(o.few.value), "stderr": finite_or_none(o.few.stderr),
                "ci_lo": o.few_interval[0], "ci_hi": o.few_interval[1],
                "memorized_fraction_own": float(o.own.value), "memorized_fraction_own_stderr": finite_or_none(o.own.stderr),
                "memorized_fraction_own_ci_lo": o.own_interval[0], "memorized_fraction_own_ci_hi": o.own_interval[1],
            })
        return out

    def to_json(self) -> dict:
        m = self.measurement
        return {"config": config_json(self.config), "sigma_cov": finite_or_none(m.sigma_cov.value),
                "sigma_cov_stderr": finite_or_none(m.sigma_cov.stderr), "sigma_w": finite_or_none(m.sigma_w.value),
                "sigma_w_stderr": finite_or_none(m.sigma_w.stderr), "final_loss_mem": finite_or_none(m.final_loss[0]),
                "final_loss_gen": finite_or_none(m.final_loss[1]), "calm": calm_ends(m), "rows": self.rows()}


def _point(config, key, n_points: int):
    """The data model (``fold_in(key, 0)``), the training set (``1``), held-out points (``2``) and
    the nets' :class:`~diffsim.nets.ModelConfig` and :class:`~diffsim.nets.TrainConfig` of a point."""
    model = data.make(config.data, config.dim, alpha_d=config.alpha_d, key=jax.random.fold_in(key, 0))
    train = TrainingSet.from_points(model.sample(jax.random.fold_in(key, 1), n_points))
    held = model.sample(jax.random.fold_in(key, 2), config.n_queries)
    variance = float(np.mean(np.asarray(model.covariance_spectrum(), dtype=np.float64)))
    network = nets.ModelConfig(width=config.width, depth=config.depth, parameterisation=config.parameterisation,
                               data_variance=variance)
    # n_checkpoints=2: the run ends at `steps` (one checkpoint would stop at the first dispatch)
    training = nets.TrainConfig(steps=config.steps, batch_size=config.batch_size, learning_rate=config.learning_rate,
                                steps_per_dispatch=config.steps_per_dispatch, n_checkpoints=2)
    return dict(data_model=model, train=train, held_out=held, network=network, training=training)


@register_study("geometry_net_swap", NetSwapConfig,
                description="memorizing (few-point) and generalizing (many-point) trained nets, and exact scores, "
                "swapped inside sigma windows from the measured boundaries: memorized fraction per window",
                page="geometry")
def run_net_swap(config: NetSwapConfig, key=None, *, progress=None) -> NetSwapResult:
    """Boundaries of the few-point set, two trained nets, window swaps in both directions (module
    docstring); ``key`` defaults to ``PRNGKey(seed)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    return NetSwapResult(config, measure_net_swap(key, **_point(config, key, config.n_many), progress=progress,
                                                  solver=solver(config.method),
                                                  **measure_options(measure_net_swap, config)))


# ----------------------------------------------------------------------------- training-time mitigation


@dataclass(frozen=True)
class MitigationConfig:
    """One point of the mitigation study: DSM training that undertrains one sigma window (``zone``, placed
    from the training set's measured boundaries like the swap windows) by the loss factor
    ``zone_weight`` against the standard schedule, at equal steps, same seeds, same initialisation and
    minibatch noise (paired members); ``n_seeds`` members per variant, trained as one vmapped ensemble.

    Quality: ``score_error_true`` = mean over ``eval_times`` log-spaced t in ``[t_eval_min, t_eval_max]``
    of ``Delta_t E|s_theta - s_true|^2 / N`` on queries built on fresh points (noise units per
    dimension); ``sliced_wasserstein`` of ``n_samples`` generated points to as many fresh ones
    (``n_projections`` directions); ``memorized_fraction``: the 1/3 rule against the training set.

    Attributes:
        data: data model with an exact true score: gaussian (isotropic), mixture (two clusters) or
            hmm (linear).
        dim: dimension N.
        alpha_d: hmm: latent ratio D/N (D = round(alpha_d N)).
        n_train: training points P.
        width: MLP width.
        depth: residual blocks.
        parameterisation: what the nets predict: eps (the noise), x0 (the denoised point) or edm.
        steps: Adam steps of every member (a multiple of steps_per_dispatch).
        batch_size: minibatch size.
        learning_rate: Adam learning rate.
        steps_per_dispatch: training steps per jitted scan.
        zone: the sigma window to undertrain, placed from the measured boundaries sigma_cov, sigma_w:
            small [0, sigma_cov], medium [sigma_cov, sigma_w], large [sigma_w, inf), or a control of
            the medium window's log-width just below or above it.
        zone_weight: loss factor inside the window in the mitigated variant (0: no training there).
        n_seeds: paired members per variant (same initialisation, minibatches and sampler noise).
        sigmas: increasing VE noise levels sigma (at least 3) of the boundaries.
        n_queries: training and held-out queries per sigma of the boundaries.
        n_samples: generated samples per member (and fresh points of the sliced Wasserstein).
        n_steps: sampler steps on a log grid from t_max to t_min.
        t_max: first sampler time (OU time t).
        t_min: last sampler time (OU time t).
        eval_times: times of the score error, log-spaced in [t_eval_min, t_eval_max].
        t_eval_min: smallest time of the score error (OU time t).
        t_eval_max: largest time of the score error (OU time t, at most t_max).
        eval_batch: queries per time of the score error.
        n_projections: random directions of the sliced Wasserstein distance.
        seed: random seed.
    """

    data: DataName = "gaussian"
    dim: int = 8
    alpha_d: float = 0.5
    n_train: int = 8
    width: int = 128
    depth: int = 2
    parameterisation: Parameterisation = "eps"
    steps: int = 4000
    batch_size: int = 64
    learning_rate: float = 3e-3
    steps_per_dispatch: int = 100
    zone: Zone = "medium"
    zone_weight: float = 0.0
    n_seeds: int = 4
    sigmas: tuple[float, ...] = default_sigmas()
    n_queries: int = 512
    n_samples: int = 512
    n_steps: int = 200
    t_max: float = 5.0
    t_min: float = 1e-3
    eval_times: int = 8
    t_eval_min: float = 0.01
    t_eval_max: float = 2.0
    eval_batch: int = 256
    n_projections: int = 128
    seed: int = 0

    def validate(self) -> "MitigationConfig":
        NetSwapConfig(data=self.data, dim=self.dim, alpha_d=self.alpha_d, n_few=self.n_train, n_many=self.n_train + 1,
                      width=self.width, depth=self.depth, parameterisation=self.parameterisation, steps=self.steps,
                      batch_size=self.batch_size, learning_rate=self.learning_rate,
                      steps_per_dispatch=self.steps_per_dispatch, sigmas=self.sigmas, n_queries=self.n_queries,
                      n_samples=self.n_samples, n_steps=self.n_steps, t_max=self.t_max, t_min=self.t_min,
                      seed=self.seed).validate()
        _validate.choice("zone", self.zone, ZONES)
        _validate.in_range("zone_weight", self.zone_weight, 0.0, 1e6)
        _validate.integer("n_seeds", self.n_seeds, minimum=2, maximum=1024)
        _validate.integer("eval_times", self.eval_times, minimum=1, maximum=1000)
        _validate.positive("t_eval_max", self.t_eval_max, upper=self.t_max)
        _validate.positive("t_eval_min", self.t_eval_min, upper=self.t_eval_max)
        _validate.integer("eval_batch", self.eval_batch, minimum=2, maximum=2**20)
        _validate.integer("n_projections", self.n_projections, minimum=1, maximum=100_000)
        _validate.memory("the ensemble's evaluation batches",
                         4.0 * self.n_seeds * self.dim * (self.eval_times * self.eval_batch * 4 + 4 * self.n_samples))
        return self


@dataclass(frozen=True)
class MitigationResult:
    config: MitigationConfig
    measurement: MitigationMeasurement

    def rows(self) -> list[dict]:
        """Summary rows (``member`` None; ``variant`` standard / mitigated / difference, with the 95%
        interval mean +- 1.96 stderr) and one row per member and variant."""
        c, m = self.config, self.measurement
        base = {"N": c.dim, "P": c.n_train, "zone": c.zone, "zone_weight": c.zone_weight,
                "zone_lo": finite_or_none(m.zone[0]), "zone_hi": finite_or_none(m.zone[1]),
                "sigma_cov": finite_or_none(m.sigma_cov.value), "sigma_w": finite_or_none(m.sigma_w.value)}
        out = []
        for (variant, q), (mean, se) in m.summary().items():
            out.append({**base, "variant": variant, "quantity": q, "member": None, "value": finite_or_none(mean),
                        "stderr": finite_or_none(se), "ci_lo": finite_or_none(mean - 1.96 * se),
                        "ci_hi": finite_or_none(mean + 1.96 * se), "sw_floor": m.sw_floor if q == "sliced_wasserstein" else None})
        for (variant, q), vals in m.values.items():
            for i, v in enumerate(vals):
                out.append({**base, "variant": variant, "quantity": q, "member": i, "value": finite_or_none(v),
                            "stderr": None, "ci_lo": None, "ci_hi": None, "sw_floor": None})
        return out

    def to_json(self) -> dict:
        m = self.measurement
        return {"config": config_json(self.config), "sigma_cov": finite_or_none(m.sigma_cov.value),
                "sigma_w": finite_or_none(m.sigma_w.value), "zone": [finite_or_none(m.zone[0]), finite_or_none(m.zone[1])],
                "sw_floor": finite_or_none(m.sw_floor), "rows": self.rows()}


@register_study("geometry_mitigation", MitigationConfig,
                description="DSM training that undertrains one sigma window vs the standard schedule at equal steps: "
                "memorized fraction, score error, sliced Wasserstein",
                page="geometry")
def run_mitigation(config: MitigationConfig, key=None, *, progress=None) -> MitigationResult:
    """Standard vs zone-undertrained DSM at equal steps (:class:`MitigationConfig`)."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    return MitigationResult(config, measure_mitigation(key, **_point(config, key, config.n_train), progress=progress,
                                                       **measure_options(measure_mitigation, config)))
