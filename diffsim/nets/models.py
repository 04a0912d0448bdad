"""Time-conditioned denoisers in flax.nnx and their score adapter (THEORY.md sections 0, 1, 10).

A denoiser maps a noised point ``x [B, N]`` at OU time ``t`` (scalar or ``[B]``) to a raw network
output ``F [B, N]``, read through one of three parameterisations:

* ``"eps"``: ``F`` predicts the noise xi of ``x = m_t a + sqrt(Delta_t) xi``;
  ``s = -F / sqrt(Delta_t)``.
* ``"x0"``: ``F`` predicts the denoised point; ``s = (m_t F - x) / Delta_t``.
* ``"edm"``: the denoised point with the Karras et al. skip connection, in the variance-exploding
  clock ``y = x / m_t``, ``sigma_t^2 = exp(2t) - 1`` (section 0):
  ``x0_hat = c_skip y + c_out F``, ``c_skip = sd^2 / (sigma^2 + sd^2)``,
  ``c_out = sigma sd / sqrt(sigma^2 + sd^2)`` (sd^2 the data variance per coordinate). It is
  exact for Gaussian data at ``F = 0`` in both limits of sigma.

The network sees ``c_in x`` with ``c_in = 1 / sqrt(m_t^2 sd^2 + Delta_t)`` (unit variance input)
and a sinusoidal embedding of ``log sigma_t``. Every model exposes ``score``, ``denoise`` and
``predict_noise``; :class:`LearnedScore` wraps a split model (graphdef + state) as a sampler drift
``(x [B, N], t) -> score [B, N]`` for :func:`diffsim.sample.sample`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

import jax
import jax.numpy as jnp
from flax import nnx

from diffsim import _validate
from diffsim.process import delta, m
from diffsim.process import time_column

__all__ = [
    "PARAMETERISATIONS",
    "ARCHITECTURES",
    "ModelConfig",
    "HeadMask",
    "time_embedding",
    "ResidualMLP",
    "TransformerDenoiser",
    "build_model",
    "LearnedScore",
    "learned_score",
]

Parameterisation = Literal["eps", "x0", "edm"]
Architecture = Literal["mlp", "transformer"]
PARAMETERISATIONS: tuple[Parameterisation, ...] = get_args(Parameterisation)
ARCHITECTURES: tuple[Architecture, ...] = get_args(Architecture)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a denoiser (keyword options; :meth:`validate` checks them).

    ``width`` is the hidden width of the MLP or the model dimension of the transformer; ``depth``
    the number of residual blocks (MLP) or transformer layers; ``heads`` and ``token_dim`` apply
    to the transformer only (the input ``[B, N]`` is cut into ``N / token_dim`` tokens).

    Attributes:
        architecture: network: residual MLP or transformer.
        width: hidden width of the MLP, or model dimension of the transformer.
        depth: residual blocks (mlp, 0 allowed) or transformer layers (at least 1).
        embed_dim: size of the sinusoidal embedding of log sigma_t (even).
        parameterisation: what the network predicts: eps (the noise), x0 (the denoised point) or
            edm (x0 with the Karras et al. skip connection) (module docstring).
        data_variance: data variance per coordinate sd^2, in the input scaling c_in and the edm skip.
        heads: transformer only: attention heads per layer (a divisor of width).
        token_dim: transformer only: coordinates per token (a divisor of N; N / token_dim tokens).
        max_frequency: largest frequency of the time embedding (frequencies geometric in
            [1/max_frequency, max_frequency]).
    """

    architecture: Architecture = "mlp"
    width: int = 128
    depth: int = 2
    embed_dim: int = 32
    parameterisation: Parameterisation = "edm"
    data_variance: float = 1.0
    heads: int = 4
    token_dim: int = 1
    max_frequency: float = 16.0

    def validate(self, dim: int | None = None) -> "ModelConfig":
        _validate.choice("architecture", self.architecture, ARCHITECTURES)
        _validate.integer("width", self.width, minimum=1, maximum=65_536)
        _validate.integer("depth", self.depth, minimum=0 if self.architecture == "mlp" else 1, maximum=64)
        _validate.integer("embed_dim", self.embed_dim, minimum=2, maximum=4096)
        if self.embed_dim % 2:
            raise _validate.ConfigError(f"embed_dim={self.embed_dim} is out of range: expected an even integer")
        _validate.choice("parameterisation", self.parameterisation, PARAMETERISATIONS)
        _validate.positive("data_variance", self.data_variance, upper=None)  # mtilde^2 + sigma^2: its parts are bounded
        _validate.positive("max_frequency", self.max_frequency, upper=1e4)
        if self.architecture == "transformer":
            _validate.integer("heads", self.heads, minimum=1, maximum=self.width)
            if self.width % self.heads:
                raise _validate.ConfigError(
                    f"heads={self.heads} is out of range: expected a divisor of width={self.width}"
                )
            _validate.integer("token_dim", self.token_dim, minimum=1)
            if dim is not None and dim % self.token_dim:
                raise _validate.ConfigError(
                    f"token_dim={self.token_dim} is out of range: expected a divisor of dim={dim}"
                )
        return self


def time_embedding(t, embed_dim: int, max_frequency: float):
    """Sinusoidal embedding of ``u = log sigma_t`` (``sigma_t^2 = exp(2t) - 1``), ``[B, 1] -> [B, E]``:
    ``[sin(f_k u), cos(f_k u)]`` with ``E/2`` frequencies ``f_k`` geometric in ``[1/max_frequency,
    max_frequency]``. ``log sigma_t`` spans about ``[-3.5, 5]`` over ``t in [1e-3, 5]``."""
    u = 0.5 * jnp.log(jnp.expm1(2.0 * t))
    half = embed_dim // 2
    freqs = jnp.exp(jnp.linspace(-math.log(max_frequency), math.log(max_frequency), half)).astype(t.dtype)
    phase = u * freqs[None, :]
    return jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], axis=-1)


class _Denoiser(nnx.Module):
    """Shared read-out of the network output (module docstring); subclasses define ``network`` and
    set ``parameterisation``, ``data_variance``, ``embed_dim`` and ``max_frequency``."""

    parameterisation: str
    data_variance: float
    embed_dim: int
    max_frequency: float

    def network(self, x_in, temb):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x, t):
        """Raw network output ``F [B, N]`` for ``x [B, N]`` at ``t`` (scalar or ``[B]``)."""
        tt = time_column(x, t)
        c_in = jax.lax.rsqrt(m(tt) ** 2 * self.data_variance + delta(tt))
        return self.network(c_in * x, time_embedding(tt, self.embed_dim, self.max_frequency))

    def denoise(self, x, t):
        """Denoised estimate ``x0_hat(x, t)``, ``[B, N]``."""
        tt = time_column(x, t)
        out = self(x, t)
        mt, dt = m(tt), delta(tt)
        if self.parameterisation == "eps":
            return (x - jnp.sqrt(dt) * out) / mt
        if self.parameterisation == "x0":
            return out
        sd2 = self.data_variance
        s2 = dt / mt**2  # sigma_t^2
        c_skip = sd2 / (s2 + sd2)
        c_out = jnp.sqrt(s2 * sd2 / (s2 + sd2))
        return c_skip * (x / mt) + c_out * out

    def predict_noise(self, x, t):
        """Noise prediction ``eps_hat = (x - m_t x0_hat) / sqrt(Delta_t) = -sqrt(Delta_t) s``, ``[B, N]``."""
        if self.parameterisation == "eps":
            return self(x, t)
        tt = time_column(x, t)
        return (x - m(tt) * self.denoise(x, t)) / jnp.sqrt(delta(tt))

    def score(self, x, t):
        """Learned score ``s = -eps_hat / sqrt(Delta_t) = (m_t x0_hat - x) / Delta_t``, ``[B, N]``."""
        tt = time_column(x, t)
        if self.parameterisation == "eps":
            return -self(x, t) / jnp.sqrt(delta(tt))
        return (m(tt) * self.denoise(x, t) - x) / delta(tt)


class _ResidualBlock(nnx.Module):
    """``h + W2 silu(W1 silu(h) + U temb)``."""

    def __init__(self, width: int, embed_width: int, *, rngs: nnx.Rngs):
        self.inner = nnx.Linear(width, width, rngs=rngs)
        self.time = nnx.Linear(embed_width, width, rngs=rngs)
        self.outer = nnx.Linear(width, width, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

    def __call__(self, h, temb):
        return h + self.outer(nnx.silu(self.inner(nnx.silu(h)) + self.time(temb)))


class ResidualMLP(_Denoiser):
    """Time-conditioned residual MLP: input layer, ``depth`` residual blocks (each reading the time
    embedding), output layer; ``[B, N] x [B] -> [B, N]``. Residual branches start at zero, so at
    initialisation the edm parameterisation is the Gaussian (linear) denoiser of variance sd^2."""

    def __init__(self, dim: int, config: ModelConfig, *, rngs: nnx.Rngs):
        self.parameterisation = config.parameterisation
        self.data_variance = float(config.data_variance)
        self.embed_dim = config.embed_dim
        self.max_frequency = float(config.max_frequency)
        w = config.width
        self.embed = nnx.Linear(config.embed_dim, w, rngs=rngs)
        self.inp = nnx.Linear(dim, w, rngs=rngs)
        self.blocks = nnx.List([_ResidualBlock(w, w, rngs=rngs) for _ in range(config.depth)])
        self.out = nnx.Linear(w, dim, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

    def network(self, x_in, temb):
        temb = nnx.silu(self.embed(temb))
        h = self.inp(x_in) + temb
        for block in self.blocks:
            h = block(h, temb)
        return self.out(nnx.silu(h))


class HeadMask(nnx.Variable):
    """Per-layer, per-head multiplier ``[heads]`` on attention outputs (1 = kept, 0 = pruned).
    Not a :class:`flax.nnx.Param`: training leaves it unchanged; pruning edits it."""


class _AttentionLayer(nnx.Module):
    """Pre-norm transformer layer whose attention heads can be masked individually."""

    def __init__(self, width: int, heads: int, *, rngs: nnx.Rngs):
        self.heads = heads
        self.norm1 = nnx.LayerNorm(width, rngs=rngs)
        self.qkv = nnx.Linear(width, 3 * width, rngs=rngs)
        self.proj = nnx.Linear(width, width, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)
        self.norm2 = nnx.LayerNorm(width, rngs=rngs)
        self.mlp_in = nnx.Linear(width, 2 * width, rngs=rngs)
        self.mlp_out = nnx.Linear(2 * width, width, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)
        self.head_mask = HeadMask(jnp.ones((heads,)))

    def __call__(self, h):
        b, n_tok, w = h.shape
        q, k, v = jnp.split(self.qkv(self.norm1(h)).reshape(b, n_tok, 3, self.heads, w // self.heads), 3, axis=2)
        q, k, v = q[:, :, 0], k[:, :, 0], v[:, :, 0]  # [B, T, H, dh]
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(w // self.heads)
        per_head = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)
        per_head = per_head * self.head_mask[...][None, None, :, None]
        h = h + self.proj(per_head.reshape(b, n_tok, w))
        return h + self.mlp_out(nnx.silu(self.mlp_in(self.norm2(h))))


class TransformerDenoiser(_Denoiser):
    """Transformer over ``T = N / token_dim`` tokens of the input (token ``k`` holds coordinates
    ``k*token_dim .. (k+1)*token_dim - 1``), with learned positions and the time embedding added to
    every token; ``depth`` pre-norm layers of ``heads`` maskable heads (:class:`HeadMask`).
    ``[B, N] x [B] -> [B, N]``."""

    def __init__(self, dim: int, config: ModelConfig, *, rngs: nnx.Rngs):
        self.parameterisation = config.parameterisation
        self.data_variance = float(config.data_variance)
        self.embed_dim = config.embed_dim
        self.max_frequency = float(config.max_frequency)
        self.token_dim = config.token_dim
        n_tokens = dim // config.token_dim
        w = config.width
        self.embed = nnx.Linear(config.embed_dim, w, rngs=rngs)
        self.tokens = nnx.Linear(config.token_dim, w, rngs=rngs)
        self.positions = nnx.Param(0.02 * jax.random.normal(rngs.params(), (n_tokens, w)))
        self.layers = nnx.List([_AttentionLayer(w, config.heads, rngs=rngs) for _ in range(config.depth)])
        self.norm = nnx.LayerNorm(w, rngs=rngs)
        self.out = nnx.Linear(w, config.token_dim, kernel_init=nnx.initializers.zeros_init(), rngs=rngs)

    def network(self, x_in, temb):
        b, n = x_in.shape
        temb = nnx.silu(self.embed(temb))
        h = self.tokens(x_in.reshape(b, n // self.token_dim, self.token_dim))
        h = h + self.positions[...][None] + temb[:, None, :]
        for layer in self.layers:
            h = layer(h)
        return self.out(self.norm(h)).reshape(b, n)


def build_model(config: ModelConfig, dim: int, key) -> _Denoiser:
    """A fresh denoiser for data of dimension ``dim``, initialised from the PRNG ``key``."""
    config.validate(dim)
    rngs = nnx.Rngs(params=key)
    if config.architecture == "mlp":
        return ResidualMLP(dim, config, rngs=rngs)
    return TransformerDenoiser(dim, config, rngs=rngs)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class LearnedScore:
    """A split denoiser as a sampler drift: ``(x [B, N], t) -> score [B, N]``.

    ``graphdef`` (static) and ``state`` (the pure nnx state, a pytree) come from
    ``nnx.split(model)``; the model is rebuilt inside traced code with ``nnx.merge``, so the
    object passes through ``jit``, ``vmap`` (a leading ensemble axis on ``state``) and
    :func:`diffsim.sample.sample` without recompiling for new weights.
    """

    state: nnx.State
    graphdef: nnx.GraphDef = field(metadata=dict(static=True))

    @property
    def model(self) -> _Denoiser:
        return nnx.merge(self.graphdef, self.state)

    def __call__(self, x, t):
        return self.model.score(x, t)

    def denoise(self, x, t):
        return self.model.denoise(x, t)

    def predict_noise(self, x, t):
        return self.model.predict_noise(x, t)


def learned_score(model_or_graphdef, *states) -> LearnedScore:
    """Wrap a model (``learned_score(model)``) or its split form (``learned_score(graphdef,
    params, rest)``) as a :class:`LearnedScore` drift."""
    if isinstance(model_or_graphdef, nnx.GraphDef):
        return LearnedScore(nnx.merge_state(*states) if len(states) > 1 else states[0], model_or_graphdef)
    graphdef, state = nnx.split(model_or_graphdef)
    return LearnedScore(state, graphdef)
