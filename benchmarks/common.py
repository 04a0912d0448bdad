"""Shared helpers of the benchmarks: device description, timing, matmul peak, memory.

Timings are wall-clock seconds of a compiled executable (compilation excluded and reported apart),
with ``jax.block_until_ready`` on the outputs, after at least one warm-up call; the minimum over the
repeats is reported (the least disturbed run on a shared machine).
"""

from __future__ import annotations

import math
import os
import time

import jax
import jax.numpy as jnp

HIGHEST = jax.lax.Precision.HIGHEST


def device_info() -> dict:
    """Platform, device kind and count of the default backend (``cpu``, ``gpu``, ``tpu``)."""
    dev = jax.devices()[0]
    info = {"platform": dev.platform, "device_kind": dev.device_kind, "device_count": jax.device_count()}
    if dev.platform == "cpu":
        info["cpu_cores"] = os.cpu_count()
    return info


def compile_timed(fn, *args):
    """``(compiled, seconds)``: ahead-of-time compilation of ``jax.jit(fn)`` for ``args`` (arrays or
    ``jax.ShapeDtypeStruct``s; nothing is allocated)."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def time_call(compiled, *args, min_seconds: float = 1.0, max_repeats: int = 20, warmup: int = 1) -> dict:
    """Time ``compiled(*args)``: ``warmup`` untimed calls, then enough repeats to fill
    ``min_seconds`` (at least 2 when a call is short, 1 when it alone exceeds ``min_seconds``).
    Returns ``{"seconds": min, "median": ..., "repeats": n}``."""
    first = None
    for _ in range(warmup):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        first = time.perf_counter() - start
    repeats = 1 if first is None else int(min(max_repeats, max(2, math.ceil(min_seconds / max(first, 1e-9)))))
    if first is not None and first > min_seconds:
        repeats = 1
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    times.sort()
    return {"seconds": times[0], "median": times[len(times) // 2], "repeats": repeats}


def matmul_peak(sizes=None, min_seconds: float = 1.0) -> dict:
    """The machine's fp32 matmul peak: best FLOP/s of square ``n x n`` fp32 matmuls at
    ``precision=HIGHEST`` (true fp32, no TF32) on the default device, over ``sizes`` (default
    1024-3072 on CPU, 4096-16384 on accelerators). Returns ``{"flops": ..., "n": ...}``."""
    platform = jax.devices()[0].platform
    if sizes is None:
        sizes = (1024, 2048, 3072) if platform == "cpu" else (4096, 8192, 16384)
    best = {"flops": 0.0, "n": None}
    matmul = lambda a, b: jnp.matmul(a, b, precision=HIGHEST)  # noqa: E731
    for n in sizes:
        try:
            a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
            b = jax.random.normal(jax.random.PRNGKey(1), (n, n), jnp.float32)
            compiled, _ = compile_timed(matmul, a, b)
            seconds = time_call(compiled, a, b, min_seconds=min_seconds)["seconds"]
        except jax.errors.JaxRuntimeError:  # out of memory on a small device: keep the smaller sizes
            continue
        flops = 2.0 * n**3 / seconds
        if flops > best["flops"]:
            best = {"flops": flops, "n": n}
        del a, b
    return best


def working_memory(compiled) -> int | None:
    """Bytes an executable allocates beyond its arguments (XLA's buffer assignment: temporaries plus
    outputs), from ``compiled.memory_analysis()``; None where the backend does not report it."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # pragma: no cover - backend without memory analysis
        return None
    if stats is None:
        return None
    return int(stats.temp_size_in_bytes + stats.output_size_in_bytes)


def device_peak_bytes() -> int | None:
    """``peak_bytes_in_use`` of the first device (GPU/TPU: the allocator's high-water mark since the
    process started; None on CPU, which does not report it)."""
    stats = jax.devices()[0].memory_stats()
    return None if not stats else int(stats.get("peak_bytes_in_use", 0)) or None


def device_memory_limit() -> int:
    """Bytes usable on the first device: the allocator's limit on GPU/TPU, 80% of physical memory
    on CPU."""
    stats = jax.devices()[0].memory_stats()
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def fit_exponents(rows, variables, value="seconds"):
    """Least-squares exponents of ``value ~ c * prod_v v^e_v`` over ``rows`` (dicts): the cost model
    ``log value = log c + sum_v e_v log v``. Returns ``{v: e_v}`` (None if too few rows)."""
    import numpy as np

    rows = [r for r in rows if r.get(value)]
    varying = [v for v in variables if len({r[v] for r in rows}) > 1]
    out = {v: None for v in variables}
    if not varying or len(rows) < len(varying) + 2:
        return out
    design = np.array([[1.0] + [math.log(r[v]) for v in varying] for r in rows])
    target = np.array([math.log(r[value]) for r in rows])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    out.update({v: float(c) for v, c in zip(varying, coef[1:])})
    return out
