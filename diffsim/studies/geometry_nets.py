"""Window swaps between trained denoisers, and training that undertrains one window (THEORY.md
section 8, "Two Calm Ends", the paper's diagnostic).

One config = one point. ``run_net_swap`` draws ``data.n_train`` points of a data model with an exact score;
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

import dataclasses
from dataclasses import dataclass

import jax
import numpy as np

from diffsim import _validate
from diffsim.measure.geometry_nets import (
    FAMILIES,
    QUALITY,
    SWAP_DIRECTIONS,
    VARIANTS,
    ZONES,
    MitigationMeasurement,
    MitigationOptions,
    NetSwapMeasurement,
    NetSwapOptions,
    calm_ends,
    measure_mitigation,
    measure_net_swap,
)
from diffsim.nets.models import ModelConfig
from diffsim.nets.train import TrainConfig
from diffsim.observe import finite_or_none
from diffsim.score import TrainingSet
from diffsim.solvers import solver
from diffsim.specs import DataSpec, Sampling, config_json, validate_parts
from diffsim.studies._registry import register_study

__all__ = [
    "NetSwapConfig", "NetSwapResult", "run_net_swap", "calm_ends", "FAMILIES", "SWAP_DIRECTIONS",
    "MitigationConfig", "MitigationResult", "run_mitigation", "ZONES", "VARIANTS", "QUALITY",
]

# Both studies: N = 8 Gaussian, width-128 eps nets, 4000 Adam steps ending at `steps` (n_checkpoints=2:
# one checkpoint would stop at the first dispatch), 200 log-grid sampler steps.
_NET = ModelConfig(width=128, depth=2, parameterisation="eps")
_TRAIN = TrainConfig(steps=4000, batch_size=64, learning_rate=3e-3, steps_per_dispatch=100, n_checkpoints=2)
_SAMPLING = Sampling(solver="sde", n_steps=200, t_max=5.0, t_min=1e-3)


def _validate_point(config, solvers: tuple[str, ...]) -> None:
    """The checks the two studies share: a data model with an exact score and P from ``data.n_train``,
    the nets and their training, the sampler's log grid."""
    validate_parts(config)
    d, net, train, smp = config.data, config.net, config.train, config.sampling
    _validate.integer("data.dim", d.dim, minimum=1, maximum=4096)
    if d.n_train is None:
        raise _validate.ConfigError("data.n_train=None is out of range: expected the number of training points")
    if d.model == "hmm" and d.nonlinearity != "linear":
        raise _validate.ConfigError(f"data.nonlinearity={d.nonlinearity!r} is out of range: expected linear "
                                    "(the hmm has an exact score when linear only)")
    try:
        net.validate(d.dim)
    except _validate.ConfigError as err:
        raise _validate.ConfigError(f"net.{err}") from None
    _validate.integer("train.steps", train.steps, minimum=train.steps_per_dispatch, maximum=10**7)
    if train.steps % train.steps_per_dispatch:
        raise _validate.ConfigError(f"train.steps={train.steps} is out of range: expected a multiple of "
                                    f"steps_per_dispatch={train.steps_per_dispatch}")
    _validate.integer("train.batch_size", train.batch_size, minimum=1, maximum=2**16)
    _validate.positive("train.learning_rate", train.learning_rate, upper=1.0)
    _validate.choice("sampling.solver", smp.solver, solvers)
    _validate.choice("sampling.grid", smp.grid, ("log",))
    _validate.integer("sampling.n_steps", smp.n_steps, minimum=10, maximum=100_000)
    if smp.t_min >= smp.t_max:
        raise _validate.ConfigError(f"sampling.t_min={smp.t_min} is out of range: expected t_min < t_max={smp.t_max}")
    _validate.integer("seed", config.seed, minimum=0)


@dataclass(frozen=True)
class NetSwapConfig:
    """One point of the trained-net swap study (module docstring).

    Attributes:
        data: data model with an exact true score (gaussian, mixture or linear hmm), N, and the
            training points of the generalizing net (n_train, more than n_few).
        n_few: training points of the memorizing net (the first n_few of the data.n_train).
        net: both nets (their data_variance is the data model's).
        train: DSM training of both nets (the run must end at train.steps).
        sampling: the sampler (sde: backward SDE, or ode: probability-flow ODE) on a log grid.
        measure: the options of measure_net_swap (boundaries, samples, families, bootstrap).
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="gaussian", dim=8, n_train=32)
    n_few: int = 8
    net: ModelConfig = _NET
    train: TrainConfig = _TRAIN
    sampling: Sampling = _SAMPLING
    measure: NetSwapOptions = NetSwapOptions()
    seed: int = 0

    def validate(self) -> "NetSwapConfig":
        _validate_point(self, ("sde", "ode"))
        _validate.integer("n_few", self.n_few, minimum=2, maximum=10**5)
        _validate.integer("data.n_train", self.data.n_train, minimum=self.n_few + 1, maximum=10**6)
        d, opts, train = self.data, self.measure, self.train
        _validate.memory("training sets, queries and samples",
                         4.0 * d.dim * (3 * d.n_points + 4 * opts.n_queries * len(opts.sigmas) + 8 * opts.n_samples)
                         + 4.0 * 64 * train.batch_size * max(d.dim, self.net.width))
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
                "N": c.data.dim, "P_few": c.n_few, "P_many": c.data.n_train, "family": family, "direction": direction,
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


def _point(config, key):
    """The data model (``fold_in(key, 0)``), the training set (``1``), held-out points (``2``) and
    the nets' :class:`~diffsim.nets.ModelConfig` (with the data's variance) and
    :class:`~diffsim.nets.TrainConfig` of a point."""
    model = config.data.make(jax.random.fold_in(key, 0))
    train = TrainingSet.from_points(model.sample(jax.random.fold_in(key, 1), config.data.n_train))
    held = model.sample(jax.random.fold_in(key, 2), config.measure.n_queries)
    variance = float(np.mean(np.asarray(model.covariance_spectrum(), dtype=np.float64)))
    network = dataclasses.replace(config.net, data_variance=variance)
    return dict(data_model=model, train=train, held_out=held, network=network, training=config.train)


def _sampler(config) -> dict:
    smp = config.sampling
    return dict(n_steps=smp.n_steps, t_max=smp.t_max, t_min=smp.t_min)


@register_study("geometry_net_swap", NetSwapConfig,
                description="memorizing (few-point) and generalizing (many-point) trained nets, and exact scores, "
                "swapped inside sigma windows from the measured boundaries: memorized fraction per window",
                page="geometry")
def run_net_swap(config: NetSwapConfig, key=None, *, progress=None) -> NetSwapResult:
    """Boundaries of the few-point set, two trained nets, window swaps in both directions (module
    docstring); ``key`` defaults to ``PRNGKey(seed)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    return NetSwapResult(config, measure_net_swap(key, **_point(config, key), n_few=config.n_few, progress=progress,
                                                  solver=solver(config.sampling.solver), **_sampler(config),
                                                  **config.measure.as_kwargs()))


# ----------------------------------------------------------------------------- training-time mitigation


@dataclass(frozen=True)
class MitigationConfig:
    """One point of the mitigation study: DSM training that undertrains one sigma window
    (``measure.zone``, placed from the training set's measured boundaries like the swap windows) by the
    loss factor ``measure.zone_weight`` against the standard schedule, at equal steps, same seeds, same
    initialisation and minibatch noise (paired members); ``measure.n_seeds`` members per variant,
    trained as one vmapped ensemble.

    Quality: ``score_error_true`` = mean over ``eval_times`` log-spaced t in ``[t_eval_min, t_eval_max]``
    of ``Delta_t E|s_theta - s_true|^2 / N`` on queries built on fresh points (noise units per
    dimension); ``sliced_wasserstein`` of ``n_samples`` generated points to as many fresh ones
    (``n_projections`` directions); ``memorized_fraction``: the 1/3 rule against the training set.

    Attributes:
        data: data model with an exact true score (gaussian, mixture or linear hmm), N and the
            training points P (n_train).
        net: the nets (their data_variance is the data model's).
        train: the standard DSM training (without a zone; the run must end at train.steps).
        sampling: the sampler (sde, the backward SDE) on a log grid.
        measure: the options of measure_mitigation (zone and its weight, members, boundaries, quality).
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="gaussian", dim=8, n_train=8)
    net: ModelConfig = _NET
    train: TrainConfig = _TRAIN
    sampling: Sampling = _SAMPLING
    measure: MitigationOptions = MitigationOptions()
    seed: int = 0

    def validate(self) -> "MitigationConfig":
        _validate_point(self, ("sde",))
        d, opts, train = self.data, self.measure, self.train
        _validate.integer("data.n_train", d.n_train, minimum=2, maximum=10**5)
        if (train.zone_sigma_lo, train.zone_sigma_hi, train.zone_weight) != (0.0, 0.0, 1.0):
            raise _validate.ConfigError(f"train.zone_weight={train.zone_weight!r} is out of range: expected the standard "
                                        "training without a zone (measure.zone and measure.zone_weight set the mitigated one)")
        _validate.positive("measure.t_eval_max", opts.t_eval_max, upper=self.sampling.t_max)
        _validate.memory("training sets, queries and samples",
                         4.0 * d.dim * (3 * (d.n_points + 1) + 4 * opts.n_queries * len(opts.sigmas) + 8 * opts.n_samples)
                         + 4.0 * 64 * train.batch_size * max(d.dim, self.net.width))
        _validate.memory("the ensemble's evaluation batches",
                         4.0 * opts.n_seeds * d.dim * (opts.eval_times * opts.eval_batch * 4 + 4 * opts.n_samples))
        return self


@dataclass(frozen=True)
class MitigationResult:
    config: MitigationConfig
    measurement: MitigationMeasurement

    def rows(self) -> list[dict]:
        """Summary rows (``member`` None; ``variant`` standard / mitigated / difference, with the 95%
        interval mean +- 1.96 stderr) and one row per member and variant."""
        c, m = self.config, self.measurement
        base = {"N": c.data.dim, "P": c.data.n_train, "zone": c.measure.zone, "zone_weight": c.measure.zone_weight,
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
    return MitigationResult(config, measure_mitigation(key, **_point(config, key), progress=progress, **_sampler(config),
                                                       **config.measure.as_kwargs()))
