"""Benchmark of the streamed empirical-score kernel against the machine's matmul peak and a dense
baseline (issue 4).

    python benchmarks/score_kernel.py [--json] [--quick] [--max-seconds S] [--chunk K1,K2,...]
                                      [--kernel xla,fused] [--precision highest|tf32x3|tf32]
                                      [--fused-config 128x64x0,64x32x0,...]

In one run: measures the fp32 matmul peak of the default device (square matmuls at
``precision=HIGHEST``), then for N in {16, 64, 256}, P in {1e3, 1e4, 1e5, 1e6}, B in {256, 1024}
times ``diffsim.score.empirical_score`` (one evaluation of the score of B queries; ``4 B N P``
flops) and reports

* ``fraction_of_peak``: ``4 B N P / seconds`` over the measured peak;
* ``speedup_vs_dense``: time of the dense baseline written the way peers do it (full ``[B, P]``
  logits, softmax, weighted sum; same HIGHEST precision) over diffsim's time; null where the baseline
  does not fit in memory or would exceed the time budget;
* ``peak_memory_bytes``: diffsim's working memory beyond its inputs (XLA's buffer assignment of the
  compiled executable: temporaries + outputs; available without running, so it is reported for every
  cell, timed or not); on GPU/TPU ``device_peak_bytes`` adds the allocator's high-water mark
  (``jax.Device.memory_stats()``, process-wide, inputs included).

Cells whose predicted call time exceeds ``--max-seconds`` are not timed (``skipped``). The fitted
exponents of the cost model ``seconds ~ P^a N^b B^c`` (cells with P >= 1e4) are printed with the
targets of the issue. ``--json`` prints the rows as a JSON list on stdout (the summary goes to
stderr); ``--quick`` runs a reduced grid (P up to 3e4) in about a minute on two CPU cores.

``--kernel xla,fused`` times each implementation of the pass (``fused``: the Pallas kernel of
:mod:`diffsim.score._fused`, GPU only); ``--precision`` sets the matmul precision of the kernel and
of the dense baseline alike (``highest``: true fp32, the default; ``tf32x3``: three TF32 passes on
tensor cores; ``tf32``: one). ``fraction_of_peak`` is always against the fp32 HIGHEST peak, so the
reduced modes can exceed 1; check their accuracy with ``benchmarks/kernel_precision.py``.
``--fused-config QxKxS,...`` times the fused kernel with each query block Q, point block K and
number of splits S (0: the default) instead of its defaults, to tune it on a new GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from common import (  # noqa: E402
    HIGHEST,
    compile_timed,
    device_info,
    device_memory_limit,
    device_peak_bytes,
    fit_exponents,
    matmul_peak,
    time_call,
    working_memory,
)
from diffsim.score.empirical import (  # noqa: E402
    KERNELS,
    TrainingSet,
    default_chunk_size,
    empirical_score,
    finalize,
    score_from_posterior,
)
from diffsim.score._fused import fused_accumulate  # noqa: E402

FULL = {"dims": (16, 64, 256), "points": (10**3, 10**4, 10**5, 10**6), "batches": (256, 1024)}
QUICK = {"dims": (16, 64, 256), "points": (10**3, 10**4, 3 * 10**4), "batches": (256, 1024)}
MEMORY_CELL = (64, 10**6, 1024)  # (N, P, B) of the 2 GiB working-memory target
T_EVAL = 0.5
PRECISIONS = {
    "highest": HIGHEST,
    "tf32x3": jax.lax.DotAlgorithmPreset.TF32_TF32_F32_X3,
    "tf32": jax.lax.DotAlgorithmPreset.TF32_TF32_F32,
}


def dense_score(x, t, points, precision=HIGHEST):
    """The baseline as peers write it: full ``[B, P]`` logits, softmax, weighted sum."""
    mt, dt = jnp.exp(-t), -jnp.expm1(-2.0 * t)
    logits = (mt * jnp.matmul(x, points.T, precision=precision) - 0.5 * mt**2 * jnp.sum(points**2, axis=-1)) / dt
    weights = jax.nn.softmax(logits, axis=-1)
    return (mt * jnp.matmul(weights, points, precision=precision) - x) / dt


def _spec(shape, dtype=jnp.float32):
    return jax.ShapeDtypeStruct(shape, dtype)


def _train_spec(p, n, chunk):
    n_chunks = -(-p // chunk)
    return TrainingSet(_spec((n_chunks, chunk, n)), _spec((n_chunks, chunk)), _spec((n_chunks, chunk), jnp.bool_), p)


def _score_fn(kernel, precision, config=None):
    """diffsim's score of one variant: ``kernel`` at ``precision``; for the fused kernel ``config``
    ``(block_q, block_k, splits)`` overrides its defaults (0 keeps one)."""
    if config is None:
        return partial(empirical_score, precision=precision, kernel=kernel)
    block_q, block_k, splits = (v or None for v in config)

    def score(x, t, train):
        acc = fused_accumulate(x, t, train, precision=precision, block_q=block_q, block_k=block_k, splits=splits)
        return score_from_posterior(x, t, finalize(acc))

    return score


def _variants(kernels, fused_configs):
    """``[(name, kernel, config)]``: each kernel, the fused one once per ``--fused-config``."""
    out = []
    for kernel in kernels:
        if kernel == "fused" and fused_configs:
            out += [("f" + "x".join(map(str, c)), kernel, c) for c in fused_configs]
        else:
            out.append((kernel, kernel, None))
    return out


def _measure_cell(n, p, b, *, peak, budget, min_seconds, chunk_override, previous, variant=("xla", "xla", None),
                  precision="highest", dense_times=None):
    """One (N, P, B) cell for one ``variant`` (see :func:`_variants`); ``previous`` maps (N, B,
    variant name) to the last timed cell for time predictions; ``dense_times`` maps (N, P, B) to the
    dense baseline's seconds, so that the baseline is timed once per cell, not once per variant or
    chunk."""
    dense_times = {} if dense_times is None else dense_times
    platform = jax.devices()[0].platform
    chunk = chunk_override or default_chunk_size(p, b, n, platform)
    flops = 4.0 * b * n * p
    x_spec, t_spec = _spec((b, n)), _spec(())
    kernel_name, kernel_kind, config = variant
    score = _score_fn(kernel_kind, PRECISIONS[precision], config)
    kernel, kernel_compile = compile_timed(score, x_spec, t_spec, _train_spec(p, n, chunk))
    dense, dense_compile = compile_timed(partial(dense_score, precision=PRECISIONS[precision]), x_spec, t_spec, _spec((p, n)))
    row = {
        "N": n, "P": p, "B": b, "chunk": chunk, "kernel": kernel_name, "precision": precision,
        "fraction_of_peak": None, "speedup_vs_dense": None,
        "peak_memory_bytes": working_memory(kernel),
        "dense_peak_memory_bytes": working_memory(dense),
        "seconds": None, "dense_seconds": None, "gflops": None,
        "compile_seconds": round(kernel_compile, 3), "skipped": None, "dense_skipped": None,
    }
    last = previous.get((n, b, kernel_name))
    predicted = last["seconds"] * p / last["P"] if last else flops / (0.2 * peak)
    dense_predicted = last["dense_seconds"] * p / last["P"] if last and last["dense_seconds"] else 4 * predicted
    inputs = 4 * (p * n + b * n)
    if predicted > budget:
        row["skipped"] = f"predicted {predicted:.0f} s > --max-seconds {budget:g}"
        row["dense_skipped"] = row["skipped"]
        return row
    if row["dense_peak_memory_bytes"] is not None and row["dense_peak_memory_bytes"] + inputs > device_memory_limit():
        row["dense_skipped"] = "does not fit in memory"
    elif dense_predicted > budget:
        row["dense_skipped"] = f"predicted {dense_predicted:.0f} s > --max-seconds {budget:g}"

    key_a, key_x = jax.random.split(jax.random.PRNGKey(n * 7919 + b))
    points = jax.random.normal(key_a, (p, n), jnp.float32)
    x = jax.random.normal(key_x, (b, n), jnp.float32)
    t = jnp.float32(T_EVAL)
    train = TrainingSet.from_points(points, chunk_size=chunk)
    try:
        timing = time_call(kernel, x, t, train, min_seconds=min_seconds)
    except jax.errors.JaxRuntimeError as err:  # e.g. out of device memory
        row["skipped"] = row["dense_skipped"] = f"failed: {str(err).splitlines()[0][:80]}"
        return row
    row.update(seconds=timing["seconds"], gflops=flops / timing["seconds"] / 1e9)
    if row["dense_skipped"] is None:
        try:
            if (n, p, b) not in dense_times:
                dense_times[(n, p, b)] = time_call(dense, x, t, points, min_seconds=min_seconds)["seconds"]
            row["dense_seconds"] = dense_times[(n, p, b)]
            row["speedup_vs_dense"] = row["dense_seconds"] / timing["seconds"]
        except jax.errors.JaxRuntimeError as err:
            row["dense_skipped"] = f"failed: {str(err).splitlines()[0][:80]}"
    row["device_peak_bytes"] = device_peak_bytes()
    del points, x, train
    return row


def targets(rows, platform) -> list[str]:
    """The issue's targets, each 'met', 'not met' or 'not measured' with the figures behind it."""
    def verdict(name, values, ok):
        values = [v for v in values if v is not None]
        if not values:
            return f"{name}: not measured"
        return f"{name}: {'met' if all(ok(v) for v in values) else 'not met'} ({', '.join(f'{v:.3g}' for v in values)})"

    big = [r for r in rows if r["P"] >= 10**4]
    scope = "" if platform == "cpu" else f" [CPU target; measured on {platform}]"
    out = [
        verdict(f"fraction of peak >= 0.6 for N >= 64, P >= 1e4{scope}",
                [r["fraction_of_peak"] for r in big if r["N"] >= 64], lambda v: v >= 0.6),
        verdict(f"fraction of peak >= 0.3 for N = 16, P >= 1e4{scope}",
                [r["fraction_of_peak"] for r in big if r["N"] == 16], lambda v: v >= 0.3),
        verdict("speedup vs dense >= 2.5 at P = 1e5",
                [r["speedup_vs_dense"] for r in rows if r["P"] == 10**5], lambda v: v >= 2.5),
    ]
    n, p, b = MEMORY_CELL
    mem = [r["peak_memory_bytes"] / 2**30 for r in rows if (r["N"], r["P"], r["B"]) == MEMORY_CELL and r["peak_memory_bytes"]]
    out.append(verdict(f"working memory < 2 GiB at P = 1e6, N = {n}, B = {b} (GiB)", mem, lambda v: v < 2.0))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list on stdout")
    parser.add_argument("--quick", action="store_true", help="reduced grid (P <= 3e4), about a minute on 2 CPU cores")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="skip timing cells predicted to take longer per call (default 60, quick 2)")
    parser.add_argument("--chunk", type=lambda v: [int(c) for c in v.split(",")], default=[None],
                        help="override the kernel's chunk size; a comma list times each (for tuning)")
    parser.add_argument("--kernel", type=lambda v: v.split(","), default=["xla"],
                        help=f"implementations of the pass to time, a comma list of {', '.join(KERNELS)} "
                        "(fused: the Pallas kernel, GPU only)")
    parser.add_argument("--fused-config", type=lambda v: [tuple(int(c) for c in q.split("x")) for q in v.split(",")],
                        default=None, help="fused-kernel variants QxKxS (query block, point block, splits; 0: "
                        "default), a comma list, to tune on a GPU")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="highest",
                        help="matmul precision of the kernel and the dense baseline (default highest: true fp32)")
    parser.add_argument("--min-seconds", type=float, default=None,
                        help="time each cell by repeats filling this long (at most 20 repeats), minimum kept "
                        "(default 1, quick 0.2); longer filters out more interference on a shared machine")
    args = parser.parse_args(argv)
    for kernel in args.kernel:
        if kernel not in KERNELS:
            parser.error(f"--kernel {kernel!r} is not known: expected a comma list of {', '.join(KERNELS)}")
        if kernel == "fused" and jax.default_backend() != "gpu":
            parser.error(f"--kernel fused needs a GPU (the default backend is {jax.default_backend()!r})")
    grid = QUICK if args.quick else FULL
    budget = args.max_seconds if args.max_seconds is not None else (2.0 if args.quick else 60.0)
    min_seconds = args.min_seconds if args.min_seconds is not None else (0.2 if args.quick else 1.0)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))

    info = device_info()
    peak_sizes = (1024, 2048) if args.quick and info["platform"] == "cpu" else None
    peak_start = matmul_peak(peak_sizes, min_seconds=min_seconds)
    log(f"device: {info}")
    cells = [(n, p, b) for n in grid["dims"] for b in grid["batches"] for p in grid["points"]]
    if MEMORY_CELL not in cells:
        cells.append(MEMORY_CELL)  # memory-only in --quick (its timing exceeds the budget)
    rows, previous, dense_times = [], {}, {}
    variants = _variants(args.kernel, args.fused_config)
    runs = ((cell, chunk, variant) for cell in cells for chunk in args.chunk for variant in variants)
    for (n, p, b), chunk, variant in runs:
        row = _measure_cell(n, p, b, peak=peak_start["flops"], budget=budget, min_seconds=min_seconds,
                            chunk_override=chunk, previous=previous, variant=variant, precision=args.precision,
                            dense_times=dense_times)
        rows.append(row)
        if row["seconds"]:
            previous[(n, b, variant[0])] = row
        done = f"{row['seconds'] * 1e3:.2f} ms" if row["seconds"] else row["skipped"]
        print(f"  N={n} P={p} B={b} {variant[0]}: {done}", file=sys.stderr, flush=True)
    # the peak again at the end; a busy machine only lowers a measurement, so keep the larger
    peak_end = matmul_peak(peak_sizes, min_seconds=min_seconds)
    peak = max(peak_start, peak_end, key=lambda m: m["flops"])
    log(f"fp32 matmul peak (HIGHEST, {peak['n']}^2 fp32, best of start/end: "
        f"{peak_start['flops'] / 1e9:.1f} / {peak_end['flops'] / 1e9:.1f}): {peak['flops'] / 1e9:.1f} GFLOP/s")
    names = [v[0] for v in variants]
    log(f"precision {args.precision}; kernel {', '.join(names)}")
    log(f"{'N':>4} {'P':>8} {'B':>5} {'chunk':>6} {'kernel':>12} {'ms':>10} {'GFLOP/s':>8} {'frac':>6} {'dense ms':>10} "
        f"{'speedup':>7} {'mem MiB':>8} {'dense MiB':>9}")
    fmt = lambda v, spec: format("-", f">{spec.split('.')[0]}") if v is None else format(v, spec)  # noqa: E731
    mib = lambda v: None if v is None else v / 2**20  # noqa: E731
    for row in rows:
        if row["seconds"]:
            row["fraction_of_peak"] = row["gflops"] * 1e9 / peak["flops"]
        row.update(device=info["device_kind"], platform=info["platform"], peak_gflops=peak["flops"] / 1e9)
        note = row["skipped"] or (row["dense_skipped"] and f"dense: {row['dense_skipped']}")
        log(f"{row['N']:>4} {row['P']:>8} {row['B']:>5} {row['chunk']:>6} {row['kernel']:>12} "
            f"{fmt(row['seconds'] and row['seconds'] * 1e3, '10.2f')} {fmt(row['gflops'], '8.1f')} "
            f"{fmt(row['fraction_of_peak'], '6.2f')} {fmt(row['dense_seconds'] and row['dense_seconds'] * 1e3, '10.2f')} "
            f"{fmt(row['speedup_vs_dense'], '7.2f')} {fmt(mib(row['peak_memory_bytes']), '8.1f')} "
            f"{fmt(mib(row['dense_peak_memory_bytes']), '9.1f')}" + (f"  ({note})" if note else ""))
    for kernel in names:
        mine = [r for r in rows if r["kernel"] == kernel]
        label = "" if len(names) == 1 else f" [{kernel}]"
        exponents = fit_exponents([r for r in mine if r["P"] >= 10**4 and r["seconds"]], ("P", "N", "B"))
        log(f"fitted cost exponents{label} (seconds ~ P^a N^b B^c, P >= 1e4): "
            + ", ".join(f"{v}: {'-' if e is None else f'{e:.2f}'}" for v, e in exponents.items()))
        for line in targets(mine, info["platform"]):
            log(f"target{label} " + line)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
