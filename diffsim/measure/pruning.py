"""Pruning mitigation of memorization (Ye, Zhu, Tao, Chen; THEORY.md section 10) on any training sets.

:func:`measure_pruning` trains a transformer denoiser (:class:`diffsim.nets.TransformerDenoiser`,
``depth`` layers of ``heads`` maskable heads) by DSM on each of S training sets (one vmapped
ensemble, :func:`diffsim.nets.train`), then per seed:

* **importance** of head ``(l, h)`` (:func:`head_importance`): the first-order Taylor estimate
  ``I_lh = |dL/dm_lh * m_lh|`` of the DSM-loss change when the head's mask ``m_lh``
  (:class:`diffsim.nets.HeadMask`, 1 = kept) goes to 0, ``L`` averaged over ``n_importance`` draws
  of a training point, noise and a small time ``t = t_min + (importance_t_max - t_min) u``,
  ``u ~ Beta(importance_a, importance_b)``;
* **arms**: ``none``, ``importance`` (remove the ``n_pruned`` lowest-importance heads) and
  ``n_random`` uniform draws of ``n_pruned`` heads; every arm is then fine-tuned
  ``finetune_steps`` Adam steps (fresh optimiser state, the same draws across the arms of a seed;
  :func:`diffsim.nets.fit`);
* **measured** on every network before (``pruned``) and after (``finetuned``) the fine-tune:
  memorized fraction (1/3 rule against the seed's training set) of ``n_samples`` generated points
  (backward Euler-Maruyama on a log grid ``t_max -> t_min`` then one Tweedie step,
  :func:`diffsim.measure.separation_size.tweedie_samples`; shared initial points and noise), the
  score error to the true score ``E |eps_hat - eps_true|^2 / N`` on fresh noised data (log-sigma
  times on ``[t_min, t_max]``), and the sliced Wasserstein distance to ``n_samples`` fresh true
  samples (with the floor: two independent true samples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from diffsim import _validate
from diffsim.measure.separation_size import tweedie_samples
from diffsim.process import log_sigma_times
from diffsim.metrics import sliced_wasserstein
from diffsim.nets import DSM, HeadMask, LearnedScore, ModelConfig, TrainConfig, TrainState, dsm_loss, fit, train
from diffsim.nets.train import make_optimizer
from diffsim.observe import memorized
from diffsim.process import delta, m, time_grid
from diffsim.score import TrainingSet
from diffsim.specs import Options, options_of

__all__ = [
    "PruningMeasurement", "PruningOptions", "check_pruning_options", "check_importance_times", "measure_pruning", "head_masks", "set_head_masks", "with_head_masks", "head_importance",
    "lowest_heads", "n_pruned_heads", "PRUNE_QUANTITIES",
]

PRUNE_QUANTITIES = ("memorized_fraction", "score_error_true", "sliced_wasserstein")


def n_pruned_heads(depth: int, heads: int, fraction: float) -> int:
    """``max(1, ceil(fraction * depth * heads))`` (tolerant to float rounding), at most all but one."""
    total = depth * heads
    return int(min(total - 1, max(1, math.ceil(fraction * total - 1e-9))))


def head_masks(model) -> jax.Array:
    """``[depth, heads]`` head masks of a :class:`~diffsim.nets.TransformerDenoiser`."""
    return jnp.stack([layer.head_mask[...] for layer in model.layers])


def set_head_masks(model, masks):
    """Replace the model's :class:`~diffsim.nets.HeadMask` variables by ``masks [depth, heads]``
    (in place); returns the model."""
    for i, layer in enumerate(model.layers):  # a new variable: works on a model merged inside a trace
        layer.head_mask = HeadMask(jnp.asarray(masks[i], layer.head_mask[...].dtype))
    return model


def head_importance(model, a, t, xi) -> jax.Array:
    """First-order Taylor importance ``|dL/dm * m|`` ``[depth, heads]`` of every head: ``L`` is the
    DSM loss (noise units, ``mean |eps_hat - xi|^2``, :func:`diffsim.nets.dsm_loss`) on the draws
    ``a, xi [B, N]``, ``t [B]``; ``-dL/dm * m`` is the first-order loss change when the head's mask
    goes from ``m`` to 0."""
    graphdef, state = nnx.split(model)
    masks = head_masks(model)

    def loss(mk):
        return dsm_loss(set_head_masks(nnx.merge(graphdef, state), mk), a, t, xi)

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


@partial(jax.jit, static_argnames=("graphdef",))
def _importances(graphdef, params, rest, a, t, xi):
    """``[S, depth, heads]`` importance of every member on its own draws (leading ``[S]``)."""
    return jax.vmap(lambda p, r, aa, tt, x: head_importance(nnx.merge(graphdef, p, r), aa, tt, x))(params, rest, a, t, xi)


@partial(jax.jit, static_argnames=("graphdef",))
def with_head_masks(graphdef, params, rest, masks):
    """``rest`` of every member (leading ``[M]``) with its head masks replaced by ``masks [M, depth, heads]``."""

    def one(p, r, mk):
        return nnx.split(set_head_masks(nnx.merge(graphdef, p, r), mk), nnx.Param, ...)[2]  # type: ignore[misc]  # two filters: three parts

    return jax.vmap(one)(params, rest, masks)


@partial(jax.jit, static_argnames=("graphdef",))
def _evaluate(graphdef, params, rest, key, x_init, times, x_eval, t_eval, eps_true):
    """Samples ``[M, B, N]`` (:func:`tweedie_samples`, shared noise) and score errors ``[M]`` of every member."""

    def one(p, r):
        drift = LearnedScore(nnx.merge_state(p, r), graphdef)
        x0 = tweedie_samples(key, drift, x_init, times)
        err = jnp.mean(jnp.sum(jnp.square(drift.predict_noise(x_eval, t_eval) - eps_true), -1)) / x_eval.shape[-1]
        return x0, err

    return jax.vmap(one)(params, rest)


@dataclass(frozen=True)
class PruningMeasurement:
    """What :func:`measure_pruning` measured.

    Attributes:
      n_pruned: heads removed by every pruned arm.
      importance: ``[S, depth, heads]`` head importances. masks: ``[S, A, depth, heads]`` (arms
        none, importance, random_0..).
      base: quantity -> ``[S]`` values of the trained, unpruned networks.
      values: stage (``pruned``, ``finetuned``) -> quantity -> ``[S, A]``.
      sw_floor: sliced Wasserstein distance between two fresh true samples.
      train_loss: ``[S * A]`` mean fine-tuning loss of the last dispatch.
      train_seconds: wall time of the training.
    """

    n_pruned: int
    importance: np.ndarray
    masks: np.ndarray
    base: dict
    values: dict
    sw_floor: float
    train_loss: np.ndarray
    train_seconds: float


def check_pruning_options(*, prune_fraction, importance_a, importance_b, importance_t_max, n_importance, n_random,
                          n_samples, sample_steps, n_eval) -> None:
    """Range checks of :func:`measure_pruning`'s options (one :class:`~diffsim.ConfigError` naming
    the first bad option and its range), for the API and for configs before any work; the window
    of the importance times is :func:`check_importance_times`."""
    _validate.in_range("prune_fraction", prune_fraction, 0.0, 1.0, closed=False)
    _validate.positive("importance_a", importance_a, upper=100.0)
    _validate.positive("importance_b", importance_b, upper=100.0)
    _validate.positive("importance_t_max", importance_t_max, upper=50.0)
    _validate.integer("n_importance", n_importance, minimum=1, maximum=2**20)
    _validate.integer("n_random", n_random, minimum=1, maximum=64)
    _validate.integer("n_samples", n_samples, minimum=2, maximum=2**20)
    _validate.integer("sample_steps", sample_steps, minimum=2, maximum=10**5)
    _validate.integer("n_eval", n_eval, minimum=2, maximum=2**22)


def check_importance_times(importance_t_max: float, t_min: float, t_max: float, *, name: str = "importance_t_max") -> None:
    """``importance_t_max`` in ``(t_min, t_max]``: the importance times lie inside the training range."""
    _validate.in_range(name, importance_t_max, t_min, t_max)
    if importance_t_max <= t_min:
        raise _validate.ConfigError(f"{name}={importance_t_max} is out of range: expected a number in ({t_min}, {t_max}]")


def measure_pruning(
    key,
    train_sets: Sequence[TrainingSet],
    true_model,
    *,
    width: int = 40,
    depth: int = 2,
    heads: int = 5,
    token_dim: int = 1,
    steps: int = 3000,
    finetune_steps: int = 500,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    finetune_learning_rate: float = 3e-4,
    steps_per_dispatch: int = 100,
    t_min: float = 1e-2,
    t_max: float = 5.0,
    prune_fraction: float = 0.2,
    importance_a: float = 0.8,
    importance_b: float = 2.0,
    importance_t_max: float = 1.0,
    n_importance: int = 4096,
    n_random: int = 3,
    n_samples: int = 256,
    sample_steps: int = 100,
    n_eval: int = 1024,
) -> PruningMeasurement:
    """Train, score heads, prune (importance / random / none), fine-tune, measure (module docstring).

    Args:
      key: PRNG key. Network and training noise ``fold_in(key, 2)``, importance draws
        ``fold_in(key, 3)``, random masks ``fold_in(key, 4)``, fine-tuning noise ``fold_in(key, 5)``
        (shared by the arms of a seed), evaluation ``fold_in(key, 6)``.
      train_sets: one training set per seed (S >= 2, the same P and N).
      true_model: the data model (fresh samples, true score, data variance of the network).
      width: transformer model width.
      depth: transformer layers.
      heads: attention heads per layer (a divisor of width).
      token_dim: coordinates per token (a divisor of N).
      steps: training steps (Adam, log-sigma times on ``[t_min, t_max]``; a multiple of
        steps_per_dispatch).
      finetune_steps: fine-tuning steps of every arm (a multiple of steps_per_dispatch).
      batch_size: minibatch size of training and fine-tuning.
      learning_rate: training learning rate.
      finetune_learning_rate: fine-tuning learning rate.
      steps_per_dispatch: training steps per jitted scan.
      t_min: smallest training and evaluation time, last sampler time (OU time t).
      t_max: largest training and evaluation time, first sampler time (OU time t).
      prune_fraction: fraction of all heads removed (rounded up, at least 1 head: :func:`n_pruned_heads`).
      importance_a: first Beta shape of the importance times u ~ Beta(a, b).
      importance_b: second Beta shape of the importance times.
      importance_t_max: importance times t = t_min + (importance_t_max - t_min) u (OU time t, in
        (t_min, t_max]).
      n_importance: DSM draws (point, noise, time) of the head importance.
      n_random: random prunings per seed.
      n_samples: generated samples per network (and fresh true samples of the Wasserstein).
      sample_steps: backward SDE steps on a log grid from t_max to t_min.
      n_eval: fresh noised points of the score error.
    """
    check_pruning_options(prune_fraction=prune_fraction, importance_a=importance_a, importance_b=importance_b,
                          importance_t_max=importance_t_max, n_importance=n_importance, n_random=n_random,
                          n_samples=n_samples, sample_steps=sample_steps, n_eval=n_eval)
    check_importance_times(importance_t_max, t_min, t_max)
    s = len(train_sets)
    if s < 2 or len({(ts.n_points, ts.dim) for ts in train_sets}) != 1:
        raise _validate.ConfigError(f"train_sets has {s} sets: expected at least 2 of the same P and N")
    n_train, n = train_sets[0].n_points, train_sets[0].dim
    n_prune = n_pruned_heads(depth, heads, prune_fraction)
    points = jnp.stack([ts.points for ts in train_sets])  # [S, P, N]
    mc = ModelConfig(architecture="transformer", width=width, depth=depth, heads=heads, token_dim=token_dim,
                     parameterisation="edm", data_variance=float(np.mean(true_model.covariance_spectrum())))
    tc = TrainConfig(steps=steps, batch_size=batch_size, learning_rate=learning_rate, time_law="log_sigma",
                     t_min=t_min, t_max=t_max, steps_per_dispatch=steps_per_dispatch, n_checkpoints=1)
    trained = train(mc, tc, points, jax.random.split(jax.random.fold_in(key, 2), s))
    graphdef, params, rest = trained.graphdef, trained.state.params, trained.state.rest

    # importance on small-t draws of each seed's own training set
    ki = jax.random.split(jax.random.fold_in(key, 3), 3)
    idx = jax.random.randint(ki[0], (s, n_importance), 0, n_train)
    a_imp = jnp.take_along_axis(points, idx[..., None], axis=1)
    t_imp = t_min + (importance_t_max - t_min) * jax.random.beta(ki[1], importance_a, importance_b,
                                                                  (s, n_importance), jnp.float32)
    xi_imp = jax.random.normal(ki[2], a_imp.shape)
    importance = _importances(graphdef, params, rest, a_imp, t_imp, xi_imp)  # [S, L, H]

    shape = (depth, heads)
    kr = jax.random.fold_in(key, 4)
    masks = jnp.stack([
        jnp.stack([jnp.ones(shape), lowest_heads(importance[i], n_prune)]
                  + [_random_mask(jax.random.fold_in(jax.random.fold_in(kr, i), r), shape, n_prune)
                     for r in range(n_random)])
        for i in range(s)])  # [S, A, L, H]
    a_n = 2 + n_random
    rep = lambda tree: jax.tree_util.tree_map(lambda x: jnp.repeat(x, a_n, axis=0), tree)  # seed-major [S*A]
    params_m = rep(params)
    rest_m = with_head_masks(graphdef, params_m, rep(rest), masks.reshape((s * a_n,) + shape))
    points_m = jnp.repeat(points, a_n, axis=0)

    # evaluation inputs shared by every network
    ke = jax.random.fold_in(key, 6)
    k_eval = jax.random.split(ke, 6)
    sample_times = jnp.asarray(time_grid(t_max, t_min, sample_steps, "log"), jnp.float32)
    x_init = jax.random.normal(k_eval[0], (n_samples, n))
    a_eval = jnp.asarray(true_model.sample(k_eval[1], n_eval), jnp.float32)
    t_eval = log_sigma_times(k_eval[2], (n_eval,), t_min, t_max)
    x_eval = m(t_eval)[:, None] * a_eval + jnp.sqrt(delta(t_eval))[:, None] * jax.random.normal(k_eval[3], a_eval.shape)
    eps_true = -jnp.sqrt(delta(t_eval))[:, None] * true_model.score(x_eval, t_eval)
    fresh = jnp.asarray(true_model.sample(k_eval[4], n_samples), jnp.float32)
    fresh2 = jnp.asarray(true_model.sample(jax.random.fold_in(k_eval[4], 1), n_samples), jnp.float32)
    k_sw = k_eval[5]
    sw_floor = float(sliced_wasserstein(k_sw, fresh2, fresh))

    def measure(p, r, seeds):
        x0, err = _evaluate(graphdef, p, r, jax.random.fold_in(ke, 7), x_init, sample_times, x_eval, t_eval, eps_true)
        mem = np.array([float(jnp.mean(memorized(x0[j], train_sets[seeds[j]]))) for j in range(x0.shape[0])])
        sw = np.array([float(sliced_wasserstein(k_sw, x0[j], fresh)) for j in range(x0.shape[0])])
        return {"memorized_fraction": mem, "score_error_true": np.asarray(err, float), "sliced_wasserstein": sw}

    member_seed = [i for i in range(s) for _ in range(a_n)]
    base = measure(params, rest, list(range(s)))
    values = {"pruned": {q: v.reshape(s, a_n) for q, v in measure(params_m, rest_m, member_seed).items()}}

    # fine-tune every arm with a fresh Adam state; the arms of one seed share the training draws
    ft = TrainConfig(steps=finetune_steps, batch_size=batch_size, learning_rate=finetune_learning_rate,
                     time_law="log_sigma", t_min=t_min, t_max=t_max, steps_per_dispatch=steps_per_dispatch,
                     n_checkpoints=1).validate().compiled_part()
    tx = make_optimizer(ft)
    ft_keys = jnp.repeat(jax.random.split(jax.random.fold_in(key, 5), s), a_n, axis=0)
    state = TrainState.start(params_m, rest_m, jax.vmap(tx.init)(params_m), ft_keys)
    n_real = jnp.full((s * a_n,), n_train, jnp.int32)
    tuned = fit(graphdef, state, DSM(ft), tx, (points_m, n_real), steps=finetune_steps,
                steps_per_dispatch=steps_per_dispatch)
    values["finetuned"] = {q: v.reshape(s, a_n) for q, v in measure(tuned.state.params, tuned.state.rest,
                                                                     member_seed).items()}
    return PruningMeasurement(n_pruned=n_prune, importance=np.asarray(importance), masks=np.asarray(masks), base=base,
                              values=values, sw_floor=sw_floor, train_loss=tuned.losses[-1],
                              train_seconds=trained.seconds)


@options_of(measure_pruning, exclude=("width", "depth", "heads", "token_dim", "steps", "finetune_steps", "batch_size",
                                      "learning_rate", "finetune_learning_rate", "steps_per_dispatch", "t_min", "t_max"),
            check=check_pruning_options)
class PruningOptions(Options):
    """The options of :func:`measure_pruning` besides the network and its training and fine-tuning
    (a study's ``net``, ``train``, ``finetune_steps`` and ``finetune_learning_rate``)."""
