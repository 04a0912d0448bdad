"""Window swaps between trained denoisers, and training that undertrains one sigma window (THEORY.md
section 8, "Two Calm Ends", the paper's diagnostic).

:func:`measure_net_swap` on a training set whose first ``n_few`` points are the *few-point* set:

1. measures the regime boundaries ``sigma_cov`` (C = 1/2) and ``sigma_w`` (W = 1/2) of the few-point
   set (:func:`diffsim.measure.geometry.measure_geometry`) and places the windows from them
   (:func:`diffsim.measure.geometry.swap_windows`: small ``[0, sigma_cov]``, medium
   ``[sigma_cov, sigma_w]``, large ``[sigma_w, inf)`` and the two width-matched controls);
2. trains two denoisers by DSM in one vmapped ensemble (:func:`diffsim.nets.train`): the
   *memorizing* net on the few-point set and the *generalizing* net on the whole set, same
   architecture, same steps;
3. samples with :class:`diffsim.measure.geometry.WindowSwap` drifts, both directions
   (``mem_in_gen``: the memorizing score inside the window, the generalizing one outside;
   ``gen_in_mem``: the reverse) and the two unswapped baselines (``all_gen``, ``all_mem``), for two
   families of score pairs: ``nets`` (memorizing net / generalizing net) and ``exact`` (the exact
   empirical score of the few-point set / the exact true score), on the same windows and with the same
   sampler noise for every window (paired comparisons).

Every sample set is scored by the 1/3 rule (:func:`diffsim.observe.memorized`) against the few-point
set (the memorizing model's training set, the paper's measure) and against the whole set (the
generalizing net's own training set), each with a bootstrap standard error over samples and a 95%
percentile bootstrap interval. :func:`calm_ends` states, per family, whether each end window is calm.

:func:`measure_mitigation` trains ``n_seeds`` paired members twice, with the standard DSM schedule and
with the loss inside one window (placed from the training set's boundaries like the swap windows)
multiplied by ``zone_weight``, and compares memorization, the score error to the true score and the
sliced Wasserstein distance of the samples to fresh points.

:mod:`diffsim.nets` (flax, optax) is imported when a measurement runs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal, Sequence, get_args

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim._protocols import ExactDataModel
from diffsim.measure.geometry import (
    _check_sigmas,
    _memorized,
    default_sigmas,
    measure_geometry,
    measure_memorization,
    swap_windows,
    window_swap,
)
from diffsim.metrics import sliced_wasserstein
from diffsim.observe import Estimate
from diffsim.process import delta, m
from diffsim.score import EmpiricalScore, TrainingSet
from diffsim.solvers import EulerMaruyama, Solver
from diffsim.specs import Options, options_of

if TYPE_CHECKING:
    from diffsim.nets.models import ModelConfig
    from diffsim.nets.train import TrainConfig

__all__ = [
    "FAMILIES", "SWAP_DIRECTIONS", "SwapOutcome", "NetSwapMeasurement", "NetSwapOptions", "check_net_swap_options",
    "measure_net_swap", "calm_ends", "ZONES", "VARIANTS", "QUALITY", "MitigationMeasurement", "MitigationOptions",
    "check_mitigation_options", "measure_mitigation",
]

Family = Literal["nets", "exact"]
"""A pair of scores to swap: the two trained nets, or the exact empirical and true scores."""
FAMILIES: tuple[Family, ...] = get_args(Family)
SWAP_DIRECTIONS = ("mem_in_gen", "gen_in_mem")
Zone = Literal["small", "control_below", "medium", "control_above", "large"]
"""A sigma window placed from the measured boundaries (:func:`diffsim.measure.geometry.swap_windows`)."""
ZONES: tuple[Zone, ...] = get_args(Zone)
VARIANTS = ("standard", "mitigated")
QUALITY = ("memorized_fraction", "score_error_true", "sliced_wasserstein")
_ALL = 1e30  # a window edge beyond every sigma of the schedule


def _boundaries(key, train: TrainingSet, held_out, sigmas, n_queries: int, **options):
    """The measured ``sigma_cov`` and ``sigma_w`` of ``train``; ConfigError unless they bracket a window."""
    geo = measure_geometry(key, train, held_out=held_out, sigmas=sigmas, n_queries=n_queries, **options)
    lo, hi = geo.sigma_cov.value, geo.sigma_w.value
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise _validate.ConfigError(f"the measured boundaries sigma_cov={lo}, sigma_w={hi} do not bracket a window: widen sigmas")
    return geo


def _trained(run, training: TrainConfig) -> None:
    if run.loss_steps[-1] != training.steps:
        raise RuntimeError(f"training stopped at step {run.loss_steps[-1]}, expected {training.steps}")


# ----------------------------------------------------------------------------- window swaps


@dataclass(frozen=True)
class SwapOutcome:
    """Memorized fraction of one sample set: against the few-point set (``few``) and the whole set
    (``own``), each an :class:`Estimate` and a 95% percentile bootstrap interval."""

    few: Estimate
    few_interval: tuple[float, float]
    own: Estimate
    own_interval: tuple[float, float]


@dataclass(frozen=True)
class NetSwapMeasurement:
    """What :func:`measure_net_swap` measured.

    Attributes:
      sigma_cov, sigma_w: the few-point set's boundaries (:class:`Estimate`).
      windows: window name -> ``(sigma_lo, sigma_hi)``.
      outcomes: ``(family, direction, window)`` -> :class:`SwapOutcome`; the baselines are
        ``(family, "all_gen" or "all_mem", None)``.
      final_loss: (memorizing, generalizing) mean training loss over the last dispatch (NaN without
        the nets family).
      drifts: family -> (memorizing drift, generalizing drift), for further sampling.
      sampler_key: the sampler key shared by every window (:func:`measure_memorization`'s key).
    """

    sigma_cov: Estimate
    sigma_w: Estimate
    windows: dict
    outcomes: dict
    final_loss: tuple[float, float]
    drifts: dict
    sampler_key: jax.Array

    def outcome(self, family: str, direction: str, window: str | None = None) -> SwapOutcome:
        return self.outcomes[(family, direction, window)]


def _outcome(key, flags_few, flags_own, n_boot: int) -> SwapOutcome:
    """Bootstrap (resampling the samples jointly) of both memorized fractions."""
    f = np.stack([np.asarray(flags_few, np.float64), np.asarray(flags_own, np.float64)])
    b = f.shape[1]
    idx = np.asarray(jax.random.randint(key, (n_boot, b), 0, b))
    reps = f[:, idx].mean(-1)  # [2, n_boot]
    est = [Estimate(float(f[i].mean()), float(reps[i].std(ddof=1))) for i in range(2)]
    ci = [(float(np.quantile(reps[i], 0.025)), float(np.quantile(reps[i], 0.975))) for i in range(2)]
    return SwapOutcome(est[0], ci[0], est[1], ci[1])


def _train_pair(key, train: TrainingSet, n_few: int, network: ModelConfig, training: TrainConfig):
    """Memorizing (first ``n_few`` points) and generalizing (all points) nets, one vmapped ensemble;
    returns the two :class:`diffsim.nets.LearnedScore` drifts and their final training losses."""
    from diffsim import nets
    from diffsim.nets.train import member

    pts = jnp.stack([train.points, train.points])
    run = nets.train(network, training, pts, jax.random.split(key, 2), n_points=jnp.array([n_few, train.n_points]))
    _trained(run, training)
    drifts = [nets.evaluation_score(run.graphdef, member(run.state, i), training) for i in range(2)]
    return drifts[0], drifts[1], (float(run.losses[-1, 0]), float(run.losses[-1, 1]))


def _check_sampled(sigmas, n_queries, n_samples) -> None:
    _check_sigmas("sigmas", sigmas)
    _validate.integer("n_queries", n_queries, minimum=8, maximum=2**20)
    _validate.integer("n_samples", n_samples, minimum=8, maximum=2**20)


def check_net_swap_options(*, sigmas, n_queries, n_samples, families, n_boot) -> None:
    """Range checks of :func:`measure_net_swap`'s options (one :class:`~diffsim.ConfigError` naming
    the first bad option and its range), for the API and for configs before any work."""
    _check_sampled(sigmas, n_queries, n_samples)
    if not families:
        raise _validate.ConfigError("families=() is out of range: expected some of nets, exact")
    for f in families:
        _validate.choice("families", f, FAMILIES)
    _validate.integer("n_boot", n_boot, minimum=2, maximum=100_000)


def measure_net_swap(
    key,
    train: TrainingSet,
    *,
    n_few: int,
    data_model: ExactDataModel,
    held_out,
    network: ModelConfig,
    training: TrainConfig,
    sigmas: ArrayLike,
    n_queries: int = 512,
    n_samples: int = 512,
    n_steps: int = 200,
    t_max: float = 5.0,
    t_min: float = 1e-3,
    solver: Solver = EulerMaruyama(),
    families: Sequence[Family] = FAMILIES,
    n_boot: int = 200,
    progress: Callable[[str], None] | None = None,
) -> NetSwapMeasurement:
    """Boundaries of the few-point set, two trained nets, window swaps in both directions (module
    docstring).

    Args:
      key: PRNG key; ``fold_in(key, 3)`` measures the boundaries, ``4`` trains, ``5`` is the sampler
        key of every window, ``6`` bootstraps (0-2 are left to a study's data).
      train: the generalizing net's training set; its first ``n_few`` points are the few-point set.
      n_few: points of the memorizing net.
      data_model: the data model with an exact ``score`` (the ``exact`` family's true score).
      held_out: ``[Q, N]`` held-out points of the coverage (:func:`measure_geometry`).
      network, training: the :class:`diffsim.nets.ModelConfig` and :class:`diffsim.nets.TrainConfig`
        of both nets (the run must end at ``training.steps``).
      sigmas: increasing VE noise levels sigma (at least 3) of the few-point set's boundaries
        sigma_cov, sigma_w that place the windows.
      n_queries: training and held-out queries per sigma of the boundaries.
      n_samples: generated samples per window, direction and family.
      n_steps, t_max, t_min, solver: the sampler (:func:`measure_memorization`).
      families: score pairs to swap: nets (memorizing / generalizing net) and/or exact (empirical /
        true score).
      n_boot: bootstrap replicas of the boundaries and of every memorized fraction.
      progress: called with a line of text after the boundaries, the training and each family.
    """
    check_net_swap_options(sigmas=sigmas, n_queries=n_queries, n_samples=n_samples, families=families, n_boot=n_boot)
    few = TrainingSet.from_points(train.points[:n_few])
    geo = _boundaries(jax.random.fold_in(key, 3), few, held_out, sigmas, n_queries, n_boot=n_boot)
    windows = swap_windows(geo.sigma_cov.value, geo.sigma_w.value)
    if progress is not None:
        progress(f"boundaries sigma_cov={geo.sigma_cov.value:.3f} sigma_w={geo.sigma_w.value:.3f}")

    pairs = {}
    final_loss = (float("nan"), float("nan"))
    if "nets" in families:
        mem_net, gen_net, final_loss = _train_pair(jax.random.fold_in(key, 4), train, n_few, network, training)
        pairs["nets"] = (mem_net, gen_net)
        if progress is not None:
            progress(f"training (final loss mem {final_loss[0]:.3f} gen {final_loss[1]:.3f})")
    if "exact" in families:
        pairs["exact"] = (EmpiricalScore(few), data_model.score)

    k_run = jax.random.fold_in(key, 5)  # the same sampler noise for every window: paired comparisons
    k_boot = jax.random.fold_in(key, 6)

    def score(inside, outside, a, b):
        drift = window_swap(inside, outside, a, b if math.isfinite(b) else _ALL)
        meas = measure_memorization(k_run, few, drift, n_samples=n_samples, n_steps=n_steps, t_max=t_max,
                                    t_min=t_min, solver=solver, n_boot=2)
        return _outcome(k_boot, meas.flags, np.asarray(_memorized(jnp.asarray(meas.samples), train)), n_boot)

    outcomes = {}
    for family in families:
        mem, gen = pairs[family]
        outcomes[(family, "all_gen", None)] = score(mem, gen, _ALL, 10 * _ALL)
        outcomes[(family, "all_mem", None)] = score(gen, mem, _ALL, 10 * _ALL)
        for name, (a, b) in windows.items():
            outcomes[(family, "mem_in_gen", name)] = score(mem, gen, a, b)
            outcomes[(family, "gen_in_mem", name)] = score(gen, mem, a, b)
        if progress is not None:
            progress(f"{family} swaps")
    return NetSwapMeasurement(geo.sigma_cov, geo.sigma_w, windows, outcomes, final_loss, pairs, k_run)


@options_of(measure_net_swap, exclude=("n_few", "data_model", "held_out", "network", "training", "n_steps", "t_max",
                                     "t_min", "solver", "progress"),
            check=check_net_swap_options, defaults={"sigmas": default_sigmas()})
class NetSwapOptions(Options):
    """The options of :func:`measure_net_swap` as a config part (the boundaries, the samples per
    window, the families and the bootstrap; the sampler is the study's ``sampling``)."""


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def calm_ends(measurement: NetSwapMeasurement) -> dict:
    """Per family and per end window (``small``, ``large``; ``medium`` for comparison): the change of
    the memorized fraction (against the few-point set) when the memorizing score is swapped in over
    the window (``raise`` = mem_in_gen - all_gen) and when the generalizing one is (``drop`` =
    all_mem - gen_in_mem), and ``calm``: both swapped runs' 95% intervals overlap their baseline's,
    i.e. what the window holds does not change the outcome."""
    out = {}
    for family in dict.fromkeys(f for f, _, _ in measurement.outcomes):
        base_gen = measurement.outcome(family, "all_gen")
        base_mem = measurement.outcome(family, "all_mem")
        fam = {}
        for window in ("small", "medium", "large"):
            mig = measurement.outcome(family, "mem_in_gen", window)
            gim = measurement.outcome(family, "gen_in_mem", window)
            fam[window] = {
                "raise": mig.few.value - base_gen.few.value,
                "drop": base_mem.few.value - gim.few.value,
                "calm": bool(_overlap(mig.few_interval, base_gen.few_interval) and _overlap(gim.few_interval, base_mem.few_interval)),
            }
        out[family] = fam
    return out


# ----------------------------------------------------------------------------- training-time mitigation


@dataclass(frozen=True)
class MitigationMeasurement:
    """What :func:`measure_mitigation` measured.

    Attributes:
      sigma_cov, sigma_w: the training set's boundaries (:class:`Estimate`).
      zone: the undertrained window ``(sigma_lo, sigma_hi)``.
      values: ``(variant, quantity)`` -> one value per member (``n_seeds``), variants
        :data:`VARIANTS`, quantities :data:`QUALITY`.
      sw_floor: sliced Wasserstein between two fresh sample sets of size ``n_samples``.
    """

    sigma_cov: Estimate
    sigma_w: Estimate
    zone: tuple[float, float]
    values: dict
    sw_floor: float

    def summary(self) -> dict:
        """Per (variant, quantity): seed mean and stderr; per quantity the paired difference
        mitigated - standard with its stderr."""
        out = {}
        for q in QUALITY:
            n = len(self.values[("standard", q)])
            for v in VARIANTS:
                a = np.asarray(self.values[(v, q)], dtype=float)
                out[(v, q)] = (float(a.mean()), float(a.std(ddof=1) / math.sqrt(n)))
            d = np.asarray(self.values[("mitigated", q)], float) - np.asarray(self.values[("standard", q)], float)
            out[("difference", q)] = (float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)))
        return out


def _score_error(drift, score, points, times, key, eval_batch: int) -> float:
    """``mean_t Delta_t E|drift - score|^2 / N`` on ``eval_batch`` queries ``m_t a + sqrt(Delta_t) xi``
    per time of ``times [T]``, ``a`` drawn from ``points [R, N]`` (noise units per dimension)."""
    n_t = times.shape[0]
    b, n = eval_batch, points.shape[-1]
    k_a, k_xi = jax.random.split(key)
    a = points[jax.random.randint(k_a, (n_t * b,), 0, points.shape[0])]
    xi = jax.random.normal(k_xi, (n_t * b, n), points.dtype)
    tq = jnp.repeat(times, b)
    x = m(tq)[:, None] * a + jnp.sqrt(delta(tq))[:, None] * xi
    err = delta(tq) * jnp.sum(jnp.square(drift(x, tq) - score(x, tq)), -1) / n
    return float(jnp.mean(err))


def check_mitigation_options(*, zone, sigmas, zone_weight, n_seeds, n_queries, n_samples, eval_times, t_eval_min,
                             t_eval_max, eval_batch, n_projections) -> None:
    """Range checks of :func:`measure_mitigation`'s options (one :class:`~diffsim.ConfigError`
    naming the first bad option and its range), for the API and for configs before any work."""
    _validate.choice("zone", zone, ZONES)
    _check_sampled(sigmas, n_queries, n_samples)
    _validate.in_range("zone_weight", zone_weight, 0.0, 1e6)
    _validate.integer("n_seeds", n_seeds, minimum=2, maximum=1024)
    _validate.integer("eval_times", eval_times, minimum=1, maximum=1000)
    _validate.positive("t_eval_max", t_eval_max, upper=50.0)
    _validate.positive("t_eval_min", t_eval_min, upper=t_eval_max)
    _validate.integer("eval_batch", eval_batch, minimum=2, maximum=2**20)
    _validate.integer("n_projections", n_projections, minimum=1, maximum=100_000)


def measure_mitigation(
    key,
    train: TrainingSet,
    *,
    data_model: ExactDataModel,
    held_out,
    network: ModelConfig,
    training: TrainConfig,
    zone: Zone = "medium",
    sigmas: ArrayLike,
    zone_weight: float = 0.0,
    n_seeds: int = 4,
    n_queries: int = 512,
    n_samples: int = 512,
    n_steps: int = 200,
    t_max: float = 5.0,
    t_min: float = 1e-3,
    eval_times: int = 8,
    t_eval_min: float = 0.01,
    t_eval_max: float = 2.0,
    eval_batch: int = 256,
    n_projections: int = 128,
    progress: Callable[[str], None] | None = None,
) -> MitigationMeasurement:
    """Standard vs zone-undertrained DSM at equal steps, ``n_seeds`` paired members each (module docstring).

    Args:
      key: PRNG key; ``fold_in(key, 3)`` measures the boundaries, ``4`` gives the members' keys
        (the same for both variants), ``5`` and ``6`` the fresh points, ``7`` the sliced Wasserstein
        directions, ``100 + i`` member i's sampler noise and queries (0-2 are left to a study's data).
      train: the training set of every member.
      data_model: the data model with an exact ``score``: fresh points and the score error.
      held_out: ``[Q, N]`` held-out points of the coverage (:func:`measure_geometry`).
      network, training: the :class:`diffsim.nets.ModelConfig` and the standard
        :class:`diffsim.nets.TrainConfig` (the run must end at ``training.steps``); the mitigated
        variant multiplies the loss inside the zone by ``zone_weight``.
      zone: the sigma window to undertrain, placed from the measured boundaries sigma_cov, sigma_w:
        small [0, sigma_cov], medium [sigma_cov, sigma_w], large [sigma_w, inf), or a control of
        the medium window's log-width just below or above it (:func:`swap_windows`).
      sigmas: increasing VE noise levels sigma (at least 3) of the boundaries.
      zone_weight: loss factor inside the window in the mitigated variant (0: no training there).
      n_seeds: paired members per variant (same initialisation, minibatches and sampler noise).
      n_queries: training and held-out queries per sigma of the boundaries.
      n_samples: generated samples per member (and fresh points of the sliced Wasserstein).
      n_steps, t_max, t_min: the sampler's log grid.
      eval_times: times of the score error, log-spaced in [t_eval_min, t_eval_max].
      t_eval_min: smallest time of the score error (OU time t).
      t_eval_max: largest time of the score error (OU time t, at most the sampler's t_max).
      eval_batch: queries per time of the score error.
      n_projections: random directions of the sliced Wasserstein distance.
      progress: called with a line of text after the boundaries and after each variant.
    """
    from diffsim import nets
    from diffsim.nets.train import member

    check_mitigation_options(zone=zone, sigmas=sigmas, zone_weight=zone_weight, n_seeds=n_seeds, n_queries=n_queries,
                             n_samples=n_samples, eval_times=eval_times, t_eval_min=t_eval_min, t_eval_max=t_eval_max,
                             eval_batch=eval_batch, n_projections=n_projections)
    geo = _boundaries(jax.random.fold_in(key, 3), train, held_out, sigmas, n_queries)
    lo, hi = geo.sigma_cov.value, geo.sigma_w.value
    window = swap_windows(lo, hi)[zone]
    window = (window[0], min(window[1], _ALL))
    if progress is not None:
        progress(f"boundaries sigma_cov={lo:.3f} sigma_w={hi:.3f}, zone {zone} [{window[0]:.3f}, {window[1]:.3g}]")
    configs = {"standard": training, "mitigated": dataclasses.replace(
        training, zone_sigma_lo=window[0], zone_sigma_hi=window[1], zone_weight=zone_weight)}
    keys = jax.random.split(jax.random.fold_in(key, 4), n_seeds)  # the same keys: paired members
    fresh = data_model.sample(jax.random.fold_in(key, 5), max(n_samples, eval_batch))
    fresh2 = data_model.sample(jax.random.fold_in(key, 6), n_samples)
    k_sw = jax.random.fold_in(key, 7)
    sw_floor = float(sliced_wasserstein(k_sw, fresh[:n_samples], fresh2, n_projections))
    points = train.points
    times = jnp.asarray(np.exp(np.linspace(math.log(t_eval_min), math.log(t_eval_max), eval_times)), points.dtype)
    values = {}
    for variant, tc in configs.items():
        run = nets.train(network, tc, points, keys)
        _trained(run, tc)
        mem, err, sw = [], [], []
        for i in range(n_seeds):
            drift = nets.evaluation_score(run.graphdef, member(run.state, i), tc)
            k_i = jax.random.fold_in(key, 100 + i)  # the same sampler noise for both variants
            meas = measure_memorization(k_i, train, drift, n_samples=n_samples, n_steps=n_steps, t_max=t_max,
                                        t_min=t_min, n_boot=2)
            mem.append(float(np.mean(meas.flags)))
            err.append(_score_error(drift, data_model.score, fresh, times, jax.random.fold_in(k_i, 1), eval_batch))
            finite = np.all(np.isfinite(meas.samples))
            sw.append(float(sliced_wasserstein(k_sw, jnp.asarray(meas.samples), fresh2, n_projections)) if finite else float("nan"))
        values[(variant, "memorized_fraction")] = mem
        values[(variant, "score_error_true")] = err
        values[(variant, "sliced_wasserstein")] = sw
        if progress is not None:
            progress(f"{variant}: memorized {np.mean(mem):.3f}, score error {np.mean(err):.4f}, SW {np.mean(sw):.3f}")
    return MitigationMeasurement(geo.sigma_cov, geo.sigma_w, window, values, sw_floor)


@options_of(measure_mitigation, exclude=("data_model", "held_out", "network", "training", "n_steps", "t_max", "t_min",
                                        "progress"),
            check=check_mitigation_options, defaults={"sigmas": default_sigmas()})
class MitigationOptions(Options):
    """The options of :func:`measure_mitigation` as a config part (the zone, the boundaries, the
    members and the quality measures; the sampler is the study's ``sampling``)."""
