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
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from diffsim import _validate
from diffsim.measure.pruning import (PRUNE_QUANTITIES, PruningMeasurement, PruningOptions, check_importance_times,
                                    measure_pruning, n_pruned_heads)
from diffsim.nets.models import ModelConfig
from diffsim.nets.train import TrainConfig
from diffsim.results import finite_or_none
from diffsim.score import TrainingSet
from diffsim.specs import DataSpec, config_json, validate_parts
from diffsim.studies._common import check_passed_on
from diffsim.studies.separation import SEPARATION_DATA, loss_gap_model
from diffsim.studies._registry import register_study

__all__ = ["PruneConfig", "PruneResult", "run_prune", "prune_table", "PRUNE_ARMS", "PRUNE_QUANTITIES", "PRUNE_DEFINITIONS",
           "PASSED_ON"]

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


PASSED_ON = {"net": ("width", "depth", "heads", "token_dim"),
             "train": ("steps", "batch_size", "learning_rate", "steps_per_dispatch", "t_min", "t_max")}
"""The fields of the shared parts that :func:`run_prune` passes to :func:`measure_pruning`; the others
keep the defaults below (a transformer in the ``edm`` parameterisation, Adam, the log-sigma law)."""


@dataclass(frozen=True)
class PruneConfig:
    """One point of the pruning study: data model, N, P, network, budgets, seeds.

    Attributes:
        data: data model with an exact score: gaussian (isotropic), mixture or hmm (linear), N and
            P (data.n_train); mixture: data.mtilde sets |v|^2 = N mtilde^2 (two clusters) or the
            means mtilde sqrt(N) e_k.
        n_components: mixture: number of clusters K (at most N; K > 2: means mtilde sqrt(N) e_k).
        net: the transformer (edm parameterisation): width, layers (depth), heads per layer (a
            divisor of width; depth * heads >= 2) and token_dim (a divisor of N).
        train: training by DSM: Adam steps (a multiple of steps_per_dispatch), minibatch (also of
            the fine-tune), learning rate, and the range [t_min, t_max] of the log-sigma law, also
            of the evaluation and the sampler.
        finetune_steps: fine-tuning steps of every arm (a multiple of train.steps_per_dispatch).
        finetune_learning_rate: fine-tuning learning rate.
        measure: the options of measure_pruning (pruned fraction, importance draws, random
            prunings, samples, sampler steps, score-error draws).
        n_seeds: networks (training set, initialisation, training noise) per point.
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="mixture", dim=8, n_train=16, mtilde=2.0)
    n_components: int = 2
    net: ModelConfig = ModelConfig(architecture="transformer", width=40, depth=2, heads=5, token_dim=1,
                                   parameterisation="edm")
    train: TrainConfig = TrainConfig(steps=3000, batch_size=128, learning_rate=1e-3, time_law="log_sigma", t_min=1e-2,
                                     t_max=5.0, steps_per_dispatch=100, n_checkpoints=1)
    finetune_steps: int = 500
    finetune_learning_rate: float = 3e-4
    measure: PruningOptions = PruningOptions()
    n_seeds: int = 4
    seed: int = 0

    def validate(self) -> "PruneConfig":
        validate_parts(self)
        d, net, tc, m = self.data, self.net, self.train, self.measure
        _validate.choice("data.model", d.model, SEPARATION_DATA)
        if d.model == "hmm":
            _validate.choice("data.nonlinearity", d.nonlinearity, ("linear",))
        _validate.integer("data.dim", d.dim, minimum=1, maximum=4096)
        _validate.integer("data.n_train", d.n_points, minimum=2, maximum=2**20)
        _validate.integer("n_components", self.n_components, minimum=2,
                          maximum=max(2, d.dim) if d.model == "mixture" else None)
        check_passed_on(self, PASSED_ON)
        _validate.integer("net.width", net.width, minimum=1, maximum=4096)
        if net.depth * net.heads < 2:
            raise _validate.ConfigError(
                f"net.heads={net.heads} is out of range: expected depth * heads >= 2 (depth={net.depth}) so that one head can go")
        _validate.integer("net.token_dim", net.token_dim, minimum=1, maximum=d.dim)
        if d.dim % net.token_dim:
            raise _validate.ConfigError(f"net.token_dim={net.token_dim} is out of range: expected a divisor of data.dim={d.dim}")
        v = _validate.integer("finetune_steps", self.finetune_steps, minimum=tc.steps_per_dispatch, maximum=10**8)
        if v % tc.steps_per_dispatch:
            raise _validate.ConfigError(
                f"finetune_steps={v} is out of range: expected a multiple of train.steps_per_dispatch={tc.steps_per_dispatch}")
        _validate.positive("finetune_learning_rate", self.finetune_learning_rate, upper=1.0)
        check_importance_times(m.importance_t_max, tc.t_min, tc.t_max, name="measure.importance_t_max")
        _validate.integer("n_seeds", self.n_seeds, minimum=2, maximum=256)
        _validate.integer("seed", self.seed, minimum=0)
        tokens = d.dim // net.token_dim
        members = self.n_seeds * self.n_arms
        per_query = 4.0 * tokens * (12 * net.width + net.heads * tokens) * net.depth
        _validate.memory(
            f"pruning study ({members} networks of width {net.width}, {m.n_samples} samples, "
            f"{m.n_importance} importance draws)",
            members * per_query * max(tc.batch_size * 4, m.n_samples, m.n_eval)
            + per_query * m.n_importance * 4 + 4.0 * members * 20 * net.width**2 * net.depth,
        )
        return self

    @property
    def n_arms(self) -> int:
        return 2 + self.measure.n_random

    @property
    def n_pruned(self) -> int:
        return n_pruned_heads(self.net.depth, self.net.heads, self.measure.prune_fraction)


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
        base = {"data": c.data.model, "N": c.data.dim, "P": c.data.n_points, "n_pruned": c.n_pruned,
                "heads_total": c.net.depth * c.net.heads}
        rows = [{**base, "stage": "trained", "arm": "none",
                 **{k: v for q in PRUNE_QUANTITIES for k, v in zip((q, f"{q}_stderr"), _mean_se(self.measurement.base[q]))}}]
        for stage in ("pruned", "finetuned"):
            for arm in PRUNE_ARMS:
                row: dict[str, Any] = {**base, "stage": stage, "arm": arm}
                for q in PRUNE_QUANTITIES:
                    row[q], row[f"{q}_stderr"] = _mean_se(self.arm_values(stage, q)[arm])
                rows.append(row)
        return rows

    def rows(self) -> list[dict]:
        """Tidy: ``N, P, t (None), stage, arm, quantity, value, stderr`` (+ ``low95, high95`` on the
        paired differences, ``arm = "a-b"``)."""
        c = self.config
        base = {"N": c.data.dim, "P": c.data.n_points, "t": None}
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
        return {"config": config_json(self.config), "rows": self.summary(),
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
    c, p = config, config.data.n_points
    model = loss_gap_model(c.data, c.n_components)[0]
    train_sets = [TrainingSet.from_points(jnp.asarray(model.sample(k, p), jnp.float32))
                  for k in jax.random.split(jax.random.fold_in(key, 1), c.n_seeds)]
    parts = {name: getattr(getattr(c, part), name) for part, names in PASSED_ON.items() for name in names}
    res = measure_pruning(key, train_sets, model, **parts, finetune_steps=c.finetune_steps,
                          finetune_learning_rate=c.finetune_learning_rate, **c.measure.as_kwargs())
    if callable(progress):
        progress(f"P={p}: trained {c.n_seeds} networks ({res.train_seconds:.0f}s), pruned {c.n_pruned}/"
                 f"{c.net.depth * c.net.heads} heads, fine-tuned {c.n_seeds * c.n_arms} networks ({time.time() - start:.0f}s in all)")
    return PruneResult(config, res, time.time() - start)


# ----------------------------------------------------------------------------- table


def prune_table(results: list[PruneResult]) -> str:
    """Human-readable summary: per P the seed means per stage and arm, the paired differences after
    fine-tuning with their 95% intervals, and the verdict on the paper's direction."""
    def f(v, spec=".3f"):
        return "-" if v is None else format(v, spec)

    c0 = results[0].config
    net, m, t_min = c0.net, c0.measure, c0.train.t_min
    lines = [f"Pruning mitigation: {c0.data.model} data, N = {c0.data.dim}, transformer {net.depth} layers x {net.heads} heads "
             f"(width {net.width}), {c0.train.steps} training steps, remove {c0.n_pruned} heads "
             f"(fraction {m.prune_fraction:g}), fine-tune {c0.finetune_steps} steps (lr {c0.finetune_learning_rate:g}); "
             f"{c0.n_seeds} seeds, {m.n_random} random draws; importance |dL/dm * m| at t = {t_min:g} + "
             f"({m.importance_t_max:g} - {t_min:g}) Beta({m.importance_a:g}, {m.importance_b:g}) (our clock)"]
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
