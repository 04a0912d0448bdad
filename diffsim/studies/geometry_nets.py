"""Window swaps between trained denoisers (THEORY.md section 8, "Two Calm Ends", the paper's diagnostic).

One config = one point. ``run_net_swap`` draws ``n_many`` points of a data model with an exact score;
the first ``n_few`` of them are the *few-point* set (so the few-point set is a subset of the many-point
set, as in the paper's memorizing / generalizing pair). It

1. measures the regime boundaries ``sigma_cov`` (C = 1/2) and ``sigma_w`` (W = 1/2) of the few-point
   set (:func:`diffsim.measure.geometry.measure_geometry`) and places the windows from them
   (:func:`diffsim.studies.geometry.swap_windows`: small ``[0, sigma_cov]``, medium
   ``[sigma_cov, sigma_w]``, large ``[sigma_w, inf)`` and the two width-matched controls);
2. trains two denoisers by DSM in one vmapped ensemble (:func:`diffsim.nets.train`): the
   *memorizing* net on the few-point set and the *generalizing* net on the many-point set, same
   architecture, same steps;
3. samples with :class:`diffsim.measure.geometry.WindowSwap` drifts, both directions
   (``mem_in_gen``: the memorizing score inside the window, the generalizing one outside;
   ``gen_in_mem``: the reverse) and the two unswapped baselines (``all_gen``, ``all_mem``), for two
   families of score pairs: ``nets`` (memorizing net / generalizing net) and ``exact`` (the exact
   empirical score of the few-point set / the exact true score), on the same windows and with the same
   sampler noise for every window (paired comparisons).

Every sample set is scored by the 1/3 rule (:func:`diffsim.observe.memorized`) against the few-point
set (quantity ``memorized_fraction_few`` in ``value``: the memorizing model's training set, the paper's
measure) and against the many-point set (column ``memorized_fraction_own``: the generalizing net's own
training set), each with a bootstrap standard error over samples and a 95% percentile bootstrap interval.

Choice of the defaults (isotropic Gaussian, N = 8, P_few = 8, P_many = 32, width 128, 4000 Adam
steps): the memorizing net copies its points (about 0.87 of its samples memorized), while the
generalizing net is not at 0 by construction: it memorizes about a quarter of its own 32 points and
about 0.09 of its samples sit on a few-point (the few-point set is inside its training set), so a swap
can move either baseline up or down. With P_many = 64 or 128 the generalizing baseline drops to
0.01 / 0.002 against the few-point set (degenerate for the ``mem_in_gen`` direction's lower side).

``calm_ends(result)`` states, per family, whether each end window is calm (swapping the memorizing
score in over it leaves the all-generalizing baseline within the intervals, and swapping the
generalizing score in leaves the all-memorizing baseline within them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate, data, nets
from diffsim.data import DataName
from diffsim.measure.geometry import measure_geometry, measure_memorization, window_swap
from diffsim.metrics import sliced_wasserstein
from diffsim.nets.train import member
from diffsim.observe import Estimate, memorized
from diffsim.nets.models import Parameterisation
from diffsim.process import delta, m
from diffsim.results import finite_or_none
from diffsim.score import EmpiricalScore, TrainingSet
from diffsim.solvers import solver
from diffsim.studies._common import config_json
from diffsim.studies.geometry import Method, default_sigmas, swap_windows

__all__ = [
    "NetSwapConfig", "NetSwapResult", "run_net_swap", "calm_ends", "FAMILIES", "SWAP_DIRECTIONS",
    "MitigationConfig", "MitigationResult", "run_mitigation", "ZONES",
]

Family = Literal["nets", "exact"]
"""A pair of scores to swap: the two trained nets, or the exact empirical and true scores."""
FAMILIES: tuple[Family, ...] = get_args(Family)
SWAP_DIRECTIONS = ("mem_in_gen", "gen_in_mem")
_ALL = 1e30  # a window edge beyond every sigma of the schedule
_memorized = jax.jit(memorized)


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
class SwapOutcome:
    """Memorized fraction of one sample set: against the few-point set (``few``) and the many-point
    set (``own``), each an :class:`Estimate` and a 95% percentile bootstrap interval."""

    few: Estimate
    few_interval: tuple[float, float]
    own: Estimate
    own_interval: tuple[float, float]


@dataclass(frozen=True)
class NetSwapResult:
    config: NetSwapConfig
    sigma_cov: Estimate
    sigma_w: Estimate
    windows: dict  # name -> (lo, hi)
    outcomes: dict  # (family, direction, window) -> SwapOutcome; baselines: (family, "all_gen"/"all_mem", None)
    final_loss: tuple[float, float]  # (memorizing, generalizing) mean training loss over the last dispatch
    drifts: dict  # family -> (memorizing drift, generalizing drift), for further sampling (not serialised)
    sampler_key: jax.Array  # the sampler key shared by every window

    def outcome(self, family: str, direction: str, window: str | None = None) -> SwapOutcome:
        return self.outcomes[(family, direction, window)]

    def rows(self) -> list[dict]:
        """One row per (family, direction, window); baselines have ``window`` None."""
        out = []
        for (family, direction, window), o in self.outcomes.items():
            lo, hi = self.windows.get(window, (None, None))
            out.append({
                "N": self.config.dim, "P_few": self.config.n_few, "P_many": self.config.n_many,
                "family": family, "direction": direction, "window": window,
                "sigma_lo": finite_or_none(lo), "sigma_hi": finite_or_none(hi),
                "sigma_cov": finite_or_none(self.sigma_cov.value), "sigma_w": finite_or_none(self.sigma_w.value),
                "quantity": "memorized_fraction_few", "value": float(o.few.value),
                "stderr": finite_or_none(o.few.stderr), "ci_lo": o.few_interval[0], "ci_hi": o.few_interval[1],
                "memorized_fraction_own": float(o.own.value),
                "memorized_fraction_own_stderr": finite_or_none(o.own.stderr),
                "memorized_fraction_own_ci_lo": o.own_interval[0], "memorized_fraction_own_ci_hi": o.own_interval[1],
            })
        return out

    def to_json(self) -> dict:
        return {"config": config_json(self.config), "sigma_cov": finite_or_none(self.sigma_cov.value),
                "sigma_cov_stderr": finite_or_none(self.sigma_cov.stderr),
                "sigma_w": finite_or_none(self.sigma_w.value), "sigma_w_stderr": finite_or_none(self.sigma_w.stderr),
                "final_loss_mem": finite_or_none(self.final_loss[0]),
                "final_loss_gen": finite_or_none(self.final_loss[1]),
                "calm": calm_ends(self), "rows": self.rows()}


def _outcome(key, flags_few, flags_own, n_boot: int) -> SwapOutcome:
    """Bootstrap (resampling the samples jointly) of both memorized fractions."""
    f = np.stack([np.asarray(flags_few, np.float64), np.asarray(flags_own, np.float64)])
    b = f.shape[1]
    idx = np.asarray(jax.random.randint(key, (n_boot, b), 0, b))
    reps = f[:, idx].mean(-1)  # [2, n_boot]
    est = [Estimate(float(f[i].mean()), float(reps[i].std(ddof=1))) for i in range(2)]
    ci = [tuple(float(q) for q in np.quantile(reps[i], [0.025, 0.975])) for i in range(2)]
    return SwapOutcome(est[0], ci[0], est[1], ci[1])


def _train_nets(config: NetSwapConfig, points, data_variance: float, key):
    """Memorizing (first ``n_few`` rows) and generalizing (all rows) nets, one vmapped ensemble;
    returns the two :class:`diffsim.nets.LearnedScore` drifts and their final training losses."""

    mc = nets.ModelConfig(width=config.width, depth=config.depth, parameterisation=config.parameterisation,
                          data_variance=data_variance)
    # n_checkpoints=2: the run ends at `steps` (one checkpoint would stop at the first dispatch)
    tc = nets.TrainConfig(steps=config.steps, batch_size=config.batch_size, learning_rate=config.learning_rate,
                          steps_per_dispatch=config.steps_per_dispatch, n_checkpoints=2)
    pts = jnp.stack([points, points])
    run = nets.train(mc, tc, pts, jax.random.split(key, 2), n_points=jnp.array([config.n_few, config.n_many]))
    if run.loss_steps[-1] != config.steps:
        raise RuntimeError(f"training stopped at step {run.loss_steps[-1]}, expected {config.steps}")
    drifts = [nets.evaluation_score(run.graphdef, member(run.state, i), tc) for i in range(2)]
    return drifts[0], drifts[1], (float(run.losses[-1, 0]), float(run.losses[-1, 1]))


def run_net_swap(config: NetSwapConfig, key=None, *, progress=None) -> NetSwapResult:
    """Boundaries of the few-point set, two trained nets, window swaps in both directions (module
    docstring); ``key`` defaults to ``PRNGKey(seed)``."""
    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model = data.make(config.data, config.dim, alpha_d=config.alpha_d, key=jax.random.fold_in(key, 0))
    points = model.sample(jax.random.fold_in(key, 1), config.n_many)
    few = TrainingSet.from_points(points[: config.n_few])
    many = TrainingSet.from_points(points)
    held = model.sample(jax.random.fold_in(key, 2), config.n_queries)
    geo = measure_geometry(jax.random.fold_in(key, 3), few, held_out=held, sigmas=config.sigmas,
                           n_queries=config.n_queries, n_boot=config.n_boot)
    lo, hi = geo.sigma_cov.value, geo.sigma_w.value
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise _validate.ConfigError(f"the measured boundaries sigma_cov={lo}, sigma_w={hi} do not bracket a window: widen sigmas")
    windows = swap_windows(lo, hi)
    if progress is not None:
        progress(f"boundaries sigma_cov={lo:.3f} sigma_w={hi:.3f}")

    pairs = {}
    final_loss = (float("nan"), float("nan"))
    if "nets" in config.families:
        spectrum = np.asarray(model.covariance_spectrum(), dtype=np.float64)
        mem_net, gen_net, final_loss = _train_nets(config, points, float(np.mean(spectrum)), jax.random.fold_in(key, 4))
        pairs["nets"] = (mem_net, gen_net)
        if progress is not None:
            progress(f"training (final loss mem {final_loss[0]:.3f} gen {final_loss[1]:.3f})")
    if "exact" in config.families:
        pairs["exact"] = (EmpiricalScore(few), model.score)

    k_run = jax.random.fold_in(key, 5)  # the same sampler noise for every window: paired comparisons
    k_boot = jax.random.fold_in(key, 6)

    def score(inside, outside, a, b):
        drift = window_swap(inside, outside, a, b if math.isfinite(b) else _ALL)
        m = measure_memorization(k_run, few, drift, n_samples=config.n_samples, n_steps=config.n_steps,
                                 t_max=config.t_max, t_min=config.t_min, solver=solver(config.method), n_boot=2)
        return _outcome(k_boot, m.flags, np.asarray(_memorized(jnp.asarray(m.samples), many)), config.n_boot)

    outcomes = {}
    for family in config.families:
        mem, gen = pairs[family]
        outcomes[(family, "all_gen", None)] = score(mem, gen, _ALL, 10 * _ALL)
        outcomes[(family, "all_mem", None)] = score(gen, mem, _ALL, 10 * _ALL)
        for name, (a, b) in windows.items():
            outcomes[(family, "mem_in_gen", name)] = score(mem, gen, a, b)
            outcomes[(family, "gen_in_mem", name)] = score(gen, mem, a, b)
        if progress is not None:
            progress(f"{family} swaps")
    return NetSwapResult(config, geo.sigma_cov, geo.sigma_w, windows, outcomes, final_loss, pairs, k_run)


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def calm_ends(result: NetSwapResult) -> dict:
    """Per family and per end window (``small``, ``large``; ``medium`` for comparison): the change of
    the memorized fraction (against the few-point set) when the memorizing score is swapped in over
    the window (``raise`` = mem_in_gen - all_gen) and when the generalizing one is (``drop`` =
    all_mem - gen_in_mem), and ``calm``: both swapped runs' 95% intervals overlap their baseline's,
    i.e. what the window holds does not change the outcome."""
    out = {}
    for family in result.config.families:
        base_gen = result.outcome(family, "all_gen")
        base_mem = result.outcome(family, "all_mem")
        fam = {}
        for window in ("small", "medium", "large"):
            mig = result.outcome(family, "mem_in_gen", window)
            gim = result.outcome(family, "gen_in_mem", window)
            fam[window] = {
                "raise": mig.few.value - base_gen.few.value,
                "drop": base_mem.few.value - gim.few.value,
                "calm": bool(_overlap(mig.few_interval, base_gen.few_interval) and _overlap(gim.few_interval, base_mem.few_interval)),
            }
        out[family] = fam
    return out


# ----------------------------------------------------------------------------- training-time mitigation

Zone = Literal["small", "control_below", "medium", "control_above", "large"]
"""A sigma window placed from the measured boundaries (:func:`diffsim.studies.geometry.swap_windows`)."""
ZONES: tuple[Zone, ...] = get_args(Zone)
VARIANTS = ("standard", "mitigated")
QUALITY = ("memorized_fraction", "score_error_true", "sliced_wasserstein")


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
    sigma_cov: Estimate
    sigma_w: Estimate
    zone: tuple[float, float]
    values: dict  # (variant, quantity) -> [n_seeds] per member
    sw_floor: float  # sliced Wasserstein between two fresh sample sets of size n_samples

    def summary(self) -> dict:
        """Per (variant, quantity): seed mean and stderr; per quantity the paired difference
        mitigated - standard with its stderr and 95% interval (1.96 stderr)."""
        out = {}
        n = self.config.n_seeds
        for q in QUALITY:
            for v in VARIANTS:
                a = np.asarray(self.values[(v, q)], dtype=float)
                out[(v, q)] = (float(a.mean()), float(a.std(ddof=1) / math.sqrt(n)))
            d = np.asarray(self.values[("mitigated", q)], float) - np.asarray(self.values[("standard", q)], float)
            out[("difference", q)] = (float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)))
        return out

    def rows(self) -> list[dict]:
        """Summary rows (``member`` None; ``variant`` standard / mitigated / difference) and one row per
        member and variant."""
        base = {"N": self.config.dim, "P": self.config.n_train, "zone": self.config.zone,
                "zone_weight": self.config.zone_weight, "zone_lo": finite_or_none(self.zone[0]),
                "zone_hi": finite_or_none(self.zone[1]),
                "sigma_cov": finite_or_none(self.sigma_cov.value), "sigma_w": finite_or_none(self.sigma_w.value)}
        out = []
        for (variant, q), (mean, se) in self.summary().items():
            out.append({**base, "variant": variant, "quantity": q, "member": None, "value": finite_or_none(mean),
                        "stderr": finite_or_none(se),
                        "ci_lo": finite_or_none(mean - 1.96 * se), "ci_hi": finite_or_none(mean + 1.96 * se),
                        "sw_floor": self.sw_floor if q == "sliced_wasserstein" else None})
        for (variant, q), vals in self.values.items():
            for i, v in enumerate(vals):
                out.append({**base, "variant": variant, "quantity": q, "member": i, "value": finite_or_none(v),
                            "stderr": None, "ci_lo": None, "ci_hi": None, "sw_floor": None})
        return out

    def to_json(self) -> dict:
        return {"config": config_json(self.config), "sigma_cov": finite_or_none(self.sigma_cov.value),
                "sigma_w": finite_or_none(self.sigma_w.value),
                "zone": [finite_or_none(self.zone[0]), finite_or_none(self.zone[1])],
                "sw_floor": finite_or_none(self.sw_floor), "rows": self.rows()}


def _score_error(drift, score, points_fresh, times, key, eval_batch):
    """``mean_t Delta_t E|s_theta - s_true|^2 / N`` on queries ``m_t a + sqrt(Delta_t) xi``, ``a`` fresh."""

    n_t = times.shape[0]
    b, n = eval_batch, points_fresh.shape[-1]
    k_a, k_xi = jax.random.split(key)
    a = points_fresh[jax.random.randint(k_a, (n_t * b,), 0, points_fresh.shape[0])]
    xi = jax.random.normal(k_xi, (n_t * b, n), points_fresh.dtype)
    tq = jnp.repeat(times, b)
    x = m(tq)[:, None] * a + jnp.sqrt(delta(tq))[:, None] * xi
    err = delta(tq) * jnp.sum(jnp.square(drift(x, tq) - score(x, tq)), -1) / n
    return float(jnp.mean(err))


def run_mitigation(config: MitigationConfig, key=None, *, progress=None) -> MitigationResult:
    """Standard vs zone-undertrained DSM at equal steps (:class:`MitigationConfig`)."""

    config.validate()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model = data.make(config.data, config.dim, alpha_d=config.alpha_d, key=jax.random.fold_in(key, 0))
    points = model.sample(jax.random.fold_in(key, 1), config.n_train)
    train = TrainingSet.from_points(points)
    held = model.sample(jax.random.fold_in(key, 2), config.n_queries)
    geo = measure_geometry(jax.random.fold_in(key, 3), train, held_out=held, sigmas=config.sigmas, n_queries=config.n_queries)
    lo, hi = geo.sigma_cov.value, geo.sigma_w.value
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise _validate.ConfigError(f"the measured boundaries sigma_cov={lo}, sigma_w={hi} do not bracket a window: widen sigmas")
    zone = swap_windows(lo, hi)[config.zone]
    zone = (zone[0], min(zone[1], _ALL))
    if progress is not None:
        progress(f"boundaries sigma_cov={lo:.3f} sigma_w={hi:.3f}, zone {config.zone} [{zone[0]:.3f}, {zone[1]:.3g}]")
    spectrum = np.asarray(model.covariance_spectrum(), dtype=np.float64)
    mc = nets.ModelConfig(width=config.width, depth=config.depth, parameterisation=config.parameterisation,
                          data_variance=float(np.mean(spectrum)))
    common = dict(steps=config.steps, batch_size=config.batch_size, learning_rate=config.learning_rate,
                  steps_per_dispatch=config.steps_per_dispatch, n_checkpoints=2)
    tcs = {"standard": nets.TrainConfig(**common),
           "mitigated": nets.TrainConfig(**common, zone_sigma_lo=zone[0], zone_sigma_hi=zone[1], zone_weight=config.zone_weight)}
    keys = jax.random.split(jax.random.fold_in(key, 4), config.n_seeds)  # the same keys: paired members
    fresh = model.sample(jax.random.fold_in(key, 5), max(config.n_samples, config.eval_batch))
    fresh2 = model.sample(jax.random.fold_in(key, 6), config.n_samples)
    k_sw = jax.random.fold_in(key, 7)
    sw_floor = float(sliced_wasserstein(k_sw, fresh[: config.n_samples], fresh2, config.n_projections))
    times = jnp.asarray(np.exp(np.linspace(math.log(config.t_eval_min), math.log(config.t_eval_max), config.eval_times)),
                        points.dtype)
    values = {}
    for variant, tc in tcs.items():
        run = nets.train(mc, tc, points, keys)
        if run.loss_steps[-1] != config.steps:
            raise RuntimeError(f"training stopped at step {run.loss_steps[-1]}, expected {config.steps}")
        mem, err, sw = [], [], []
        for i in range(config.n_seeds):
            drift = nets.evaluation_score(run.graphdef, member(run.state, i), tc)
            k_i = jax.random.fold_in(key, 100 + i)  # the same sampler noise for both variants
            meas = measure_memorization(k_i, train, drift, n_samples=config.n_samples, n_steps=config.n_steps,
                                        t_max=config.t_max, t_min=config.t_min, n_boot=2)
            mem.append(float(np.mean(meas.flags)))
            err.append(_score_error(drift, model.score, fresh, times, jax.random.fold_in(k_i, 1), config.eval_batch))
            finite = np.all(np.isfinite(meas.samples))
            sw.append(float(sliced_wasserstein(k_sw, jnp.asarray(meas.samples), fresh2, config.n_projections)) if finite else float("nan"))
        values[(variant, "memorized_fraction")] = mem
        values[(variant, "score_error_true")] = err
        values[(variant, "sliced_wasserstein")] = sw
        if progress is not None:
            progress(f"{variant}: memorized {np.mean(mem):.3f}, score error {np.mean(err):.4f}, SW {np.mean(sw):.3f}")
    return MitigationResult(config, geo.sigma_cov, geo.sigma_w, zone, values, sw_floor)
