"""Class-conditional toy data with exact scores (THEORY.md section 9).

K classes with chosen training counts ``P_c`` (some 1-3 points, others many), drawn from

* ``mixture``: class c is ``N(mu_c, sigma^2 I_N)``, ``mu_c ~ N(0, separation^2 I_N)``;
* ``hmm``: one hidden manifold ``a = phi(F z / sqrt(D))`` shared by the classes, class c drawing its
  latent ``z ~ N(nu_c, I_D)`` with ``nu_c ~ N(0, separation^2 I_D)`` (classes are regions of one
  manifold).

The true law of the training set is the mixture with weights ``P_c / P``. Exact true scores:
conditional and unconditional for ``mixture`` (components of a :class:`GaussianMixture`) and for the
linear ``hmm`` (shifted rank-D Gaussians, :class:`~diffsim.data.hmm.SpikedGaussian`; the
unconditional score is the responsibility-weighted sum); a nonlinear ``hmm`` has none.

The empirical scores are those of :class:`ClassConditionalSet`: the whole training set laid out once
as a :class:`~diffsim.score.TrainingSet`, with the class of each point in the same chunk layout.
A class restriction is a **mask** (:meth:`ClassConditionalSet.restrict`), not a per-class
``TrainingSet``: (i) a one-point class is allowed (``TrainingSet.from_points`` needs P >= 2);
(ii) every class has the same shapes, so one compiled pass serves all classes and the class can be a
traced value (``vmap`` over conditions, no recompilation); (iii) posterior argmax indices are global
training indices. The price is that a conditional pass streams over all P points (K times the work
of per-class sets), irrelevant at toy sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim.data.hmm import NONLINEARITIES, HiddenManifold, activation
from diffsim.data.mixture import GaussianMixture
from diffsim.process import delta, m
from diffsim.score import TrainingSet, posterior
from diffsim.process import time_column

__all__ = [
    "CONDITIONAL_DATA",
    "UNCONDITIONAL",
    "ClassConditionalSet",
    "ClassMixture",
    "ClassManifold",
    "make_conditional",
]

CONDITIONAL_DATA = ("mixture", "hmm")
UNCONDITIONAL = -1  # the label of the unconditional branch


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ClassConditionalSet:
    """A labelled training set for streamed conditional and unconditional empirical scores.

    Attributes:
      train: all P points (:class:`~diffsim.score.TrainingSet`); the unconditional set.
      label_chunks: ``[n_chunks, chunk]`` int32 class of each point in ``train``'s layout, -1 on padding.
      class_counts: ``P_c`` per class (static).
    """

    train: TrainingSet
    label_chunks: jax.Array
    class_counts: tuple = field(metadata=dict(static=True))

    @classmethod
    def from_points(cls, points, labels, n_classes: int | None = None, *, chunk_size: int | None = None,
                    batch: int | None = None) -> "ClassConditionalSet":
        """``points [P, N]`` with integer ``labels [P]`` in ``[0, n_classes)`` (default ``max + 1``);
        every class must have at least one point."""
        labels_np = np.asarray(labels)
        points = jnp.asarray(points)
        if labels_np.shape != points.shape[:1] or not np.issubdtype(labels_np.dtype, np.integer):
            raise _validate.ConfigError(
                f"labels has shape {labels_np.shape} and dtype {labels_np.dtype}: expected {points.shape[:1]} integers"
            )
        k = int(labels_np.max()) + 1 if n_classes is None else _validate.integer("n_classes", n_classes, minimum=1)
        if labels_np.min() < 0 or labels_np.max() >= k:
            raise _validate.ConfigError(f"labels are out of range: expected integers in [0, {k})")
        counts = tuple(int(c) for c in np.bincount(labels_np, minlength=k))
        if min(counts) == 0:
            raise _validate.ConfigError(f"class counts {counts}: every class needs at least one point")
        train = TrainingSet.from_points(points, chunk_size, batch=batch)
        pad = train.chunks.shape[0] * train.chunk_size - train.n_points
        lab = np.concatenate([labels_np.astype(np.int32), np.full(pad, -1, np.int32)])
        return cls(train, jnp.asarray(lab.reshape(train.mask.shape)), counts)

    @property
    def n_classes(self) -> int:
        return len(self.class_counts)

    @property
    def labels(self) -> jax.Array:
        """``[P]`` class of each training point."""
        return self.label_chunks.reshape(-1)[: self.train.n_points]

    @property
    def points(self) -> jax.Array:
        return self.train.points

    def class_points(self, c: int) -> np.ndarray:
        """``[P_c, N]`` points of class ``c`` (NumPy, outside traced code)."""
        return np.asarray(self.points)[np.asarray(self.labels) == c]

    def restrict(self, label) -> TrainingSet:
        """The training set seen by the conditional score of ``label`` (a scalar, traced or not):
        the same chunks with the mask ``mask & (class == label)``; ``label = -1`` (:data:`UNCONDITIONAL`)
        keeps every point. ``n_points`` stays P (static, so all classes share one compile); only the
        log-density constant ``log P`` of :func:`~diffsim.score.empirical_log_density` depends on it."""
        label = jnp.asarray(label, jnp.int32)
        keep = jnp.where(label < 0, self.train.mask, self.train.mask & (self.label_chunks == label))
        return replace(self.train, mask=keep)

    def denoiser(self, x, t, label):
        """Exact empirical (conditional if ``label >= 0``) denoiser ``x0_hat [B, N]``, one streamed pass."""
        return posterior(x, t, self.restrict(label)).denoised

    def score(self, x, t, label):
        """Exact empirical score ``(m_t x0_hat - x) / Delta_t`` of the class ``label`` (or of all
        points for ``label = -1``), ``[B, N]``."""
        tt = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])[:, None]
        return (m(tt) * self.denoiser(x, t, label) - x) / delta(tt)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class ClassMixture:
    """Classes as isotropic Gaussians: ``mixture`` is the :class:`GaussianMixture` whose component c
    is class c (weights ``P_c / P``). Exact scores: ``conditional_score(x, t, c)`` is the component's
    ``(m_t mu_c - x) / Gamma_c``, ``Gamma_c = Delta_t + sigma_c^2 m_t^2``; label -1 the mixture's."""

    mixture: GaussianMixture

    @property
    def n_classes(self) -> int:
        return self.mixture.means.shape[0]

    @property
    def dim(self) -> int:
        return self.mixture.dim

    def sample_class(self, key, c: int, n: int):
        noise = jax.random.normal(key, (n, self.dim))
        return self.mixture.means[c] + self.mixture.sigmas[c] * noise

    def score(self, x, t):
        return self.mixture.score(x, t)

    def _component_denoisers(self, x, t):
        """``[K, B, N]`` posterior means ``(sigma_k^2 m_t x + Delta_t mu_k) / Gamma_k`` of each class."""
        tt = time_column(x, t)
        mt, dt = m(tt), delta(tt)
        s2 = self.mixture.sigmas[:, None, None] ** 2
        return (s2 * mt * x[None] + dt * self.mixture.means[:, None, :]) / (dt + s2 * mt**2)

    def denoiser(self, x, t, label):
        """Exact posterior mean ``E[a | x_t = x, class]`` of class ``label`` (scalar, traced allowed;
        -1: unconditional, the responsibility-weighted sum), ``[B, N]``."""
        label = jnp.asarray(label, jnp.int32)
        comp = self._component_denoisers(x, t)
        r = self.mixture.responsibilities(x, t)  # [B, K]
        uncond = jnp.einsum("bk,kbn->bn", r, comp)
        return jnp.where(label < 0, uncond, comp[jnp.maximum(label, 0)])

    def conditional_score(self, x, t, label):
        """Exact score of class ``label`` (-1: unconditional), ``(m_t x0_hat - x) / Delta_t``, ``[B, N]``."""
        tt = time_column(x, t)
        return (m(tt) * self.denoiser(x, t, label) - x) / delta(tt)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class ClassManifold:
    """Classes as regions of one hidden manifold: class c draws ``z ~ N(nu_c, I_D)``,
    ``a = phi(F z / sqrt(D))``. For ``linear`` phi class c is ``N(b_c, F F^T / D)`` with
    ``b_c = F nu_c / sqrt(D)`` and the exact conditional score is the rank-D Gaussian score at
    ``x - m_t b_c``; the unconditional one the responsibility-weighted sum (weights ``P_c / P``)."""

    manifold: HiddenManifold
    latent_means: jax.Array  # [K, D]
    weights: jax.Array  # [K]

    @property
    def n_classes(self) -> int:
        return self.latent_means.shape[0]

    @property
    def dim(self) -> int:
        return self.manifold.dim

    def sample_class(self, key, c: int, n: int):
        f = self.manifold.features
        z = self.latent_means[c] + jax.random.normal(key, (n, f.shape[1]))
        return activation(self.manifold.nonlinearity, z @ f.T / math.sqrt(f.shape[1]))

    def _centers(self):
        return self.latent_means @ self.manifold.features.T / math.sqrt(self.manifold.latent_dim)  # [K, N]

    def _exact(self):
        if self.manifold.nonlinearity != "linear":
            raise _validate.ConfigError(
                f"nonlinearity={self.manifold.nonlinearity!r} has no closed-form class score: expected 'linear'"
            )
        return self.manifold.gaussian_equivalent()

    def _per_class(self, x, t):
        """``[K, B, N]`` posterior means ``b_c + U [m_t lambda / (m_t^2 lambda + Delta_t)] U^T (x - m_t b_c)``
        and ``[K, B]`` log densities of each class (linear phi only)."""
        gauss = self._exact()
        tt = time_column(x, t)
        mt, dt = m(tt), delta(tt)
        gain = mt * gauss.spikes[None, :] / (mt**2 * gauss.spikes[None, :] + dt)  # [B, D]

        def one(b):
            y = x - mt * b
            return b + ((y @ gauss.basis) * gain) @ gauss.basis.T, gauss.log_density(y, t)

        return jax.vmap(one)(self._centers())

    def denoiser(self, x, t, label):
        """Exact posterior mean of class ``label`` (linear phi only; -1: unconditional), ``[B, N]``."""
        label = jnp.asarray(label, jnp.int32)
        comp, logp = self._per_class(x, t)
        r = jax.nn.softmax(jnp.log(self.weights)[:, None] + logp, axis=0)  # [K, B]
        uncond = jnp.sum(r[:, :, None] * comp, axis=0)
        return jnp.where(label < 0, uncond, comp[jnp.maximum(label, 0)])

    def conditional_score(self, x, t, label):
        """Exact score of class ``label`` (linear phi only; -1: unconditional), ``[B, N]``."""
        tt = time_column(x, t)
        return (m(tt) * self.denoiser(x, t, label) - x) / delta(tt)

    def score(self, x, t):
        """Exact unconditional score (linear phi only), ``[B, N]``."""
        return self.conditional_score(x, t, UNCONDITIONAL)


def make_conditional(key, name: str, dim: int, class_counts, *, separation: float = 1.0, sigma: float = 1.0,
                     alpha_d: float = 0.5, nonlinearity: str = "linear", chunk_size: int | None = None):
    """``(model, data)``: a class-conditional data model (:class:`ClassMixture` or
    :class:`ClassManifold`) and a :class:`ClassConditionalSet` with ``class_counts[c]`` points of class c.

    ``mixture``: ``mu_c ~ N(0, separation^2 I_N)``, within-class standard deviation ``sigma``;
    ``hmm``: ``F`` ``[N, round(alpha_d N)]`` and ``nu_c ~ N(0, separation^2 I_D)``. Model parameters
    come from ``fold_in(key, 0)``, the points of class c from ``fold_in(key, 1 + c)``.
    """
    _validate.choice("data", name, CONDITIONAL_DATA)
    dim = _validate.integer("dim", dim, minimum=1)
    counts = tuple(_validate.integer("class_counts", c, minimum=1) for c in class_counts)
    if len(counts) < 2:
        raise _validate.ConfigError(f"class_counts={class_counts!r} is out of range: expected at least 2 classes")
    separation = _validate.positive("separation", separation, upper=1e3)
    sigma = _validate.positive("sigma", sigma, upper=1e3)
    k = len(counts)
    weights = jnp.asarray(counts, dtype=float) / sum(counts)
    k_model = jax.random.fold_in(key, 0)
    if name == "mixture":
        means = separation * jax.random.normal(k_model, (k, dim))
        model: ClassMixture | ClassManifold = ClassMixture(GaussianMixture.create(means, sigma, weights))
    else:
        _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)
        k_f, k_nu = jax.random.split(k_model)
        manifold = HiddenManifold.create(k_f, dim, alpha_d=alpha_d, nonlinearity=nonlinearity)
        nu = separation * jax.random.normal(k_nu, (k, manifold.latent_dim))
        model = ClassManifold(manifold, nu, weights)
    points = jnp.concatenate([model.sample_class(jax.random.fold_in(key, 1 + c), c, n) for c, n in enumerate(counts)])
    labels = np.repeat(np.arange(k, dtype=np.int32), counts)
    return model, ClassConditionalSet.from_points(points, labels, k, chunk_size=chunk_size)
