"""The streamed empirical-score pass as one fused GPU kernel (Pallas, Triton backend).

The XLA kernel (:mod:`diffsim.score._xla`) scans over chunks of the training set; on a GPU
each chunk's ``[B, K]`` logits go to device memory between the logits matmul, the exponentials and
the weighted-sum matmul, and the pass is memory-bound for N <= 64 (``benchmarks/README.md``: 0.1-0.6
of the H100's fp32 peak). This kernel is the flash-attention pattern applied to the posterior over
training points: each program owns ``block_q`` queries and one contiguous part of the training
set, walks that part in blocks of ``block_k`` points, and keeps the logits, the running max and
every accumulator of :class:`~diffsim.score._accumulator.Accumulator` (``s0``, ``s1``, ``s2``, ``tl``,
``argmax``) in registers; only one ``[B, N + 5]`` accumulator per part reaches memory. The parts
are flash-decoding's split (B = 256 queries make only two query blocks, too few programs for a
GPU); their accumulators are merged by the sharded kernel's rule (``merge_across``). The output
is the same ``Accumulator`` as the XLA scan's, so ``finalize``, ``merge`` and the sharded kernel
(:mod:`diffsim.score.sharded`) use it unchanged.

Layer: imports only ``_accumulator``, ``_layout`` and ``_queries`` of :mod:`diffsim.score`.

Logits are ``(m/Delta) x.a - (m^2/Delta) |a|^2/2``: the queries come scaled by ``m/Delta`` and the
per-point bias ``|a|^2/2`` (``+inf`` for padding, so its weight is exactly 0) is added in registers.
N is zero-padded to a power of two >= 16 (Triton's block shapes; zeros change no dot product), B to
a multiple of ``block_q`` and P to a multiple of ``block_k``; the padding is sliced off.

Precision. ``precision=HIGHEST`` (default) lowers both dots to Triton's IEEE fp32 dot: no silent
TF32 (see :mod:`diffsim.score.empirical` for why that matters at small t).
``jax.lax.DotAlgorithmPreset.TF32_TF32_F32_X3`` (three TF32 passes on the tensor cores, close to fp32
accuracy) and ``DEFAULT`` (one TF32 pass) are the faster modes to measure against fp64 with
``benchmarks/kernel_precision.py`` before use.

Status: correct (``tests/test_fused_kernel.py`` runs it in Pallas' interpreter on CPU against the
XLA kernel and fp64, and lowers it for CUDA to Triton without a GPU); its GPU speed has not been
measured yet (no GPU was lent since it was written). ``benchmarks/score_kernel.py --kernel fused``
measures it; the XLA kernel stays the default everywhere until those numbers exist.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from diffsim import _validate
from diffsim.score._accumulator import (
    HIGHEST,
    Accumulator,
    empty_accumulator,
    logits_accumulator,
    merge,
    merge_across,
)
from diffsim.score._layout import TrainingSet
from diffsim.score._queries import logit_coefficients

__all__ = ["fused_accumulate", "default_blocks", "default_splits"]


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def _require_gpu() -> None:
    """The compiled kernel lowers through Triton: refuse other platforms before any work."""
    if jax.default_backend() != "gpu":
        raise _validate.ConfigError(
            f"kernel='fused' needs a GPU (the default backend is {jax.default_backend()!r}): "
            "use kernel='xla', or interpret=True to run the fused kernel in Pallas' interpreter"
        )


def default_blocks(dim: int) -> tuple[int, int]:
    """``(block_q, block_k)`` for N = ``dim``: the ``[block_q, N]`` accumulator of the weighted sum
    lives in registers, so the query block shrinks as N grows (flash-attention's heuristics)."""
    padded = max(16, _next_power_of_two(dim))
    if padded <= 64:
        return 128, 64
    if padded <= 128:
        return 64, 64
    return 64, 32


def default_splits(n_query_blocks: int, n_point_blocks: int, device=None) -> int:
    """Contiguous parts of the training set walked by separate programs (flash-decoding's split):
    enough programs (query blocks x splits) for four per streaming multiprocessor, each part at least
    eight blocks of points long. With B = 256 queries there are only two query blocks, so without
    the split two SMs of an H100's 132 would work."""
    device = jax.devices()[0] if device is None else device
    cores = getattr(device, "core_count", None) or 132
    wanted = -(-4 * cores // max(1, n_query_blocks))
    return int(max(1, min(wanted, n_point_blocks // 8)))


def _kernel(xq_ref, c2_ref, pts_ref, hsq_ref, max_ref, s0_ref, s1_ref, s2_ref, tl_ref, arg_ref, *,
            block_k: int, n_blocks: int, precision):
    """One program: ``block_q`` queries against the ``n_blocks`` blocks of ``block_k`` training
    points of one split, each block's accumulator (the XLA scan's :func:`logits_accumulator`)
    merged into the running one in registers (:func:`merge`)."""
    xq = xq_ref[...]  # [block_q, Np], scaled by m/Delta
    c2 = c2_ref[...]  # [block_q], m^2/Delta (floored > 0)

    def body(k, acc):
        rows = pl.ds(k * block_k, block_k)
        a = pts_ref[rows, :]  # [block_k, Np]
        logits = jax.lax.dot_general(xq, a, (((1,), (1,)), ((), ())), precision=precision,
                                     preferred_element_type=xq.dtype)
        logits = logits - c2[:, None] * hsq_ref[rows][None, :]  # bias +inf for padding: -inf
        return merge(acc, logits_accumulator(logits, a, k * block_k, precision))

    acc = jax.lax.fori_loop(0, n_blocks, body, empty_accumulator(xq.shape[0], xq.shape[1], xq.dtype))
    for ref, value in zip((max_ref, s0_ref, s1_ref, s2_ref, tl_ref, arg_ref), acc):
        ref[...] = value


def _merge_splits(acc: Accumulator) -> Accumulator:
    """Merge per-split accumulators (leading axis, in training-set order) by the sharded kernel's
    all-reduce rule (:func:`~diffsim.score._accumulator.merge_across`), vmapped over the split axis."""
    merged = jax.vmap(partial(merge_across, axis_name="split"), axis_name="split")(acc)
    return jax.tree_util.tree_map(lambda a: a[0], merged)


def _pad_to(a, axis: int, size: int, value=0.0):
    extra = size - a.shape[axis]
    if extra == 0:
        return a
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, extra)
    return jnp.pad(a, widths, constant_values=value)


def fused_accumulate(x, t, train: TrainingSet, *, precision=HIGHEST, index_offset=0,
                     block_q: int | None = None, block_k: int | None = None, splits: int | None = None,
                     num_warps: int | None = None, num_stages: int = 2,
                     interpret: bool = False, debug: bool = False) -> Accumulator:
    """The :class:`~diffsim.score._accumulator.Accumulator` of queries ``x`` (``[B, N]``) at time(s)
    ``t`` over ``train``, computed by one fused Pallas kernel (see the module docstring).

    ``block_q``/``block_k`` (powers of two >= 16; default :func:`default_blocks`), ``splits`` (parts
    of the training set walked in parallel and merged after; default :func:`default_splits`),
    ``num_warps`` (default 4 for N <= 64, else 8) and ``num_stages`` tune it for a GPU. ``interpret=True`` runs
    Pallas' interpreter (any platform; slow, for tests). Without it the kernel needs a GPU.
    ``debug=True`` prints the kernel's jaxpr and, when lowered for a GPU, its Triton IR.
    """
    b, n = x.shape
    if n != train.dim:
        raise _validate.ConfigError(f"x has N={n} columns: expected N={train.dim}, the training set's dimension")
    default_q, default_k = default_blocks(n)
    block_q = default_q if block_q is None else block_q
    block_k = default_k if block_k is None else block_k
    for name, value in (("block_q", block_q), ("block_k", block_k)):
        if _validate.integer(name, value, minimum=16) != _next_power_of_two(value):
            raise _validate.ConfigError(f"{name}={value!r} is out of range: expected a power of two >= 16")
    if not interpret:
        _require_gpu()
    padded_n = max(16, _next_power_of_two(n))
    coef, c2 = logit_coefficients(x, t)
    padded_b = -(-b // block_q) * block_q
    xq = _pad_to(_pad_to(coef[:, None] * x, 1, padded_n), 0, padded_b)
    c2 = _pad_to(c2, 0, padded_b, 1.0)

    points = train.chunks.reshape(-1, n)
    bias = jnp.where(train.mask, train.half_sq_norms, jnp.inf).reshape(-1)
    point_blocks = -(-points.shape[0] // block_k)
    if splits is None:
        splits = 1 if interpret else default_splits(padded_b // block_q, point_blocks)
    splits = _validate.integer("splits", splits, minimum=1, maximum=point_blocks)
    blocks_per_split = -(-point_blocks // splits)
    split_len = blocks_per_split * block_k
    padded_p = splits * split_len
    if padded_p * padded_n >= 2**31:
        raise _validate.ConfigError(
            f"P x N = {padded_p} x {padded_n} (padded) is out of range for kernel='fused': expected fewer "
            "than 2^31 elements per device (32-bit offsets); shard the training set over devices "
            "(diffsim.score.sharded) or use kernel='xla'"
        )
    points = _pad_to(_pad_to(points, 1, padded_n), 0, padded_p)
    bias = _pad_to(bias, 0, padded_p, jnp.inf)

    kernel = partial(_kernel, block_k=block_k, n_blocks=blocks_per_split, precision=precision)
    rows = pl.BlockSpec((None, block_q), lambda i, j: (j, i))
    compiler_params = None
    if not interpret:
        from jax.experimental.pallas import triton as plgpu

        warps = num_warps if num_warps is not None else (4 if padded_n <= 64 else 8)
        compiler_params = plgpu.CompilerParams(num_warps=warps, num_stages=num_stages)
    vector = jax.ShapeDtypeStruct((splits, padded_b), x.dtype)
    out = pl.pallas_call(
        kernel,
        grid=(padded_b // block_q, splits),
        in_specs=[
            pl.BlockSpec((block_q, padded_n), lambda i, j: (i, 0)),
            pl.BlockSpec((block_q,), lambda i, j: (i,)),
            pl.BlockSpec((split_len, padded_n), lambda i, j: (j, 0)),
            pl.BlockSpec((split_len,), lambda i, j: (j,)),
        ],
        out_specs=[rows, rows, pl.BlockSpec((None, block_q, padded_n), lambda i, j: (j, i, 0)), rows, rows, rows],
        out_shape=[vector, vector, jax.ShapeDtypeStruct((splits, padded_b, padded_n), x.dtype), vector, vector,
                   jax.ShapeDtypeStruct((splits, padded_b), jnp.int32)],
        compiler_params=compiler_params,
        interpret=interpret,
        debug=debug,
        name="diffsim_empirical_posterior",
    )(xq, c2, points, bias)
    run_max, s0, s1, s2, tl, arg = out
    first = (jnp.arange(splits, dtype=jnp.int32) * split_len)[:, None]
    acc = Accumulator(max=run_max[:, :b], s0=s0[:, :b], s1=s1[:, :b, :n], s2=s2[:, :b], tl=tl[:, :b],
                      argmax=arg[:, :b] + first)
    acc = _merge_splits(acc) if splits > 1 else jax.tree_util.tree_map(lambda a: a[0], acc)
    return acc._replace(argmax=acc.argmax + index_offset)
