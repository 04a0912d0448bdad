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
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import asdict, dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from scipy import stats

from diffsim import _validate
from diffsim.data import DataName
from diffsim.metrics import sliced_wasserstein
from diffsim.nets import HeadMask, ModelConfig, TrainConfig, TrainState, train, train_steps
from diffsim.nets.train import make_optimizer
from diffsim.observe import memorized
from diffsim.process import delta, m, time_grid
from diffsim.results import finite_or_none
from diffsim.score import TrainingSet
from diffsim.specs import DataSpec
from diffsim.studies.separation import SEPARATION_DATA, loss_gap_model

__all__ = [
    "PruneConfig", "PruneResult", "run_prune", "prune_table", "head_masks", "set_head_masks",
    "head_importance", "lowest_heads", "n_pruned_heads", "PRUNE_ARMS", "PRUNE_QUANTITIES", "PRUNE_DEFINITIONS",
]

PRUNE_QUANTITIES = ("memorized_fraction", "score_error_true", "sliced_wasserstein")
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


def n_pruned_heads(depth: int, heads: int, fraction: float) -> int:
    """``max(1, ceil(fraction * depth * heads))`` (tolerant to float rounding), at most all but one."""
    total = depth * heads
    return int(min(total - 1, max(1, math.ceil(fraction * total - 1e-9))))


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


# ----------------------------------------------------------------------------- head masks


def head_masks(model) -> jax.Array:
    """``[depth, heads]`` head masks of a :class:`~diffsim.nets.TransformerDenoiser`."""
    return jnp.stack([layer.head_mask[...] for layer in model.layers])


def set_head_masks(model, masks):
    """Replace the model's :class:`~diffsim.nets.HeadMask` variables by ``masks [depth, heads]``
    (in place); returns the model."""

    for i, layer in enumerate(model.layers):  # a new variable: works on a model merged inside a trace
        layer.head_mask = HeadMask(jnp.asarray(masks[i], layer.head_mask[...].dtype))
    return model


def _dsm(model, a, t, xi):
    x = m(t)[:, None] * a + jnp.sqrt(delta(t))[:, None] * xi
    return jnp.mean(jnp.sum(jnp.square(model.predict_noise(x, t) - xi), axis=-1))


def head_importance(model, a, t, xi) -> jax.Array:
    """First-order Taylor importance ``|dL/dm * m|`` ``[depth, heads]`` of every head: ``L`` is the
    DSM loss (noise units, ``mean |eps_hat - xi|^2``) on the draws ``a, xi [B, N]``, ``t [B]``;
    ``-dL/dm * m`` is the first-order loss change when the head's mask goes from ``m`` to 0."""
    graphdef, state = nnx.split(model)
    masks = head_masks(model)

    def loss(mk):
        return _dsm(set_head_masks(nnx.merge(graphdef, state), mk), a, t, xi)

    return jnp.abs(jax.grad(loss)(masks) * masks)


def lowest_heads(importance, n: int) -> jax.Array:
    """Mask ``[depth, heads]`` with the ``n`` lowest-importance heads set to 0 (ties: lowest index)."""
    flat = jnp.ravel(importance)
    order = jnp.argsort(flat, stable=True)
    return jnp.ones_like(flat).at[order[:n]].set(0.0).reshape(importance.shape)


def _random_mask(key, shape, n: int) -> jax.Array:
    total = shape[0] * shape[1]
    picked = jax.random.permutation(key, total)[:n]
    return jnp.ones((total,)).at[picked].set(0.0).reshape(shape)


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
    """``values[stage][quantity]``: ``[n_seeds, n_arms]`` (arms in ``config.arm_names``);
    ``importance [n_seeds, depth, heads]``; ``masks [n_seeds, n_arms, depth, heads]``;
    ``base``: quantities of the trained, unpruned networks ``[n_seeds]``; ``sw_floor``."""

    config: PruneConfig
    importance: np.ndarray
    masks: np.ndarray
    base: dict
    values: dict
    sw_floor: float
    train_loss: np.ndarray
    seconds: float

    @property
    def definitions(self) -> dict:
        return dict(PRUNE_DEFINITIONS)

    def arm_values(self, stage: str, quantity: str) -> dict:
        """Per-seed values ``[n_seeds]`` of ``none``, ``importance`` and ``random`` (mean over draws)."""
        v = np.asarray(self.values[stage][quantity])
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
                 **{k: v for q in PRUNE_QUANTITIES for k, v in zip((q, f"{q}_stderr"), _mean_se(self.base[q]))}}]
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
        out.append({**base, "stage": None, "arm": None, "quantity": "sw_floor", "value": self.sw_floor, "stderr": None,
                    "low95": None, "high95": None})
        return out

    def to_json(self) -> dict:
        return {"config": asdict(self.config), "rows": self.summary(),
                "differences": self.differences("pruned") + self.differences("finetuned"),
                "verdict": self.verdict(), "importance": np.asarray(self.importance).tolist(),
                "masks": np.asarray(self.masks).tolist(), "sw_floor": self.sw_floor,
                "train_loss_final": [float(v) for v in np.asarray(self.train_loss)],
                "definitions": self.definitions, "seconds": self.seconds}


def _mean_se(values) -> tuple[float | None, float | None]:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None, None
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else None)


# ----------------------------------------------------------------------------- run


@partial(jax.jit, static_argnames=("graphdef",))
def _importances(graphdef, params, rest, a, t, xi):
    """``[S, depth, heads]`` importance of every member on its own draws (leading ``[S]``)."""
    return jax.vmap(lambda p, r, aa, tt, x: head_importance(nnx.merge(graphdef, p, r), aa, tt, x))(params, rest, a, t, xi)


@partial(jax.jit, static_argnames=("graphdef",))
def _with_masks(graphdef, params, rest, masks):
    """``rest`` of every member with its head masks replaced by ``masks [M, depth, heads]``."""

    def one(p, r, mk):
        return nnx.split(set_head_masks(nnx.merge(graphdef, p, r), mk), nnx.Param, ...)[2]

    return jax.vmap(one)(params, rest, masks)


@partial(jax.jit, static_argnames=("graphdef",))
def _evaluate(graphdef, params, rest, key, x_init, times, x_eval, t_eval, eps_true):
    """Samples ``[M, B, N]`` (backward EM on ``times`` then a Tweedie step; shared noise) and score
    errors ``[M]`` of every member."""

    def one(p, r):
        net = nnx.merge(graphdef, p, r)

        def step(x, args):
            t, t_next, k = args
            h = t - t_next
            return x + h * (x + 2.0 * net.score(x, t)) + jnp.sqrt(2.0 * h) * jax.random.normal(k, x.shape), None

        ks = jax.random.split(key, times.shape[0] - 1)
        x, _ = jax.lax.scan(step, x_init, (times[:-1], times[1:], ks))
        x0 = (x + delta(times[-1]) * net.score(x, times[-1])) / m(times[-1])
        err = jnp.mean(jnp.sum(jnp.square(net.predict_noise(x_eval, t_eval) - eps_true), -1)) / x_eval.shape[-1]
        return x0, err

    return jax.vmap(one)(params, rest)


def _data_model(config: PruneConfig):
    spec = DataSpec(model=config.data, dim=config.dim, n_train=config.n_train, sigma=config.sigma, mtilde=config.mtilde)
    return loss_gap_model(spec, config.n_components)[0]


def _log_sigma_times(key, n, t_min, t_max):
    lo, hi = 0.5 * math.log(math.expm1(2 * t_min)), 0.5 * math.log(math.expm1(2 * t_max))
    u = jax.random.uniform(key, (n,), jnp.float32, lo, hi)
    return 0.5 * jnp.log1p(jnp.exp(2.0 * u))


def run_prune(config: PruneConfig, key=None, *, progress=None) -> PruneResult:
    """Train, score heads, prune (importance / random / none), fine-tune, measure (module docstring).

    Keys (from ``key``, default ``PRNGKey(config.seed)``): training sets ``fold_in(key, 1)`` (one per
    seed), network and training noise ``fold_in(key, 2)``, importance draws ``fold_in(key, 3)``,
    random masks ``fold_in(key, 4)``, fine-tuning noise ``fold_in(key, 5)`` (shared by the arms of a
    seed), evaluation ``fold_in(key, 6)``.
    """

    config.validate()
    start = time.time()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    c, s, n = config, config.n_seeds, config.dim
    model = _data_model(config)
    points = jnp.stack([jnp.asarray(model.sample(k, c.n_train), jnp.float32)
                        for k in jax.random.split(jax.random.fold_in(key, 1), s)])  # [S, P, N]
    mc = ModelConfig(architecture="transformer", width=c.width, depth=c.depth, heads=c.heads, token_dim=c.token_dim,
                     parameterisation="edm", data_variance=float(np.mean(model.covariance_spectrum())))
    tc = TrainConfig(steps=c.steps, batch_size=c.batch_size, learning_rate=c.learning_rate, time_law="log_sigma",
                     t_min=c.t_min, t_max=c.t_max, steps_per_dispatch=c.steps_per_dispatch, n_checkpoints=1)
    trained = train(mc, tc, points, jax.random.split(jax.random.fold_in(key, 2), s))
    graphdef, params, rest = trained.graphdef, trained.state.params, trained.state.rest

    # importance on small-t draws of each seed's own training set
    ki = jax.random.split(jax.random.fold_in(key, 3), 3)
    idx = jax.random.randint(ki[0], (s, c.n_importance), 0, c.n_train)
    a_imp = jnp.take_along_axis(points, idx[..., None], axis=1)
    t_imp = c.t_min + (c.importance_t_max - c.t_min) * jax.random.beta(ki[1], c.importance_a, c.importance_b,
                                                                          (s, c.n_importance), jnp.float32)
    xi_imp = jax.random.normal(ki[2], a_imp.shape)
    importance = _importances(graphdef, params, rest, a_imp, t_imp, xi_imp)  # [S, L, H]

    shape = (c.depth, c.heads)
    kr = jax.random.fold_in(key, 4)
    masks = jnp.stack([
        jnp.stack([jnp.ones(shape), lowest_heads(importance[i], c.n_pruned)]
                  + [_random_mask(jax.random.fold_in(jax.random.fold_in(kr, i), r), shape, c.n_pruned)
                     for r in range(c.n_random)])
        for i in range(s)])  # [S, A, L, H]
    a_n = c.n_arms
    rep = lambda tree: jax.tree_util.tree_map(lambda x: jnp.repeat(x, a_n, axis=0), tree)  # seed-major [S*A]
    params_m = rep(params)
    rest_m = _with_masks(graphdef, params_m, rep(rest), masks.reshape((s * a_n,) + shape))
    points_m = jnp.repeat(points, a_n, axis=0)

    # evaluation inputs shared by every network
    ke = jax.random.fold_in(key, 6)
    k_eval = jax.random.split(ke, 6)
    sample_times = jnp.asarray(time_grid(c.t_max, c.t_min, c.sample_steps, "log"), jnp.float32)
    x_init = jax.random.normal(k_eval[0], (c.n_samples, n))
    a_eval = jnp.asarray(model.sample(k_eval[1], c.n_eval), jnp.float32)
    t_eval = _log_sigma_times(k_eval[2], c.n_eval, c.t_min, c.t_max)
    x_eval = m(t_eval)[:, None] * a_eval + jnp.sqrt(delta(t_eval))[:, None] * jax.random.normal(k_eval[3], a_eval.shape)
    eps_true = -jnp.sqrt(delta(t_eval))[:, None] * model.score(x_eval, t_eval)
    fresh = jnp.asarray(model.sample(k_eval[4], c.n_samples), jnp.float32)
    fresh2 = jnp.asarray(model.sample(jax.random.fold_in(k_eval[4], 1), c.n_samples), jnp.float32)
    k_sw = k_eval[5]
    sw_floor = float(sliced_wasserstein(k_sw, fresh2, fresh))
    train_sets = [TrainingSet.from_points(points[i]) for i in range(s)]

    def measure(p, r, seeds):
        x0, err = _evaluate(graphdef, p, r, jax.random.fold_in(ke, 7), x_init, sample_times, x_eval, t_eval, eps_true)
        mem = np.array([float(jnp.mean(memorized(x0[j], train_sets[seeds[j]]))) for j in range(x0.shape[0])])
        sw = np.array([float(sliced_wasserstein(k_sw, x0[j], fresh)) for j in range(x0.shape[0])])
        return {"memorized_fraction": mem, "score_error_true": np.asarray(err, float), "sliced_wasserstein": sw}

    member_seed = [i for i in range(s) for _ in range(a_n)]
    base = measure(params, rest, list(range(s)))
    values = {"pruned": {q: v.reshape(s, a_n) for q, v in measure(params_m, rest_m, member_seed).items()}}

    # fine-tune every arm with a fresh Adam state; the arms of one seed share the training draws
    ft = TrainConfig(steps=c.finetune_steps, batch_size=c.batch_size, learning_rate=c.finetune_learning_rate,
                     time_law="log_sigma", t_min=c.t_min, t_max=c.t_max, steps_per_dispatch=c.steps_per_dispatch,
                     n_checkpoints=1).validate()
    tx = make_optimizer(ft)
    ft_keys = jnp.repeat(jax.random.split(jax.random.fold_in(key, 5), s), a_n, axis=0)
    state = TrainState(jnp.zeros((s * a_n,), jnp.int32), params_m, rest_m, jax.vmap(tx.init)(params_m),
                       jax.tree_util.tree_map(jnp.copy, params_m), ft_keys)  # ema: a copy (donated buffers)
    n_real = jnp.full((s * a_n,), c.n_train, jnp.int32)
    losses = []
    compiled = dataclasses.replace(ft, steps=ft.steps_per_dispatch)
    for _ in range(c.finetune_steps // c.steps_per_dispatch):
        state, chunk = train_steps(state, points_m, n_real, graphdef=graphdef, config=compiled)
        losses.append(np.asarray(jnp.mean(chunk, axis=1)))
    values["finetuned"] = {q: v.reshape(s, a_n) for q, v in measure(state.params, state.rest, member_seed).items()}
    if callable(progress):
        progress(f"P={c.n_train}: trained {s} networks ({trained.seconds:.0f}s), pruned {c.n_pruned}/"
                 f"{c.depth * c.heads} heads, fine-tuned {s * a_n} networks ({time.time() - start:.0f}s in all)")
    return PruneResult(config=config, importance=np.asarray(importance), masks=np.asarray(masks), base=base,
                       values=values, sw_floor=sw_floor, train_loss=losses[-1] if losses else np.zeros(0),
                       seconds=time.time() - start)


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
        lines.append(f"sliced W2 floor (two true samples): {r.sw_floor:.3f}")
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
