"""Training speed of the tiny denoisers (issue 6): DSM steps per second, and ensemble cost.

    python benchmarks/train_speed.py [--json] [--quick]

For each model (time-conditioned residual MLP of width W and depth 2; a small transformer) on N = 8
data, P = 4096 training points, minibatch B: one jitted ``lax.scan`` dispatch of K steps
(:func:`diffsim.nets.train.train_steps`, the hot loop of :func:`diffsim.nets.train.train`) is timed
for an ensemble of M = 1 and M = 8 members trained together by ``vmap``. Reported: compile seconds
(first dispatch), steps per second of one member (M = 1), member-steps per second at M = 8, and the
ensemble cost ratio ``time(M = 8) / time(M = 1)`` per step (8 would mean no gain from batching the
ensemble). Timings: minimum over the timed dispatches (the least disturbed on a shared machine); the
1-minute load average is printed because other processes share the cores.

End to end: :func:`diffsim.nets.train.train` of the width-64 MLP for ``E2E_STEPS`` steps, compilation
included, for M = 1 and M = 8 (the ratio a user sees for a short run).
``--quick``: the MLP of width 64 only, fewer dispatches, no end-to-end run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from common import device_info, matmul_peak  # noqa: E402
from flax import nnx  # noqa: E402

from diffsim.nets.models import ModelConfig, build_model  # noqa: E402
from diffsim.nets.train import TrainConfig, dsm_loss, init_ensemble, train, train_steps  # noqa: E402

DIM, P = 8, 4096
K = 200  # steps per dispatch
E2E_STEPS = 2000
MODELS = {
    "mlp-w32": ModelConfig(width=32, depth=2, parameterisation="eps"),
    "mlp-w64": ModelConfig(width=64, depth=2, parameterisation="eps"),
    "mlp-w128": ModelConfig(width=128, depth=2, parameterisation="eps"),
    "transformer-w32-h4": ModelConfig(architecture="transformer", width=32, depth=2, heads=4, token_dim=2,
                                      parameterisation="eps"),
}


def time_dispatches(model: ModelConfig, config: TrainConfig, members: int, repeats: int) -> dict:
    """Compile seconds and best seconds per dispatch of ``config.steps_per_dispatch`` steps."""
    keys = jax.random.split(jax.random.PRNGKey(0), members)
    graphdef, state = init_ensemble(model, config, DIM, keys)
    points = jnp.broadcast_to(jax.random.normal(jax.random.PRNGKey(1), (P, DIM)), (members, P, DIM))
    n_points = jnp.full((members,), P, jnp.int32)
    start = time.perf_counter()
    state, losses = train_steps(state, points, n_points, graphdef=graphdef, config=config)
    jax.block_until_ready(losses)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state, losses = train_steps(state, points, n_points, graphdef=graphdef, config=config)
        jax.block_until_ready(losses)
        times.append(time.perf_counter() - start)
    flops = members * config.steps_per_dispatch * step_flops(model, config)
    return {"compile_seconds": compile_s, "dispatch_seconds": min(times), "flops": flops}


def step_flops(model: ModelConfig, config: TrainConfig) -> float:
    """FLOPs of one member's training step (loss and gradient on one minibatch; the optimizer
    update is negligible), from XLA's cost analysis of that computation alone (the analysis counts
    a loop body once, so it is not read off the scanned dispatch)."""
    net = build_model(model, DIM, jax.random.PRNGKey(0))
    graphdef, params = nnx.split(net)
    a = jnp.zeros((config.batch_size, DIM))
    t = jnp.full((config.batch_size,), 0.5)

    def loss(p):
        return dsm_loss(nnx.merge(graphdef, p), a, t, a, config.weighting)

    cost = jax.jit(jax.value_and_grad(loss)).lower(params).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"])


def end_to_end(model: ModelConfig, members: int) -> float:
    """Seconds of :func:`train` (init, compile, ``E2E_STEPS`` steps) for ``members`` seeds."""
    # K // 2 steps per dispatch: a config not compiled by the timing runs, so compilation is included
    config = TrainConfig(steps=E2E_STEPS, batch_size=128, steps_per_dispatch=K // 2, n_checkpoints=4)
    points = jax.random.normal(jax.random.PRNGKey(1), (P, DIM))
    start = time.perf_counter()
    result = train(model, config, points, jax.random.split(jax.random.PRNGKey(2), members))
    jax.block_until_ready(result.state)
    return time.perf_counter() - start


def run(quick: bool) -> dict:
    peak = matmul_peak()["flops"]
    names = ["mlp-w64"] if quick else list(MODELS)
    batches = (128,) if quick else (64, 128)
    repeats = 3
    rows = []
    for name in names:
        for batch in batches:
            config = TrainConfig(steps=K, batch_size=batch, steps_per_dispatch=K, n_checkpoints=1)
            one = time_dispatches(MODELS[name], config, 1, repeats)
            eight = time_dispatches(MODELS[name], config, 8, repeats)
            k = config.steps_per_dispatch
            fraction = one["flops"] / one["dispatch_seconds"] / peak
            rows.append({
                "model": name, "batch": batch,
                "compile_seconds_m1": one["compile_seconds"], "compile_seconds_m8": eight["compile_seconds"],
                "steps_per_second_m1": k / one["dispatch_seconds"],
                "member_steps_per_second_m8": 8 * k / eight["dispatch_seconds"],
                "ensemble_cost_ratio": eight["dispatch_seconds"] / one["dispatch_seconds"],
                "fraction_of_peak_m1": fraction,
                "fraction_of_peak_m8": eight["flops"] / eight["dispatch_seconds"] / peak,
                "ensemble_ratio_floor": 8.0 * fraction,
            })
            print(f"  {name:>20} B={batch:<4} {rows[-1]['steps_per_second_m1']:8.0f} steps/s (M=1)  "
                  f"{rows[-1]['member_steps_per_second_m8']:8.0f} member-steps/s (M=8)  "
                  f"ratio {rows[-1]['ensemble_cost_ratio']:.2f} (floor {rows[-1]['ensemble_ratio_floor']:.2f})",
                  file=sys.stderr, flush=True)
    e2e = None
    if not quick:
        one, eight = end_to_end(MODELS["mlp-w64"], 1), end_to_end(MODELS["mlp-w64"], 8)
        e2e = {"model": "mlp-w64", "batch": 128, "steps": E2E_STEPS, "seconds_m1": one, "seconds_m8": eight,
               "ensemble_cost_ratio": eight / one}
    return {"device": device_info(), "load_average_1min": os.getloadavg()[0], "matmul_peak_flops": peak, "dim": DIM, "n_train": P,
            "steps_per_dispatch": K, "rows": rows, "end_to_end": e2e}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="MLP of width 64 only")
    args = parser.parse_args(argv)
    result = run(args.quick)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"DSM training speed, N = {DIM}, P = {P}, {result['steps_per_dispatch']} steps per jitted scan; "
          f"{result['device']}; load average {result['load_average_1min']:.1f}")
    print(f"fp32 matmul peak {result['matmul_peak_flops'] / 1e9:.1f} GFLOP/s; flops per step from XLA's cost analysis")
    head = (f"{'model':>20} {'B':>4} {'steps/s M=1':>12} {'member-steps/s M=8':>19} {'cost(8)/cost(1)':>16} "
            f"{'peak M=1':>9} {'peak M=8':>9} {'floor':>6} {'compile s':>10}")
    print(head)
    print("-" * len(head))
    for r in result["rows"]:
        print(f"{r['model']:>20} {r['batch']:>4} {r['steps_per_second_m1']:>12.0f} {r['member_steps_per_second_m8']:>19.0f} "
              f"{r['ensemble_cost_ratio']:>16.2f} {r['fraction_of_peak_m1']:>9.2f} {r['fraction_of_peak_m8']:>9.2f} "
              f"{r['ensemble_ratio_floor']:>6.2f} {r['compile_seconds_m1']:>10.1f}")
    e2e = result["end_to_end"]
    if e2e:
        print(f"end to end (train(), compile included, {e2e['steps']} steps, {e2e['model']} B={e2e['batch']}): "
              f"M=1 {e2e['seconds_m1']:.1f}s, M=8 {e2e['seconds_m8']:.1f}s, ratio {e2e['ensemble_cost_ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
