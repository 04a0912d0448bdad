"""Denoising score matching with optax, many steps per jitted ``lax.scan``, ensembles by ``vmap``.

Loss (THEORY.md section 10), for a training point ``a``, ``x = m_t a + sqrt(Delta_t) xi``:

    l_t(s) = E |s(x, t) + xi / sqrt(Delta_t)|^2 = E |eps_hat(x, t) - xi|^2 / Delta_t

minimised over the training set by the empirical score. Training draws, at every step, a
minibatch of training points (uniformly, with replacement), fresh noise xi and times ``t`` from
``time_law``:

* ``"uniform"``: ``t ~ U[t_min, t_max]``;
* ``"log_sigma"``: ``log sigma_t ~ U[log sigma(t_min), log sigma(t_max)]`` (``sigma_t^2 = exp(2t) - 1``);
* ``"beta"``: ``t = t_min + (t_max - t_min) B``, ``B ~ Beta(beta_a, beta_b)`` (Beta(0.8, 2) in
  Ye et al.);

and minimises ``E_t [lambda(t) l_t]`` with ``weighting``: ``"noise"`` ``lambda = Delta_t``
(the noise-prediction MSE ``|eps_hat - xi|^2``), ``"score"`` ``lambda = 1`` (``l_t`` itself) or
``"denoised"`` ``lambda = Delta_t^2 / m_t^2`` (``|x0_hat - a|^2``).

The model is split once into ``graphdef`` (static) and pure states (``params`` differentiated,
``rest`` e.g. head masks), and a :class:`TrainState` pytree is advanced ``steps_per_dispatch``
steps per jitted ``lax.scan``. An ensemble of M members (seeds, and training sets of different P
padded to a common ``[P_max, N]`` with the member's ``n_points``) is one ``vmap`` of that scan.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Callable, Literal, NamedTuple, get_args

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from diffsim import _validate
from diffsim.nets.checkpoint import checkpoint_path, checkpoint_steps, save_checkpoint
from diffsim.nets.loop import TrainState, fit, fit_steps
from diffsim.nets.models import LearnedScore, ModelConfig, build_model
from diffsim.process import delta, log_sigma_times, m, sigma_from_t
from diffsim.progress import Progress

__all__ = [
    "TIME_LAWS",
    "OPTIMIZERS",
    "WEIGHTINGS",
    "TrainConfig",
    "TrainState",
    "TrainResult",
    "DSM",
    "optimizer",
    "make_optimizer",
    "sample_times",
    "noise_prediction_error",
    "zone_factor",
    "dsm_loss",
    "init_ensemble",
    "train_steps",
    "train",
    "evaluation_score",
    "member",
]

TimeLaw = Literal["uniform", "log_sigma", "beta"]
Optimizer = Literal["adam", "adamw", "sgd"]
Weighting = Literal["noise", "score", "denoised"]
TIME_LAWS: tuple[TimeLaw, ...] = get_args(TimeLaw)
WEIGHTINGS: tuple[Weighting, ...] = get_args(Weighting)

#: ``TrainConfig.optimizer`` name -> ``f(learning_rate, weight_decay, momentum)`` -> optax transform.
OPTIMIZERS: dict[str, Callable[[float, float, float], optax.GradientTransformation]] = {
    "adam": lambda lr, weight_decay, momentum: optax.adam(lr),
    "adamw": lambda lr, weight_decay, momentum: optax.adamw(lr, weight_decay=weight_decay),  # decoupled decay
    "sgd": lambda lr, weight_decay, momentum: optax.sgd(lr, momentum=momentum or None),
}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of the DSM loss (module docstring); keyword options, checked by :meth:`validate`.

    ``zone_weight`` multiplies the loss of the samples whose ``sigma_t`` lies in
    ``[zone_sigma_lo, zone_sigma_hi]`` (a time-weighting hook, e.g. to undertrain a noise window;
    the default 1 leaves the loss unchanged).

    ``ema_decay = 0`` disables the exponential moving average of the weights; otherwise the EMA
    uses the warm-up ``min(ema_decay, (1 + k) / (10 + k))`` at step k and evaluations read it.
    ``steps`` must be a multiple of ``steps_per_dispatch`` (steps per jitted scan); checkpoints
    fall at step 0 and at up to ``n_checkpoints`` log-spaced multiples of it.

    Attributes:
        steps: optimiser steps (a multiple of steps_per_dispatch).
        batch_size: training points per minibatch (drawn uniformly with replacement).
        learning_rate: step size of the optimiser.
        optimizer: adam, adamw (decoupled weight decay) or sgd (with momentum).
        weight_decay: adamw: decoupled decay; adam and sgd: L2 term weight_decay * params added
            to the gradient (0: none).
        momentum: sgd only: momentum (0: plain SGD).
        grad_clip: global-norm gradient clipping threshold (0: no clipping).
        ema_decay: decay of the exponential moving average of the weights, read by evaluations
            (0: no EMA).
        time_law: law of the training times: uniform in t, log_sigma (log sigma_t uniform) or beta
            (t_min + (t_max - t_min) Beta(beta_a, beta_b)).
        t_min: smallest training time (OU time t).
        t_max: largest training time (OU time t).
        beta_a: time_law beta: first shape parameter.
        beta_b: time_law beta: second shape parameter.
        weighting: loss weight lambda(t): noise (Delta_t, the noise-prediction MSE), score (1) or
            denoised (Delta_t^2 / m_t^2, the denoised-point MSE).
        steps_per_dispatch: training steps per jitted lax.scan (one host round trip each).
        n_checkpoints: checkpoints at up to this many log-spaced multiples of steps_per_dispatch
            (plus step 0).
        zone_sigma_lo: lower end of the zone window, in VE noise sigma_t (sigma_t^2 = exp(2t) - 1).
        zone_sigma_hi: upper end of the zone window, in VE noise sigma_t (both 0: no zone).
        zone_weight: loss factor of the samples inside the zone window (1: unchanged loss).
    """

    steps: int = 4000
    batch_size: int = 128
    learning_rate: float = 1e-3
    optimizer: Optimizer = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    grad_clip: float = 0.0
    ema_decay: float = 0.0
    time_law: TimeLaw = "uniform"
    t_min: float = 1e-3
    t_max: float = 5.0
    beta_a: float = 0.8
    beta_b: float = 2.0
    weighting: Weighting = "noise"
    steps_per_dispatch: int = 100
    n_checkpoints: int = 12
    zone_sigma_lo: float = 0.0
    zone_sigma_hi: float = 0.0
    zone_weight: float = 1.0

    def validate(self) -> "TrainConfig":
        _validate.integer("steps", self.steps, minimum=1, maximum=10**9)
        _validate.integer("batch_size", self.batch_size, minimum=1, maximum=2**20)
        _validate.positive("learning_rate", self.learning_rate, upper=10.0)
        _validate.choice("optimizer", self.optimizer, OPTIMIZERS)
        _validate.in_range("weight_decay", self.weight_decay, 0.0, 10.0)
        _validate.in_range("momentum", self.momentum, 0.0, 1.0, closed=True)
        _validate.in_range("grad_clip", self.grad_clip, 0.0, 1e6)
        _validate.in_range("ema_decay", self.ema_decay, 0.0, 1.0, closed=True)
        if self.ema_decay == 1.0:
            raise _validate.ConfigError("ema_decay=1.0 is out of range: expected a number in [0, 1)")
        _validate.choice("time_law", self.time_law, TIME_LAWS)
        _validate.positive("t_max", self.t_max, upper=50.0)
        _validate.positive("t_min", self.t_min, upper=self.t_max)
        if self.t_min >= self.t_max:
            raise _validate.ConfigError(f"t_min={self.t_min} is out of range: expected t_min < t_max={self.t_max}")
        _validate.positive("beta_a", self.beta_a, upper=100.0)
        _validate.positive("beta_b", self.beta_b, upper=100.0)
        _validate.choice("weighting", self.weighting, WEIGHTINGS)
        _validate.integer("steps_per_dispatch", self.steps_per_dispatch, minimum=1, maximum=self.steps)
        _validate.integer("n_checkpoints", self.n_checkpoints, minimum=1, maximum=1000)
        checkpoint_steps(self.steps, self.n_checkpoints, self.steps_per_dispatch)
        _validate.in_range("zone_sigma_lo", self.zone_sigma_lo, 0.0, 1e30)
        _validate.in_range("zone_sigma_hi", self.zone_sigma_hi, self.zone_sigma_lo, 1e30)
        _validate.in_range("zone_weight", self.zone_weight, 0.0, 1e6)
        return self

    @property
    def checkpoint_steps(self) -> tuple[int, ...]:
        return checkpoint_steps(self.steps, self.n_checkpoints, self.steps_per_dispatch)

    def compiled_part(self) -> "TrainConfig":
        """This config with the fields that do not enter the compiled step (run length, checkpoint
        count) set to fixed values, so runs differing only in those share one compile."""
        return dataclasses.replace(self, steps=self.steps_per_dispatch, n_checkpoints=1)


class TrainResult(NamedTuple):
    """Final ensemble state, the step at which each ``loss`` entry ends (``[D]``), the mean
    training loss over each dispatch ``[D, M]``, wall time, and the checkpoint callback outputs
    ``[(step, output), ...]``."""

    graphdef: nnx.GraphDef
    state: TrainState
    loss_steps: np.ndarray
    losses: np.ndarray
    seconds: float
    evaluations: list


@functools.cache
def optimizer(name: Optimizer = "adam", learning_rate: float = 1e-3, *, weight_decay: float = 0.0,
              momentum: float = 0.9, grad_clip: float = 0.0) -> optax.GradientTransformation:
    """The optax transform named ``name`` in :data:`OPTIMIZERS`: Adam, AdamW (decoupled weight
    decay) or SGD with momentum; for Adam and SGD a nonzero ``weight_decay`` adds
    ``weight_decay * params`` to the gradient (L2); optional global-norm clipping first.

    The same arguments give the same object, so jitted steps that take it as a static argument
    compile once."""
    opt = OPTIMIZERS[_validate.choice("optimizer", name, OPTIMIZERS)](learning_rate, weight_decay, momentum)
    chain = []
    if grad_clip > 0:
        chain.append(optax.clip_by_global_norm(grad_clip))
    if weight_decay > 0 and name != "adamw":
        chain.append(optax.add_decayed_weights(weight_decay))
    return optax.chain(*chain, opt) if chain else opt


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """:func:`optimizer` of the config's ``optimizer``, ``learning_rate``, ``weight_decay``,
    ``momentum`` and ``grad_clip``."""
    return optimizer(config.optimizer, config.learning_rate, weight_decay=config.weight_decay,
                     momentum=config.momentum, grad_clip=config.grad_clip)


def sample_times(key, shape, config: TrainConfig, dtype=jnp.float32):
    """Training times of the given ``shape`` from ``config.time_law`` on ``[t_min, t_max]``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if config.time_law == "uniform":
        return jax.random.uniform(key, shape, dtype, config.t_min, config.t_max)
    if config.time_law == "log_sigma":
        return log_sigma_times(key, shape, config.t_min, config.t_max, dtype)
    b = jax.random.beta(key, config.beta_a, config.beta_b, shape, dtype)
    return config.t_min + (config.t_max - config.t_min) * b


def _loss_weight(t, weighting: str):
    """``lambda(t) / Delta_t``, the factor in front of ``|eps_hat - xi|^2``."""
    if weighting == "noise":
        return jnp.ones_like(t)
    if weighting == "score":
        return 1.0 / delta(t)
    return delta(t) / m(t) ** 2


def zone_factor(t, config: TrainConfig):
    """Per-sample loss factor of the zone hook: ``zone_weight`` where ``sigma_t`` lies in
    ``[zone_sigma_lo, zone_sigma_hi]``, 1 elsewhere (``t`` ``[B]``)."""
    sig = sigma_from_t(t)
    inside = (sig >= config.zone_sigma_lo) & (sig <= config.zone_sigma_hi)
    return jnp.where(inside, jnp.asarray(config.zone_weight, t.dtype), jnp.ones_like(t))


def noise_prediction_error(model, a, t, xi):
    """Per-sample ``Delta_t l_t = |eps_hat(x, t) - xi|^2`` with ``x = m_t a + sqrt(Delta_t) xi``;
    ``a, xi [B, N]``, ``t [B]`` -> ``[B]``."""
    x = m(t)[:, None] * a + jnp.sqrt(delta(t))[:, None] * xi
    return jnp.sum(jnp.square(model.predict_noise(x, t) - xi), axis=-1)


def dsm_loss(model, a, t, xi, weighting: str = "noise"):
    """Minibatch DSM objective ``mean_b lambda(t_b) l_{t_b}`` (module docstring); scalar."""
    return jnp.mean(_loss_weight(t, weighting) * noise_prediction_error(model, a, t, xi))


@partial(jax.jit, static_argnames=("model_config", "tx", "dim"))
def _init_member(key, *, model_config: ModelConfig, tx: optax.GradientTransformation, dim: int) -> TrainState:
    init_key, noise_key = jax.random.split(key)
    _, params, rest = nnx.split(build_model(model_config, dim, init_key), nnx.Param, ...)  # type: ignore[misc]
    return TrainState(jnp.zeros((), jnp.int32), params, rest, tx.init(params), params, noise_key)


def init_ensemble(model_config: ModelConfig, train_config: TrainConfig, dim: int, keys, *,
                  tx: optax.GradientTransformation | None = None):
    """Initial states of ``M = len(keys)`` members (``keys [M, 2]``): each key is split into a
    model-initialisation key and a training-noise key. Returns ``(graphdef, TrainState)`` with a
    leading ``[M]`` axis on every leaf. Members are initialised one by one by one compiled
    function, so the compile does not depend on M. ``tx`` (default: the config's optimizer)
    gives the optimiser state."""
    model_config.validate(dim)
    graphdef = nnx.graphdef(nnx.eval_shape(lambda: build_model(model_config, dim, jax.random.PRNGKey(0))))
    tx = make_optimizer(train_config.compiled_part()) if tx is None else tx
    members = [_init_member(k, model_config=model_config, tx=tx, dim=dim) for k in jnp.asarray(keys)]
    return graphdef, jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *members)


def _draws(key, config: TrainConfig, dim: int, dtype, n_steps: int):
    """Randomness of one dispatch, drawn at once: ``u [K, B]`` (training-point picks),
    ``t [K, B]`` (times from the law) and ``xi [K, B, N]``; returns them and the next key."""
    shape = (n_steps, config.batch_size)
    key, k_pick, k_t, k_xi = jax.random.split(key, 4)
    u = jax.random.uniform(k_pick, shape, dtype)
    return key, u, sample_times(k_t, shape, config, dtype), jax.random.normal(k_xi, shape + (dim,), dtype)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class DSM:
    """The DSM objective of :func:`train` (module docstring) for :func:`diffsim.nets.fit`: each
    step draws a minibatch of ``config.batch_size`` training points uniformly from the member's
    data ``(points [P_max, N], n_points)`` (rows past ``n_points`` are never drawn), times from
    ``config.time_law`` and fresh noise, and minimises ``E_t [lambda(t) l_t]`` (``weighting``,
    times the zone factor when the zone hook is on)."""

    config: TrainConfig = field(metadata=dict(static=True))

    def draws(self, key, step, data, n_steps: int):
        points, _ = data
        key, u, t, xi = _draws(key, self.config, points.shape[-1], points.dtype, n_steps)
        return key, (u, t, xi)

    def loss(self, model, x, data):
        (u, t, xi), (points, n_points), config = x, data, self.config
        idx = jnp.minimum((u * n_points).astype(jnp.int32), n_points - 1)  # uniform over the real points
        a = points[idx]
        if config.zone_weight == 1.0 or config.zone_sigma_hi <= config.zone_sigma_lo:
            return dsm_loss(model, a, t, xi, config.weighting)
        return jnp.mean(zone_factor(t, config) * _loss_weight(t, config.weighting) * noise_prediction_error(model, a, t, xi))


def train_steps(state: TrainState, points, n_points, *, graphdef, config: TrainConfig,
                tx: optax.GradientTransformation | None = None):
    """Advance every member ``config.steps_per_dispatch`` steps of :class:`DSM` in one ``lax.scan``
    (:func:`diffsim.nets.fit_steps`).

    The dispatch's randomness (minibatch picks, times, noise) is drawn up front from the
    member's key, then scanned over.

    Args:
      state: ensemble :class:`TrainState` (leading ``[M]``); donated.
      points: ``[M, P_max, N]`` training points (rows past ``n_points`` are never drawn).
      n_points: ``[M]`` int32, the number of real points of each member.
      tx: the optax transform (default: the config's optimizer).
    Returns ``(state, losses [M, steps_per_dispatch])``.
    """
    tx = make_optimizer(config.compiled_part()) if tx is None else tx
    return fit_steps(state, DSM(config.compiled_part()), (points, n_points), graphdef=graphdef, tx=tx,
                     n_steps=config.steps_per_dispatch, ema_decay=config.ema_decay)


def evaluation_score(graphdef, state: TrainState, config: TrainConfig) -> LearnedScore:
    """The drift to evaluate: EMA weights when ``ema_decay > 0``, else the raw weights (an
    ensemble state gives an ensemble :class:`LearnedScore` to use under ``vmap``)."""
    params = state.ema if config.ema_decay > 0 else state.params
    return LearnedScore(nnx.merge_state(params, state.rest), graphdef)


def member(tree, i: int):
    """Member ``i`` of an ensemble pytree (leading axis)."""
    return jax.tree_util.tree_map(lambda a: a[i], tree)


def _stderr_progress(total: int, n_members: int) -> Callable:
    """``(step, loss)`` -> the :class:`~diffsim.progress.Progress` display, counting training steps."""
    display = Progress("train", total, unit="steps")
    last = [0]

    def report(step: int, loss: float):
        display.update(f"loss {loss:9.4f} ({n_members} members)", count=step - last[0])
        last[0] = step

    return report


def train(
    model_config: ModelConfig,
    config: TrainConfig,
    points,
    keys,
    *,
    n_points=None,
    on_checkpoint: Callable[[int, LearnedScore], Any] | None = None,
    checkpoint_dir=None,
    progress: bool | Callable = False,
    tx: optax.GradientTransformation | None = None,
) -> TrainResult:
    """Train an ensemble by DSM; evaluate and save at the log-spaced checkpoints.

    Args:
      points: ``[P, N]`` (shared) or ``[M, P_max, N]`` training points.
      keys: ``[M, 2]`` one PRNG key per member (same key => same weights, bit for bit).
      n_points: ``[M]`` real points per member (default: all ``P_max``).
      on_checkpoint: ``f(step, drift)`` called at every checkpoint (step 0 included) with the
        ensemble :class:`LearnedScore` (leading ``[M]`` on its state); outputs are collected.
      checkpoint_dir: if given, the full ensemble state is written there at every checkpoint
        (:func:`diffsim.nets.checkpoint.save_checkpoint`, loadable with the state of
        :func:`init_ensemble` as template).
      progress: True for a line on stderr at each checkpoint, or a callable ``(step, loss)``.
      tx: any optax transform, used instead of the config's ``optimizer`` (and its
        ``learning_rate``, ``weight_decay``, ``momentum``, ``grad_clip``); pass the same object
        to reuse the compile.
    """
    config.validate()
    keys = jnp.asarray(keys)
    n_members = keys.shape[0]
    points = jnp.asarray(points)
    if points.ndim == 2:
        points = jnp.broadcast_to(points[None], (n_members,) + points.shape)
    if points.ndim != 3 or points.shape[0] != n_members:
        raise _validate.ConfigError(
            f"points has shape {points.shape}: expected [P, N] or [M={n_members}, P_max, N]"
        )
    p_max, dim = points.shape[1:]
    n_points = jnp.full((n_members,), p_max, jnp.int32) if n_points is None else jnp.asarray(n_points, jnp.int32)
    if n_points.shape != (n_members,) or int(jnp.min(n_points)) < 1 or int(jnp.max(n_points)) > p_max:
        raise _validate.ConfigError(f"n_points={np.asarray(n_points).tolist()} is out of range: expected {n_members} values in [1, {p_max}]")
    _validate.memory("the training ensemble", 4.0 * n_members * (p_max * dim + 64 * config.batch_size * max(dim, model_config.width)))
    compiled = config.compiled_part()
    tx = make_optimizer(compiled) if tx is None else tx
    graphdef, state = init_ensemble(model_config, config, dim, keys, tx=tx)
    report = progress if callable(progress) else (_stderr_progress(config.steps, n_members) if progress else None)
    losses: list = []

    def checkpoint(step: int, state: TrainState):
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_path(checkpoint_dir, step), state,
                            {"step": step, "model": asdict(model_config), "train": asdict(config)})
        out = None if on_checkpoint is None else on_checkpoint(step, evaluation_score(graphdef, state, config))
        if report is not None and step > 0:
            report(step, float(np.mean(losses[-1])))
        return out

    result = fit(graphdef, state, DSM(compiled), tx, (points, n_points), steps=config.steps,
                 steps_per_dispatch=config.steps_per_dispatch, ema_decay=config.ema_decay,
                 checkpoints=config.checkpoint_steps, on_checkpoint=checkpoint,
                 progress=lambda step, loss: losses.append(loss))
    evaluations = [(step, out) for step, out in result.evaluations] if on_checkpoint is not None else []
    return TrainResult(graphdef, result.state, result.loss_steps, result.losses.reshape(-1, n_members),
                       result.seconds, evaluations)
