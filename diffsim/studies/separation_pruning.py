"""Pruning mitigation of memorization (Ye, Zhu, Tao, Chen; THEORY.md section 10).

A transformer denoiser (:class:`diffsim.nets.TransformerDenoiser`, ``depth`` layers of ``heads``
maskable heads) is trained by DSM on P points; then, per seed:

* **importance** of head ``(l, h)``: first-order Taylor estimate of the DSM-loss change when the head
  is removed, through its mask ``m_lh`` (:class:`diffsim.nets.HeadMask`, 1 = kept):
  ``I_lh = |dL/dm_lh * m_lh|`` with ``L`` the DSM loss averaged over ``n_importance`` draws of a
  training point, noise and a small time ``t = t_min + (importance_t_max - t_min) u``,
  ``u ~ Beta(importance_a, importance_b)`` = Beta(0.8, 2). The paper's ``u`` is a fraction of its
  diffusion horizon; here it is a fraction of ``[t_min, importance_t_max]`` in our OU clock (our t is
  half the paper's, :func:`diffsim.process.separations_time_from_t`). A pruned head (mask 0) has
  importance 0 exactly. (This is the mask-gradient form, not ``|grad x weight|`` over the head's
  parameters; the paper's exact formula was not recovered.)
* **arms**: ``importance`` (remove the ``n_pruned`` lowest-importance heads, ``n_pruned =
  max(1, ceil(prune_fraction * depth * heads))``), ``random_r`` (``n_random`` draws of ``n_pruned``
  heads uniformly) and ``none``; every arm is then fine-tuned ``finetune_steps`` Adam steps (fresh
  optimizer state, same draws of data / noise / times across arms of one seed) so the budget is equal.
* **measured** on every network before (``stage = "pruned"``) and after (``"finetuned"``) the fine-tune:
  memorized fraction (1/3 rule against the seed's training set) of ``n_samples`` generated points
  (backward Euler-Maruyama on a log grid ``t_max -> t_min`` then one Tweedie step; all networks of a
  run share the initial points and the sampler noise), the score error to the true score
  ``E |eps_hat - eps_true|^2 / N`` on fresh noised data (fresh data points, log-sigma times on
  ``[t_min, t_max]``), and the sliced Wasserstein distance of the samples to ``n_samples`` fresh true
  samples (with the floor: two independent true samples).

Seeds differ in training set, initialisation and training noise; ``n_seeds`` networks train as one
vmapped ensemble and all ``n_seeds * (2 + n_random)`` fine-tunes as another. Comparisons are paired
differences across seeds (random arms averaged per seed first): mean, standard error and 95%
Student-t interval.

The computation is :func:`diffsim.measure.measure_pruning`; this module holds the config, the rows and the table.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from diffsim import _validate
from diffsim.data import DataName
from diffsim.measure.pruning import PRUNE_QUANTITIES, PruningMeasurement, measure_pruning, n_pruned_heads
from diffsim.results import finite_or_none
from diffsim.score import TrainingSet
from diffsim.specs import DataSpec
from diffsim.studies.separation import SEPARATION_DATA, loss_gap_model
from diffsim.studies._registry import register_study

__all__ = ["PruneConfig", "PruneResult", "run_prune", "prune_table", "PRUNE_ARMS", "PRUNE_QUANTITIES", "PRUNE_DEFINITIONS"]

PRUNE_ARMS = ("none", "importance", "random")
PRUNE_DEFINITIONS = {
    "importance": "|dL/dm_h * m_h|: first-order DSM-loss change when head h's mask m_h goes to 0; L averaged over "
    "training points, noise and t = t_min + (importance_t_max - t_min) Beta(0.8, 2) (our clock)",
    "memorized_fraction": "fraction of generated samples within 1/3 of the second-nearest distance of a training point",
    "score_error_true": "E|eps_hat - eps_true|^2 / N on fresh noised data (fresh points, log-sigma t on [t_min, t_max])",
    "sliced_wasserstein": "sliced 2-Wasserstein distance of the generated samples to fresh true samples",
    "stage": "pruned: right after pruning; finetuned: after finetune_steps of Adam (all arms, none included)",
    "random": "mean over n_random uniform draws of n_pruned heads, per seed",
    "diff": "paired difference over seeds (arm a minus arm b), mean, stderr and 95% Student-t interval",
}


@dataclass(frozen=True)
class PruneConfig:
    """One point of the pruning study: data model, N, P, network, budgets, seeds.

    Attributes:
        data: data model with an exact score: gaussian (isotropic), mixture or hmm (linear,
            D = round(N/2)).
        dim: dimension N.
        n_train: training-set size P.
        n_components: mixture: number of clusters K (at most N; K > 2: means mtilde sqrt(N) e_k).
        sigma: gaussian: standard deviation; mixture: cluster standard deviation (hmm: unused).
        mtilde: mixture: separation, |v|^2 = N mtilde^2 (two clusters) or means mtilde sqrt(N) e_k.
        width: transformer model width.
        depth: transformer layers.
        heads: attention heads per layer (a divisor of width; depth * heads >= 2).
        token_dim: coordinates per token (a divisor of N).
        steps: training steps (Adam, log-sigma times; a multiple of steps_per_dispatch).
        finetune_steps: fine-tuning steps of every arm (a multiple of steps_per_dispatch).
        batch_size: minibatch size of training and fine-tuning.
        learning_rate: training learning rate.
        finetune_learning_rate: fine-tuning learning rate.
        steps_per_dispatch: training steps per jitted scan.
        t_min: smallest training and evaluation time, last sampler time (OU time t).
        t_max: largest training and evaluation time, first sampler time (OU time t).
        prune_fraction: fraction of all heads removed (rounded up, at least 1 head).
        importance_a: first Beta shape of the importance times u ~ Beta(a, b).
        importance_b: second Beta shape of the importance times.
        importance_t_max: importance times t = t_min + (importance_t_max - t_min) u (OU time t, in
            (t_min, t_max]).
        n_importance: DSM draws (point, noise, time) of the head importance.
        n_seeds: networks (training set, initialisation, training noise) per point.
        n_random: random prunings per seed.
        n_samples: generated samples per network (and fresh true samples of the Wasserstein).
        sample_steps: backward SDE steps on a log grid from t_max to t_min.
        n_eval: fresh noised points of the score error.
        seed: random seed.
    """

    data: DataName = "mixture"
    dim: int = 8
    n_train: int = 16
    n_components: int = 2
    sigma: float = 1.0
    mtilde: float = 2.0
    width: int = 40
    depth: int = 2
    heads: int = 5
    token_dim: int = 1
    steps: int = 3000
    finetune_steps: int = 500
    batch_size: int = 128
    learning_rate: float = 1e-3
    finetune_learning_rate: float = 3e-4
    steps_per_dispatch: int = 100
    t_min: float = 1e-2
    t_max: float = 5.0
    prune_fraction: float = 0.2
    importance_a: float = 0.8
    importance_b: float = 2.0
    importance_t_max: float = 1.0
    n_importance: int = 4096
    n_seeds: int = 4
    n_random: int = 3
    n_samples: int = 256
    sample_steps: int = 100
    n_eval: int = 1024
    seed: int = 0

    def validate(self) -> "PruneConfig":
        _validate.choice("data", self.data, SEPARATION_DATA)
        _validate.integer("dim", self.dim, minimum=1, maximum=4096)
        _validate.integer("n_train", self.n_train, minimum=2, maximum=2**20)
        _validate.integer("n_components", self.n_components, minimum=2,
                          maximum=max(2, self.dim) if self.data == "mixture" else None)
        _validate.positive("sigma", self.sigma)
        _validate.positive("mtilde", self.mtilde)
        _validate.integer("width", self.width, minimum=1, maximum=4096)
        _validate.integer("depth", self.depth, minimum=1, maximum=64)
        _validate.integer("heads", self.heads, minimum=1, maximum=self.width)
        if self.width % self.heads:
            raise _validate.ConfigError(f"heads={self.heads} is out of range: expected a divisor of width={self.width}")
        if self.depth * self.heads < 2:
            raise _validate.ConfigError(
                f"heads={self.heads} is out of range: expected depth * heads >= 2 (depth={self.depth}) so that one head can go")
        _validate.integer("token_dim", self.token_dim, minimum=1, maximum=self.dim)
        if self.dim % self.token_dim:
            raise _validate.ConfigError(f"token_dim={self.token_dim} is out of range: expected a divisor of dim={self.dim}")
        _validate.integer("steps_per_dispatch", self.steps_per_dispatch, minimum=1, maximum=10**6)
        for name in ("steps", "finetune_steps"):
            v = _validate.integer(name, getattr(self, name), minimum=self.steps_per_dispatch, maximum=10**8)
            if v % self.steps_per_dispatch:
                raise _validate.ConfigError(
                    f"{name}={v} is out of range: expected a multiple of steps_per_dispatch={self.steps_per_dispatch}")
        _validate.integer("batch_size", self.batch_size, minimum=1, maximum=2**16)
        _validate.positive("learning_rate", self.learning_rate, upper=1.0)
        _validate.positive("finetune_learning_rate", self.finetune_learning_rate, upper=1.0)
        _validate.positive("t_max", self.t_max, upper=20.0)
        _validate.positive("t_min", self.t_min, upper=self.t_max)
        if self.t_min >= self.t_max:
            raise _validate.ConfigError(f"t_min={self.t_min} is out of range: expected t_min < t_max={self.t_max}")
        _validate.in_range("prune_fraction", self.prune_fraction, 0.0, 1.0, closed=False)
        _validate.positive("importance_a", self.importance_a, upper=100.0)
        _validate.positive("importance_b", self.importance_b, upper=100.0)
        _validate.in_range("importance_t_max", self.importance_t_max, self.t_min, self.t_max)
        if self.importance_t_max <= self.t_min:
            raise _validate.ConfigError(
                f"importance_t_max={self.importance_t_max} is out of range: expected a number in ({self.t_min}, {self.t_max}]")
        _validate.integer("n_importance", self.n_importance, minimum=1, maximum=2**20)
        _validate.integer("n_seeds", self.n_seeds, minimum=2, maximum=256)
        _validate.integer("n_random", self.n_random, minimum=1, maximum=64)
        _validate.integer("n_samples", self.n_samples, minimum=2, maximum=2**20)
        _validate.integer("sample_steps", self.sample_steps, minimum=2, maximum=10**5)
        _validate.integer("n_eval", self.n_eval, minimum=2, maximum=2**22)
        _validate.integer("seed", self.seed, minimum=0)
        tokens = self.dim // self.token_dim
        members = self.n_seeds * self.n_arms
        per_query = 4.0 * tokens * (12 * self.width + self.heads * tokens) * self.depth
        _validate.memory(
            f"pruning study ({members} networks of width {self.width}, {self.n_samples} samples, "
            f"{self.n_importance} importance draws)",
            members * per_query * max(self.batch_size * 4, self.n_samples, self.n_eval)
            + per_query * self.n_importance * 4 + 4.0 * members * 20 * self.width**2 * self.depth,
        )
        return self

    @property
    def n_arms(self) -> int:
        return 2 + self.n_random

    @property
    def n_pruned(self) -> int:
        return n_pruned_heads(self.depth, self.heads, self.prune_fraction)

    @property
    def arm_names(self) -> tuple[str, ...]:
        return ("none", "importance") + tuple(f"random_{r}" for r in range(self.n_random))


# ----------------------------------------------------------------------------- result


def _paired(a, b) -> dict:
    """Mean, stderr and 95% t interval of the per-seed differences ``a - b``."""
    d = np.asarray(a, float) - np.asarray(b, float)
    n = d.size
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    q = float(stats.t.ppf(0.975, n - 1)) if n > 1 else math.nan
    return {"value": mean, "stderr": finite_or_none(se), "low95": finite_or_none(mean - q * se),
            "high95": finite_or_none(mean + q * se), "n_seeds": n}


@dataclass(frozen=True)
class PruneResult:
    """The config, what :func:`diffsim.measure.measure_pruning` measured (``values[stage][quantity]``
    ``[n_seeds, n_arms]``, arms none, importance, random_0..; ``importance``, ``masks``, ``base``,
    ``sw_floor``) and the wall time."""

    config: PruneConfig
    measurement: PruningMeasurement
    seconds: float

    @property
    def definitions(self) -> dict:
        return dict(PRUNE_DEFINITIONS)

    def arm_values(self, stage: str, quantity: str) -> dict:
        """Per-seed values ``[n_seeds]`` of ``none``, ``importance`` and ``random`` (mean over draws)."""
        v = np.asarray(self.measurement.values[stage][quantity])
        return {"none": v[:, 0], "importance": v[:, 1], "random": v[:, 2:].mean(axis=1)}

    def differences(self, stage: str = "finetuned") -> list[dict]:
        """Paired differences per quantity: importance - none, random - none, importance - random."""
        out = []
        for q in PRUNE_QUANTITIES:
            arms = self.arm_values(stage, q)
            for a, b in (("importance", "none"), ("random", "none"), ("importance", "random")):
                out.append({"stage": stage, "quantity": q, "comparison": f"{a}-{b}", **_paired(arms[a], arms[b])})
        return out

    def verdict(self) -> dict:
        """The paper's direction after fine-tuning: importance pruning memorizes less than no pruning,
        and keeps quality better than random pruning (lower score error and sliced Wasserstein).
        ``*_mean``: the sign of the mean difference agrees; ``*_significant``: its 95% interval excludes 0."""
        d = {(r["quantity"], r["comparison"]): r for r in self.differences("finetuned")}
        out = {}
        for name, key in (("less_memorization_than_none", ("memorized_fraction", "importance-none")),
                          ("less_memorization_than_random", ("memorized_fraction", "importance-random")),
                          ("lower_score_error_than_random", ("score_error_true", "importance-random")),
                          ("lower_sw_than_random", ("sliced_wasserstein", "importance-random"))):
            r = d[key]
            out[f"{name}_mean"] = bool(r["value"] < 0)
            out[f"{name}_significant"] = bool(r["high95"] is not None and r["high95"] < 0)
        return out

    def summary(self) -> list[dict]:
        """Wide rows: per stage and arm (``none``, ``importance``, ``random``), the seed mean and stderr
        of every quantity; plus the trained (unpruned, not fine-tuned) networks as ``stage = "trained"``."""
        c = self.config
        base = {"data": c.data, "N": c.dim, "P": c.n_train, "n_pruned": c.n_pruned, "heads_total": c.depth * c.heads}
        rows = [{**base, "stage": "trained", "arm": "none",
                 **{k: v for q in PRUNE_QUANTITIES for k, v in zip((q, f"{q}_stderr"), _mean_se(self.measurement.base[q]))}}]
        for stage in ("pruned", "finetuned"):
            for arm in PRUNE_ARMS:
                row = {**base, "stage": stage, "arm": arm}
                for q in PRUNE_QUANTITIES:
                    row[q], row[f"{q}_stderr"] = _mean_se(self.arm_values(stage, q)[arm])
                rows.append(row)
        return rows

    def rows(self) -> list[dict]:
        """Tidy: ``N, P, t (None), stage, arm, quantity, value, stderr`` (+ ``low95, high95`` on the
        paired differences, ``arm = "a-b"``)."""
        c = self.config
        base = {"N": c.dim, "P": c.n_train, "t": None}
        out = []
        for row in self.summary():
            for q in PRUNE_QUANTITIES:
                out.append({**base, "stage": row["stage"], "arm": row["arm"], "quantity": q, "value": row[q],
                            "stderr": row[f"{q}_stderr"], "low95": None, "high95": None})
        for stage in ("pruned", "finetuned"):
            for d in self.differences(stage):
                out.append({**base, "stage": stage, "arm": d["comparison"], "quantity": f"diff_{d['quantity']}",
                            "value": d["value"], "stderr": d["stderr"], "low95": d["low95"], "high95": d["high95"]})
        out.append({**base, "stage": None, "arm": None, "quantity": "sw_floor", "value": self.measurement.sw_floor, "stderr": None,
                    "low95": None, "high95": None})
        return out

    def to_json(self) -> dict:
        return {"config": asdict(self.config), "rows": self.summary(),
                "differences": self.differences("pruned") + self.differences("finetuned"),
                "verdict": self.verdict(), "importance": np.asarray(self.measurement.importance).tolist(),
                "masks": np.asarray(self.measurement.masks).tolist(), "sw_floor": self.measurement.sw_floor,
                "train_loss_final": [float(v) for v in np.asarray(self.measurement.train_loss)],
                "definitions": self.definitions, "seconds": self.seconds}


def _mean_se(values) -> tuple[float | None, float | None]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None, None
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else None)


# ----------------------------------------------------------------------------- run


def _data_model(config: PruneConfig):
    spec = DataSpec(model=config.data, dim=config.dim, n_train=config.n_train, sigma=config.sigma, mtilde=config.mtilde)
    return loss_gap_model(spec, config.n_components)[0]


@register_study("separation_pruning", PruneConfig,
                description="importance vs random vs no head pruning of a trained transformer: memorized fraction, "
                "quality",
                page="separation")
def run_prune(config: PruneConfig, key=None, *, progress=None) -> PruneResult:
    """Draw one training set per seed (``fold_in(key, 1)``) and :func:`diffsim.measure.measure_pruning`
    (``key``; see there for its sub-keys); ``key`` defaults to ``PRNGKey(config.seed)``."""
    config.validate()
    start = time.time()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    c = config
    model = _data_model(config)
    train_sets = [TrainingSet.from_points(jnp.asarray(model.sample(k, c.n_train), jnp.float32))
                  for k in jax.random.split(jax.random.fold_in(key, 1), c.n_seeds)]
    res = measure_pruning(
        key, train_sets, model, width=c.width, depth=c.depth, heads=c.heads, token_dim=c.token_dim, steps=c.steps,
        finetune_steps=c.finetune_steps, batch_size=c.batch_size, learning_rate=c.learning_rate,
        finetune_learning_rate=c.finetune_learning_rate, steps_per_dispatch=c.steps_per_dispatch, t_min=c.t_min,
        t_max=c.t_max, prune_fraction=c.prune_fraction, importance_a=c.importance_a, importance_b=c.importance_b,
        importance_t_max=c.importance_t_max, n_importance=c.n_importance, n_random=c.n_random,
        n_samples=c.n_samples, sample_steps=c.sample_steps, n_eval=c.n_eval)
    if callable(progress):
        progress(f"P={c.n_train}: trained {c.n_seeds} networks ({res.train_seconds:.0f}s), pruned {c.n_pruned}/"
                 f"{c.depth * c.heads} heads, fine-tuned {c.n_seeds * c.n_arms} networks ({time.time() - start:.0f}s in all)")
    return PruneResult(config, res, time.time() - start)


# ----------------------------------------------------------------------------- table


def prune_table(results: list[PruneResult]) -> str:
    """Human-readable summary: per P the seed means per stage and arm, the paired differences after
    fine-tuning with their 95% intervals, and the verdict on the paper's direction."""
    def f(v, spec=".3f"):
        return "-" if v is None else format(v, spec)

    c0 = results[0].config
    lines = [f"Pruning mitigation: {c0.data} data, N = {c0.dim}, transformer {c0.depth} layers x {c0.heads} heads "
             f"(width {c0.width}), {c0.steps} training steps, remove {c0.n_pruned} heads "
             f"(fraction {c0.prune_fraction:g}), fine-tune {c0.finetune_steps} steps (lr {c0.finetune_learning_rate:g}); "
             f"{c0.n_seeds} seeds, {c0.n_random} random draws; importance |dL/dm * m| at t = {c0.t_min:g} + "
             f"({c0.importance_t_max:g} - {c0.t_min:g}) Beta({c0.importance_a:g}, {c0.importance_b:g}) (our clock)"]
    head = f"{'P':>5} {'stage':>9} {'arm':>10} {'memorized':>15} {'score error':>15} {'sliced_W2':>15}"
    for r in results:
        lines += ["", head, "-" * len(head)]
        for row in r.summary():
            lines.append(f"{row['P']:>5} {row['stage']:>9} {row['arm']:>10} "
                         + " ".join(f"{f(row[q]):>7} ± {f(row[q + '_stderr']):<5}" for q in PRUNE_QUANTITIES))
        lines.append(f"sliced W2 floor (two true samples): {r.measurement.sw_floor:.3f}")
        lines.append("paired differences after fine-tuning (mean ± stderr [95% interval]):")
        for d in r.differences("finetuned"):
            lines.append(f"  {d['quantity']:>18} {d['comparison']:>18}: {f(d['value'], '+.4f')} ± {f(d['stderr'], '.4f')} "
                         f"[{f(d['low95'], '+.4f')}, {f(d['high95'], '+.4f')}]")
        v = r.verdict()
        lines.append("paper's direction (mean / significant): " + ", ".join(
            f"{k}: {v[k + '_mean']}/{v[k + '_significant']}" for k in
            ("less_memorization_than_none", "less_memorization_than_random", "lower_score_error_than_random",
             "lower_sw_than_random")) + f"  ({r.seconds:.0f}s)")
    return "\n".join(lines)
