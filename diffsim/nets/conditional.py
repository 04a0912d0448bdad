"""A class-conditional denoiser with label dropout: one network gives both branches of
classifier-free guidance (THEORY.md section 9).

:class:`ConditionalMLP` is the residual MLP of :mod:`diffsim.nets.models` with a learned class
embedding (``n_classes + 1`` rows; the last is the *null* label of the unconditional branch) added
to the time embedding that every block reads. Training (:func:`train_conditional`) minimises the
DSM loss ``E |eps_hat(m_t a + sqrt(Delta_t) xi, t, y) - xi|^2`` over training pairs ``(a, y)`` drawn
uniformly, with ``y`` replaced by the null label with probability ``label_dropout``
(:class:`ConditionalDSM`, trained by :func:`diffsim.nets.fit`). :class:`ConditionalLearnedScore` wraps the trained split model as a
conditional denoiser ``(x, t, label) -> x0_hat`` (label -1: unconditional) for
:mod:`diffsim.guidance` and :func:`diffsim.measure.guidance.measure_guidance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from diffsim import _validate
from diffsim.nets.loop import TrainState, fit
from diffsim.nets.models import ModelConfig, time_embedding
from diffsim.nets.train import optimizer
from diffsim.process import delta, m
from diffsim.process import time_column

__all__ = [
    "ConditionalMLP",
    "ConditionalTrainConfig",
    "ConditionalLearnedScore",
    "ConditionalTrainResult",
    "ConditionalDSM",
    "train_conditional",
]


class _Block(nnx.Module):
    """``h + W2 silu(W1 silu(h) + U cond)`` (the residual block of the unconditional MLP)."""

    def __init__(self, width: int, *, rngs: nnx.Rngs):
        self.inner = nnx.Linear(width, width, rngs=rngs)
        self.cond = nnx.Linear(width, width, rngs=rngs)
        self.outer = nnx.Linear(width, width, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

    def __call__(self, h, cond):
        return h + self.outer(nnx.silu(self.inner(nnx.silu(h)) + self.cond(cond)))


class ConditionalMLP(nnx.Module):
    """Residual MLP ``(x [B, N], t, label [B]) -> F [B, N]`` read through the parameterisation of
    ``config`` (``eps``, ``x0`` or ``edm``, as in :mod:`diffsim.nets.models`); label
    ``n_classes`` (the null label) is the unconditional branch."""

    def __init__(self, dim: int, n_classes: int, config: ModelConfig, *, rngs: nnx.Rngs):
        config.validate(dim)
        if config.architecture != "mlp":
            raise _validate.ConfigError(f"architecture={config.architecture!r} is out of range: expected 'mlp'")
        self.n_classes = n_classes
        self.parameterisation = config.parameterisation
        self.data_variance = float(config.data_variance)
        self.embed_dim = config.embed_dim
        self.max_frequency = float(config.max_frequency)
        w = config.width
        self.embed = nnx.Linear(config.embed_dim, w, rngs=rngs)
        self.classes = nnx.Embed(n_classes + 1, w, rngs=rngs)
        self.inp = nnx.Linear(dim, w, rngs=rngs)
        self.blocks = nnx.List([_Block(w, rngs=rngs) for _ in range(config.depth)])
        self.out = nnx.Linear(w, dim, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

    def __call__(self, x, t, label):
        tt = time_column(x, t)
        label = jnp.broadcast_to(jnp.asarray(label, jnp.int32), x.shape[:1])
        c_in = jax.lax.rsqrt(m(tt) ** 2 * self.data_variance + delta(tt))
        cond = nnx.silu(self.embed(time_embedding(tt, self.embed_dim, self.max_frequency)) + self.classes(label))
        h = self.inp(c_in * x) + cond
        for block in self.blocks:
            h = block(h, cond)
        return self.out(nnx.silu(h))

    def denoise(self, x, t, label):
        """``x0_hat(x, t, label)``, ``[B, N]``."""
        tt = time_column(x, t)
        out = self(x, t, label)
        mt, dt = m(tt), delta(tt)
        if self.parameterisation == "eps":
            return (x - jnp.sqrt(dt) * out) / mt
        if self.parameterisation == "x0":
            return out
        sd2 = self.data_variance
        s2 = dt / mt**2
        return sd2 / (s2 + sd2) * (x / mt) + jnp.sqrt(s2 * sd2 / (s2 + sd2)) * out

    def predict_noise(self, x, t, label):
        """``eps_hat = (x - m_t x0_hat) / sqrt(Delta_t)``, ``[B, N]``."""
        tt = time_column(x, t)
        if self.parameterisation == "eps":
            return self(x, t, label)
        return (x - m(tt) * self.denoise(x, t, label)) / jnp.sqrt(delta(tt))


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class ConditionalLearnedScore:
    """A trained :class:`ConditionalMLP` (``nnx.split`` state + static graphdef) as a conditional
    denoiser ``(x, t, label) -> x0_hat [B, N]``; label -1 (or the null label) is unconditional."""

    state: nnx.State
    graphdef: nnx.GraphDef = field(metadata=dict(static=True))

    @property
    def model(self) -> ConditionalMLP:
        return nnx.merge(self.graphdef, self.state)

    def _label(self, model, label):
        label = jnp.asarray(label, jnp.int32)
        return jnp.where(label < 0, model.n_classes, label)

    def denoiser(self, x, t, label):
        model = self.model
        return model.denoise(x, t, self._label(model, label))

    def score(self, x, t, label):
        tt = time_column(x, t)
        return (m(tt) * self.denoiser(x, t, label) - x) / delta(tt)

    __call__ = denoiser


@dataclass(frozen=True)
class ConditionalTrainConfig:
    """DSM training with label dropout (module docstring); ``steps`` a multiple of ``steps_per_dispatch``.

    Attributes:
        steps: training steps (a multiple of steps_per_dispatch).
        batch_size: training draws per step.
        learning_rate: Adam learning rate.
        label_dropout: probability that a draw's label is replaced by the unconditional one.
        class_balanced: draw a class uniformly, then one of its points (a one-point class is then
            seen as often as a large one: the toy analogue of a duplicated training image);
            otherwise draw training points uniformly.
        t_min: smallest training time (OU time t).
        t_max: largest training time (OU time t).
        steps_per_dispatch: training steps per jitted dispatch (one scan).
    """

    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 2e-3
    label_dropout: float = 0.1
    class_balanced: bool = True
    t_min: float = 1e-3
    t_max: float = 5.0
    steps_per_dispatch: int = 250

    def validate(self) -> "ConditionalTrainConfig":
        _validate.integer("steps", self.steps, minimum=1, maximum=10**8)
        _validate.integer("batch_size", self.batch_size, minimum=1, maximum=2**16)
        _validate.positive("learning_rate", self.learning_rate, upper=1.0)
        _validate.in_range("label_dropout", self.label_dropout, 0.0, 1.0, closed=False)
        _validate.positive("t_max", self.t_max, upper=50.0)
        _validate.positive("t_min", self.t_min, upper=self.t_max)
        if self.t_min >= self.t_max:
            raise _validate.ConfigError(f"t_min={self.t_min} is out of range: expected t_min < t_max={self.t_max}")
        _validate.integer("steps_per_dispatch", self.steps_per_dispatch, minimum=1, maximum=self.steps)
        if self.steps % self.steps_per_dispatch:
            raise _validate.ConfigError(
                f"steps={self.steps} is out of range: expected a multiple of steps_per_dispatch={self.steps_per_dispatch}"
            )
        return self


@dataclass(frozen=True)
class ConditionalTrainResult:
    """The trained conditional denoiser, the mean loss of each dispatch ``[D]`` and the wall time."""

    score: ConditionalLearnedScore
    losses: np.ndarray
    seconds: float


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ConditionalDSM:
    """The DSM objective with label dropout (module docstring) for :func:`diffsim.nets.fit`: one
    model, the training pairs ``(points [P, N], labels [P])`` held by the objective; dispatch ``d``
    splits its step keys from the ``d``-th of ``n_dispatch`` keys split from the state's key, and
    each step draws its minibatch, labels (the null label ``n_classes`` with probability
    ``label_dropout``), times and noise from its own key.

    ``order`` (the points sorted by class), ``starts`` and ``counts`` (per class) serve the
    class-balanced draw: a uniform class, then a uniform point of it."""

    points: jax.Array
    labels: jax.Array
    order: jax.Array
    starts: jax.Array
    counts: jax.Array
    config: ConditionalTrainConfig = field(metadata=dict(static=True))
    n_classes: int = field(metadata=dict(static=True))

    @classmethod
    def from_data(cls, data, config: ConditionalTrainConfig) -> "ConditionalDSM":
        """The objective on a :class:`~diffsim.data.conditional.ClassConditionalSet`."""
        counts = np.asarray(data.class_counts, np.int32)
        return cls(jnp.asarray(data.points), jnp.asarray(data.labels),
                   jnp.asarray(np.argsort(np.asarray(data.labels), kind="stable"), jnp.int32),
                   jnp.asarray(np.concatenate([[0], np.cumsum(counts)[:-1]]), jnp.int32), jnp.asarray(counts),
                   config, data.n_classes)

    def draws(self, key, step, data, n_steps: int):
        dispatch_key = jax.random.split(key, self.config.steps // n_steps)[step // n_steps]
        return key, jax.random.split(dispatch_key, n_steps)

    def loss(self, model, k, data):
        config, counts = self.config, self.counts
        k_pick, k_t, k_xi, k_drop = jax.random.split(k, 4)
        if config.class_balanced:  # a uniform class, then a uniform point of it (order: points sorted by class)
            k_c, k_p = jax.random.split(k_pick)
            c = jax.random.randint(k_c, (config.batch_size,), 0, counts.shape[0])
            within = jnp.minimum((jax.random.uniform(k_p, c.shape) * counts[c]).astype(jnp.int32), counts[c] - 1)
            idx = self.order[self.starts[c] + within]
        else:
            idx = jax.random.randint(k_pick, (config.batch_size,), 0, self.points.shape[0])
        a, y = self.points[idx], self.labels[idx]
        y = jnp.where(jax.random.bernoulli(k_drop, config.label_dropout, y.shape), self.n_classes, y)
        t = jax.random.uniform(k_t, (config.batch_size,), a.dtype, config.t_min, config.t_max)
        xi = jax.random.normal(k_xi, a.shape, a.dtype)
        x = m(t)[:, None] * a + jnp.sqrt(delta(t))[:, None] * xi
        return jnp.mean(jnp.sum(jnp.square(model.predict_noise(x, t, y) - xi), -1))


def train_conditional(key, data, model_config: ModelConfig | None = None,
                      train_config: ConditionalTrainConfig | None = None, *, progress=None,
                      tx: optax.GradientTransformation | None = None) -> ConditionalTrainResult:
    """Train a :class:`ConditionalMLP` on a :class:`~diffsim.data.conditional.ClassConditionalSet`
    by :class:`ConditionalDSM` through :func:`diffsim.nets.fit`.

    ``progress(step, loss)`` (optional) is called after every dispatch; ``tx`` (default: Adam at
    ``train_config.learning_rate``) is any optax transform."""
    model_config = ModelConfig() if model_config is None else model_config
    train_config = (ConditionalTrainConfig() if train_config is None else train_config).validate()
    tx = optimizer("adam", train_config.learning_rate) if tx is None else tx
    k_init, k_train = jax.random.split(key)
    model = ConditionalMLP(data.train.dim, data.n_classes, model_config, rngs=nnx.Rngs(params=k_init))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc]  # two filters: three parts
    state = TrainState.start(params, rest, tx.init(params), k_train)
    report = None if progress is None else (lambda step, loss: progress(step, float(loss)))
    result = fit(graphdef, state, ConditionalDSM.from_data(data, train_config), tx, steps=train_config.steps,
                 steps_per_dispatch=train_config.steps_per_dispatch, progress=report)
    score = ConditionalLearnedScore(nnx.merge_state(result.state.params, result.state.rest), graphdef)
    return ConditionalTrainResult(score, np.asarray(result.losses, float), result.seconds)
