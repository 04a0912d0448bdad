"""End-to-end benchmark: one collapse measurement with diffsim against a plain jitted dense loop
(issue 4).

    python benchmarks/collapse_end_to_end.py [--json] [--quick] [--kernel xla|fused]

The measurement (THEORY.md section 4, as in ``diffsim.studies.collapse``): isotropic Gaussian data,
N = 60, alpha = 0.2 (P = round(exp(alpha N)) = 162755 training points), 256 backward-SDE trajectories
from N(0, I) at t = 5 down to t = 1e-3 on a 600-step log grid, the posterior observables (max
weight, argmax, Y2, entropy, log-density) recorded every 5 steps, then the condensation time and the
mean freezing time. Two implementations, each one jitted function, timed in one run:

* diffsim: ``diffsim.sample.sample`` driven by ``EmpiricalScore`` (the streamed kernel; the
  observables come out of the same pass);
* dense: the same computation as peers write it, a ``lax.scan`` over steps whose score builds the
  full ``[B, P]`` logits, softmax and weighted sum (max weight and argmax read off the weights).

Both use the same noise (the same key splitting), so they integrate the same trajectories and
must agree on the observables (printed). Compilation is excluded and reported; a short run of each
warms the process up first; each timing is one call on CPU, the fastest of 3 with ``--quick`` or on an accelerator. Also prints the exponent of the cost in the number of steps (diffsim at
S/4, S/2 and S steps). ``--quick``: N = 50 (P = 22026), 128 trajectories, 60 steps.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from common import HIGHEST, compile_timed, device_info, fit_exponents, working_memory  # noqa: E402
from diffsim.data import IsotropicGaussian  # noqa: E402
from diffsim.observe import condensation_time, freezing_times  # noqa: E402
from diffsim.process import delta, m, time_grid  # noqa: E402
from diffsim.sample import sample  # noqa: E402
from diffsim.score import EmpiricalScore, TrainingSet  # noqa: E402
from diffsim.score.empirical import KERNELS  # noqa: E402
from diffsim.theory.collapse import collapse_time_isotropic  # noqa: E402

FULL = {"dim": 60, "alpha": 0.2, "trajectories": 256, "steps": 600}
QUICK = {"dim": 50, "alpha": 0.2, "trajectories": 128, "steps": 60}
T_MAX, T_MIN, RECORD_EVERY = 5.0, 1e-3, 5


def observables(record_times, max_weight, argmax):
    """Condensation time (estimator 1) and mean freezing time (estimator 2) from the records."""
    return {
        "t_condensation": condensation_time(record_times, max_weight),
        "t_freezing": jnp.mean(freezing_times(record_times, argmax)),
        "final_argmax": argmax[-1],
    }


def diffsim_collapse(key, x0, train, times, kernel="xla"):
    """diffsim: the lax.scan sampler with the streamed empirical score and its recorded statistics."""
    traj = sample(key, EmpiricalScore(train, kernel=kernel), x0, times, record_every=RECORD_EVERY)
    return observables(traj.times, traj.records["max_weight"], traj.records["argmax"])


def dense_collapse(key, x0, points, times):
    """The same measurement as a plain jitted dense loop: full [B, P] logits, softmax, weighted sum
    at every step; the Euler-Maruyama step and the noise of ``diffsim.sample``."""
    n_steps = times.shape[0] - 1
    keys = jax.random.split(key, n_steps)
    sq_norms = jnp.sum(points**2, axis=-1)

    def dense_posterior(x, t):
        mt, dt = m(t), delta(t)
        logits = (mt * jnp.matmul(x, points.T, precision=HIGHEST) - 0.5 * mt**2 * sq_norms) / dt
        w = jax.nn.softmax(logits, axis=-1)
        score = (mt * jnp.matmul(w, points, precision=HIGHEST) - x) / dt
        return score, jnp.max(w, axis=-1), jnp.argmax(w, axis=-1).astype(jnp.int32)

    def step(x, inputs):
        t, t_next, k = inputs
        h = t - t_next
        score, max_w, arg = dense_posterior(x, t)
        z = jax.random.normal(k, x.shape, x.dtype)
        return x + h * (x + 2.0 * score) + jnp.sqrt(2.0 * h) * z, (max_w, arg)

    x_final, (max_w, arg) = jax.lax.scan(step, x0, (times[:-1], times[1:], keys))
    _, final_w, final_arg = dense_posterior(x_final, times[-1])
    rec_max_w = jnp.concatenate([max_w[::RECORD_EVERY], final_w[None]], 0)
    rec_arg = jnp.concatenate([arg[::RECORD_EVERY], final_arg[None]], 0)
    rec_times = jnp.concatenate([times[:-1:RECORD_EVERY], times[-1:]], 0)
    return observables(rec_times, rec_max_w, rec_arg)


def _timed(compiled, *args, repeats=1):
    """``(seconds, outputs on the host)``: the fastest of ``repeats`` calls of a compiled function."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - start)
    return best, jax.device_get(out)


def _grid(steps):
    return jnp.asarray(time_grid(T_MAX, T_MIN, steps, "log"), jnp.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--quick", action="store_true", help="N = 50, 128 trajectories, 60 steps")
    parser.add_argument("--kernel", choices=KERNELS, default="xla",
                        help="diffsim's implementation of the pass (fused: the Pallas kernel, GPU only)")
    args = parser.parse_args(argv)
    if args.kernel == "fused" and jax.default_backend() != "gpu":
        parser.error(f"--kernel fused needs a GPU (the default backend is {jax.default_backend()!r})")
    diffsim_run = partial(diffsim_collapse, kernel=args.kernel)
    cfg = QUICK if args.quick else FULL
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else (lambda *a: print(*a, flush=True))
    n, alpha, b, steps = cfg["dim"], cfg["alpha"], cfg["trajectories"], cfg["steps"]
    p = round(math.exp(alpha * n))
    info = device_info()
    repeats = 3 if args.quick or info["platform"] != "cpu" else 1  # a full CPU run takes minutes per call
    log(f"device: {info}")
    log(f"collapse measurement: N={n}, alpha={alpha}, P={p}, B={b}, {steps} steps, records every {RECORD_EVERY}")

    data_key, init_key, sde_key = jax.random.split(jax.random.PRNGKey(0), 3)
    points = IsotropicGaussian(n, 1.0).sample(data_key, p).astype(jnp.float32)
    train = TrainingSet.from_points(points, batch=b)
    x0 = jax.random.normal(init_key, (b, n), jnp.float32)

    # warm the process up (thread pools, allocator, device context) with short runs of both
    for fn, data in ((diffsim_run, train), (dense_collapse, points)):
        warm, _ = compile_timed(fn, sde_key, x0, data, _grid(10))
        jax.block_until_ready(warm(sde_key, x0, data, _grid(10)))

    result = {"N": n, "P": p, "B": b, "steps": steps, "alpha": alpha, "device": info["device_kind"],
              "platform": info["platform"], "chunk": train.chunk_size, "kernel": args.kernel}
    runs = {}
    for name, fn, data in (("diffsim", diffsim_run, train), ("dense", dense_collapse, points)):
        compiled, compile_s = compile_timed(fn, sde_key, x0, data, _grid(steps))
        seconds, runs[name] = _timed(compiled, sde_key, x0, data, _grid(steps), repeats=repeats)
        result[f"seconds_{name}"] = seconds
        result[f"compile_seconds_{name}"] = compile_s
        result[f"working_memory_bytes_{name}"] = working_memory(compiled)
        log(f"{name:>8}: {seconds:.2f} s (compile {compile_s:.1f} s)")
    result["speedup"] = result["seconds_dense"] / result["seconds_diffsim"]

    scaling = [{"steps": steps, "seconds": result["seconds_diffsim"]}]
    for s in (steps // 4, steps // 2):
        compiled, _ = compile_timed(diffsim_run, sde_key, x0, train, _grid(s))
        scaling.append({"steps": s, "seconds": _timed(compiled, sde_key, x0, train, _grid(s), repeats=repeats)[0]})
    result["steps_exponent"] = fit_exponents(scaling, ("steps",))["steps"]
    result["steps_scaling"] = sorted(scaling, key=lambda r: r["steps"])

    for key in ("t_condensation", "t_freezing"):
        result[f"{key}_diffsim"] = float(runs["diffsim"][key])
        result[f"{key}_dense"] = float(runs["dense"][key])
    result["final_argmax_agreement"] = float(np.mean(runs["diffsim"]["final_argmax"] == runs["dense"]["final_argmax"]))
    result["theory/t_collapse"] = float(collapse_time_isotropic(alpha, 1.0))

    log(f"speedup diffsim vs plain jitted dense loop: {result['speedup']:.2f}x (target >= 3)")
    log("cost vs steps: " + ", ".join(f"{r['steps']}: {r['seconds']:.2f} s" for r in result["steps_scaling"])
        + f"; fitted exponent {result['steps_exponent']:.2f}")
    log(f"condensation time: diffsim {result['t_condensation_diffsim']:.4f}, dense {result['t_condensation_dense']:.4f}; "
        f"freezing time: diffsim {result['t_freezing_diffsim']:.4f}, dense {result['t_freezing_dense']:.4f}; "
        f"same final training point: {result['final_argmax_agreement']:.1%}; "
        f"theory t_C (N -> infinity) = {result['theory/t_collapse']:.4f}")
    if args.json:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
