"""The empirical score sharded across devices (THEORY.md section 1).

The work of one evaluation, ``B`` queries against ``P`` training points, is spread over a device
mesh with two axes (:func:`make_mesh`):

* ``"points"``: each device streams its own shard of the training set with the kernel of
  :mod:`diffsim.score.empirical` (:func:`~diffsim.score.empirical.accumulate`), and the per-device
  accumulators are combined by an all-reduce that is :func:`~diffsim.score.empirical.merge` written
  with collectives (:func:`merge_across`, defined in :mod:`diffsim.score._accumulator` and
  re-exported here)::

      M  = pmax_d max_d,                f_d = exp(max_d - M)
      s0 = psum_d f_d s0_d,             s1  = psum_d f_d s1_d,           s2 = psum_d f_d^2 s2_d
      tl = psum_d f_d (tl_d + (max_d - M) s0_d)
      argmax = pmin over the devices with max_d = M of argmax_d     (first index, as a single device)

  Communication per evaluation: one all-reduce of ``[B, N + 4]`` numbers, independent of P.
* ``"batch"``: each device takes a slice of the queries (trajectories); no communication.

Both go through :func:`jax.shard_map` on a :class:`jax.sharding.Mesh`, so the same code runs on one
CPU (a 1 x 1 mesh), one GPU, the GPUs of a node, a TPU slice, or several hosts. Results equal the
single-device kernel up to the order of floating-point sums (``tests/test_sharding.py``, 8 forced
CPU devices); the argmax is identical.

Multi-host (one process per host, every process runs the same program)::

    import jax
    jax.distributed.initialize()            # coordinator address etc. from the cluster environment
    from diffsim.score.sharded import ShardedEmpiricalScore, make_mesh, shard_queries
    mesh = make_mesh(points=jax.device_count())          # all devices of all hosts share P
    drift = ShardedEmpiricalScore.from_points(points, mesh)   # `points`: same array on every host
    x0 = shard_queries(jax.random.normal(key, (B, N)), mesh)
    traj = diffsim.sample.sample(key, drift, x0, times)

Every process must build the same ``points`` (same key); each keeps only its own devices' shards on
device. :func:`shard_training_set` and :func:`shard_queries` place host data with
:func:`jax.make_array_from_callback`, which works for any number of processes; gather results with
``jax.experimental.multihost_utils.process_allgather``. CPU-only clusters also need
``jax.config.update("jax_cpu_collectives_implementation", "gloo")`` before ``initialize``; the slow
test ``tests/test_sharding.py::test_two_processes_give_single_device_trajectories`` runs this path
with two local processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as Spec

from diffsim import _validate
from diffsim.score._accumulator import HIGHEST, Posterior, finalize, merge_across
from diffsim.score._layout import TrainingSet, default_chunk_size
from diffsim.score._queries import checked_queries, unbatch
from diffsim.score.empirical import KERNELS, Kernel, accumulate, score_and_stats

try:  # jax >= 0.6
    _shard_map = partial(jax.shard_map, check_vma=False)
except AttributeError:  # pragma: no cover - older jax
    from jax.experimental.shard_map import shard_map as _experimental_shard_map

    _shard_map = partial(_experimental_shard_map, check_rep=False)

__all__ = [
    "BATCH",
    "POINTS",
    "make_mesh",
    "shard_training_set",
    "shard_queries",
    "merge_across",
    "sharded_posterior",
    "ShardedEmpiricalScore",
]

BATCH = "batch"
POINTS = "points"


def make_mesh(points: int | None = None, batch: int = 1, *, devices=None) -> Mesh:
    """A ``[batch, points]`` device mesh with axes ``("batch", "points")``.

    ``devices`` defaults to ``jax.devices()`` (all devices of all processes); ``points`` defaults
    to ``len(devices) // batch``. The mesh uses the first ``batch * points`` devices. Sharding along
    P suits the studies (a few hundred trajectories against up to millions of points); sharding along
    B needs no communication and suits large batches.
    """
    devices = list(jax.devices() if devices is None else devices)
    batch = _validate.integer("batch (devices along the batch axis)", batch, minimum=1, maximum=len(devices))
    if points is None:
        points = len(devices) // batch
    points = _validate.integer("points (devices along the points axis)", points, minimum=1,
                               maximum=len(devices) // batch)
    grid = np.array(devices[: batch * points], dtype=object).reshape(batch, points)
    return Mesh(grid, (BATCH, POINTS))


def _place(array, sharding: NamedSharding) -> jax.Array:
    """Put ``array`` on the devices of ``sharding`` (any number of processes)."""
    if jax.process_count() == 1:
        return jax.device_put(array, sharding)
    host = np.asarray(array)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def shard_training_set(points, mesh: Mesh, *, chunk_size: int | None = None, batch: int | None = None) -> TrainingSet:
    """The training set laid out for ``mesh``: its chunks split evenly along the ``"points"`` axis.

    ``points`` is a ``[P, N]`` array or a :class:`TrainingSet` (its chunk size is kept). The number
    of chunks is padded with masked chunks to a multiple of the number of devices along
    ``"points"``, so any P works, and global indices are those of the unsharded set (padding only at
    the end). ``chunk_size`` defaults to :func:`default_chunk_size` for the per-device share of P and
    the per-device ``batch`` (default 256 queries per call, split along ``"batch"``). The result is a
    plain :class:`TrainingSet` (the unsharded kernel accepts it too) whose arrays are sharded along
    their leading axis.
    """
    n_shards = mesh.shape[POINTS]
    if isinstance(points, TrainingSet):
        train = points
    else:
        points = jnp.asarray(points)
        if points.ndim != 2:
            raise _validate.ConfigError(
                f"points has shape {points.shape}: expected a [P, N] array of training points"
            )
        if chunk_size is None:
            batch = 256 if batch is None else _validate.integer("batch", batch, minimum=1)
            per_device = -(-points.shape[0] // n_shards)
            chunk_size = default_chunk_size(
                per_device, -(-batch // mesh.shape[BATCH]), points.shape[1], mesh.devices.flat[0].platform
            )
        train = TrainingSet.from_points(points, chunk_size=chunk_size)
    n_chunks = train.chunks.shape[0]
    extra = (-n_chunks) % n_shards
    pad = lambda a: jnp.pad(a, ((0, extra),) + ((0, 0),) * (a.ndim - 1))  # noqa: E731
    sharding = NamedSharding(mesh, Spec(POINTS))
    return TrainingSet(
        chunks=_place(pad(train.chunks), sharding),
        half_sq_norms=_place(pad(train.half_sq_norms), sharding),
        mask=_place(pad(train.mask), sharding),
        n_points=train.n_points,
    )


def shard_queries(x, mesh: Mesh) -> jax.Array:
    """Place queries ``x`` (``[B, ...]``) split along the ``"batch"`` axis (B must be divisible by
    the number of devices on that axis) and replicated along ``"points"``."""
    x = jnp.asarray(x) if jax.process_count() == 1 else np.asarray(x)
    if x.shape[0] % mesh.shape[BATCH]:
        raise _validate.ConfigError(
            f"B={x.shape[0]} is out of range: expected a multiple of the {mesh.shape[BATCH]} devices "
            "along the batch axis"
        )
    return _place(x, NamedSharding(mesh, Spec(BATCH)))


def _local_posterior(x, t, chunks, half_sq, mask, *, n_points, precision, kernel) -> Posterior:
    """Body of the shard_map: this device's queries against this device's shard of points."""
    shard = TrainingSet(chunks, half_sq, mask, n_points)
    first = jax.lax.axis_index(POINTS) * (chunks.shape[0] * chunks.shape[1])
    acc = accumulate(x, t, shard, precision=precision, index_offset=first.astype(jnp.int32), kernel=kernel)
    return finalize(merge_across(acc, POINTS))


def sharded_posterior(x: jax.Array, t, train: TrainingSet, mesh: Mesh, *, precision=HIGHEST,
                      kernel: Kernel = "xla") -> Posterior:
    """Posterior statistics of queries ``x`` (``[B, N]``, or one ``[N]`` query) at time(s) ``t``
    (scalar or ``[B]``), computed on ``mesh``: training set split along ``"points"``, queries along
    ``"batch"``. Inputs are checked as in :func:`~diffsim.score.empirical.posterior`.

    ``train`` comes from :func:`shard_training_set` for this mesh (its number of chunks must be a
    multiple of the devices along ``"points"``). B need not divide the batch axis: the queries are
    padded and the padding dropped. Same result as :func:`~diffsim.score.empirical.posterior` up to
    the order of floating-point sums; jit-compatible (use it inside ``jax.jit``, ``lax.scan``).
    ``kernel`` is the per-device pass (``"xla"`` or, on GPUs, ``"fused"``).
    """
    x, t, single = checked_queries(x, t, train.dim)
    return unbatch(_posterior_on_mesh(x, t, train, mesh, precision, kernel), single)


def _posterior_on_mesh(x, t, train: TrainingSet, mesh: Mesh, precision, kernel) -> Posterior:
    """:func:`sharded_posterior` of checked queries ``x [B, N]``, ``t [B]``."""
    n_shards, n_batch = mesh.shape[POINTS], mesh.shape[BATCH]
    if train.chunks.shape[0] % n_shards:
        raise _validate.ConfigError(
            f"train has {train.chunks.shape[0]} chunks: expected a multiple of the {n_shards} devices "
            "along the points axis (build it with shard_training_set(points, mesh))"
        )
    b = x.shape[0]
    extra = (-b) % n_batch
    if extra:
        x = jnp.pad(x, ((0, extra), (0, 0)))
        t = jnp.pad(t, (0, extra), constant_values=1.0)
    body = partial(_local_posterior, n_points=train.n_points, precision=precision, kernel=kernel)
    rows, points = Spec(BATCH), Spec(POINTS)
    post = _shard_map(
        body,
        mesh=mesh,
        in_specs=(rows, rows, points, points, points),
        out_specs=Posterior(*(rows,) * len(Posterior._fields)),  # type: ignore[arg-type]  # a Posterior of PartitionSpecs: the out_specs pytree
    )(x, t, train.chunks, train.half_sq_norms, train.mask)
    return jax.tree_util.tree_map(lambda a: a[:b], post) if extra else post


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class ShardedEmpiricalScore:
    """The empirical score on a device mesh, as a sampler drift: ``(x, t) -> (score, stats)``.

    Drop-in for :class:`~diffsim.score.empirical.EmpiricalScore` in :func:`diffsim.sample.sample`
    (same outputs, same ``stats``). ``train`` is data (a new training set of the same shape does not
    recompile); ``mesh``, ``precision`` and ``kernel`` are static. Compared and hashed by identity,
    so ``jax.jit(drift)`` works.
    """

    train: TrainingSet
    mesh: Mesh = field(metadata=dict(static=True))
    precision: jax.lax.Precision = field(default=HIGHEST, metadata=dict(static=True))
    kernel: Kernel = field(default="xla", metadata=dict(static=True))

    @classmethod
    def from_points(cls, points, mesh: Mesh | None = None, *, chunk_size: int | None = None,
                    batch: int | None = None, kernel: Kernel = "xla") -> "ShardedEmpiricalScore":
        """Shard ``points`` (``[P, N]``) over ``mesh`` (default :func:`make_mesh`: all devices along
        ``"points"``); ``chunk_size`` and ``batch`` as in :func:`shard_training_set`."""
        mesh = make_mesh() if mesh is None else mesh
        return cls(shard_training_set(points, mesh, chunk_size=chunk_size, batch=batch), mesh, kernel=kernel)

    def __post_init__(self):
        _validate.choice("kernel", self.kernel, KERNELS)

    def __call__(self, x: jax.Array, t) -> tuple[jax.Array, dict[str, jax.Array]]:
        x, t, single = checked_queries(x, t, self.train.dim)
        post = _posterior_on_mesh(x, t, self.train, self.mesh, self.precision, self.kernel)
        return unbatch(score_and_stats(x, t, post, self.train.n_points), single)
