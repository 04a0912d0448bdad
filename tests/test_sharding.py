"""Sharded empirical score == single-device kernel (diffsim.score.sharded).

The 8-device checks run in one subprocess, because ``XLA_FLAGS=--xla_force_host_platform_device_count=8``
must be set before jax is imported. The subprocess computes single-device and sharded results with
the same inputs and saves them; the tests below compare them. Sums run in a different order across
devices, so floating-point fields agree to a few fp32 ulps of their scale (rtol 2e-5); argmax is exact.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim import ConfigError
from diffsim.score import EmpiricalScore, TrainingSet
from diffsim.score.sharded import ShardedEmpiricalScore, make_mesh, sharded_posterior

N_DEVICES = 8
# (name, points-axis size, batch-axis size, P, chunk): P = 1001 is not a multiple of 8 or of the
# chunk; with chunk 256 it fills 4 chunks, so 4 of 8 devices hold only padding.
LAYOUTS = [
    ("points8", 8, 1, 1001, 64),
    ("batch8", 1, 8, 1001, 64),
    ("grid4x2", 4, 2, 1001, 64),
    ("points8_empty_shards", 8, 1, 1001, 256),
]
TIMES = [0.003, 0.3]
B = 37  # not a multiple of the batch axis

WORKER = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from diffsim.process import time_grid
    from diffsim.sample import sample
    from diffsim.score import EmpiricalScore, TrainingSet, posterior
    from diffsim.score.sharded import ShardedEmpiricalScore, make_mesh, shard_training_set, sharded_posterior

    layouts, times, b, out = json.loads(sys.argv[1])
    assert jax.device_count() == 8, jax.devices()
    res = {}
    reference = jax.jit(posterior)
    key_a, key_x, key_s = jax.random.split(jax.random.PRNGKey(0), 3)
    for name, n_points_axis, n_batch_axis, p, chunk in layouts:
        a = jax.random.normal(key_a, (p, 12))
        x = jax.random.normal(key_x, (b, 12))
        x = x.at[:4].set(0.99 * a[:4] + 0.05 * x[:4])  # some queries close to training points
        mesh = make_mesh(points=n_points_axis, batch=n_batch_axis)
        single = TrainingSet.from_points(a, chunk_size=chunk)
        sharded = shard_training_set(a, mesh, chunk_size=chunk)
        res[name + "/shard_shapes"] = np.array(sorted({s.data.shape[0] for s in sharded.chunks.addressable_shards}))
        res[name + "/n_shards"] = np.array(len({s.device for s in sharded.chunks.addressable_shards}))
        fn = jax.jit(lambda x, t, tr: sharded_posterior(x, t, tr, mesh))
        for t in times:
            ref = reference(x, t, single)
            got = fn(x, t, sharded)
            for field in ref._fields:
                res[f"{name}/{t}/{field}/single"] = np.asarray(getattr(ref, field))
                res[f"{name}/{t}/{field}/sharded"] = np.asarray(getattr(got, field))
        # no recompilation when t or the data values change
        fn(x + 1.0, 0.123, shard_training_set(2.0 * a, mesh, chunk_size=chunk))
        res[name + "/cache_size"] = np.array(fn._cache_size())

    # the fused kernel on every device (run in Pallas' interpreter here), P and B sharded
    import functools
    from diffsim.score import _fused as fused  # where kernel="fused" looks fused_accumulate up
    fused.fused_accumulate = functools.partial(fused.fused_accumulate, interpret=True, splits=2)
    a = jax.random.normal(key_a, (1001, 12))
    x = jax.random.normal(key_x, (b, 12))
    x = x.at[:4].set(0.99 * a[:4] + 0.05 * x[:4])
    mesh = make_mesh(points=4, batch=2)
    fn = jax.jit(lambda x, t, tr: sharded_posterior(x, t, tr, mesh, kernel="fused"))
    for t in times:
        got = fn(x, t, shard_training_set(a, mesh, chunk_size=64))
        for field in got._fields:
            res[f"fused_grid4x2/{t}/{field}/sharded"] = np.asarray(getattr(got, field))

    # sampler: 40 SDE steps from noise, records every 10 steps
    p, n, bt = 500, 8, 16
    a = jax.random.normal(key_a, (p, n))
    x0 = jax.random.normal(key_x, (bt, n))
    times_grid = time_grid(3.0, 0.01, 40, "log")
    ref = sample(key_s, EmpiricalScore(TrainingSet.from_points(a, chunk_size=64)), x0, times_grid, record_every=10)
    drift = ShardedEmpiricalScore.from_points(a, make_mesh(points=4, batch=2), chunk_size=64)
    got = sample(key_s, drift, x0, times_grid, record_every=10)
    res["sample/grid4x2/final"] = np.asarray(got.final)
    res["sample/grid4x2/argmax"] = np.asarray(got.records["argmax"])
    res["sample/grid4x2/max_weight"] = np.asarray(got.records["max_weight"])
    res["sample/single/final"] = np.asarray(ref.final)
    res["sample/single/argmax"] = np.asarray(ref.records["argmax"])
    res["sample/single/max_weight"] = np.asarray(ref.records["max_weight"])
    np.savez(out, **res)
    """
)


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory):
    out = tmp_path_factory.mktemp("sharding") / "results.npz"
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={N_DEVICES}").strip()
    env["JAX_PLATFORMS"] = "cpu"
    arg = json.dumps([LAYOUTS, TIMES, B, str(out)])
    proc = subprocess.run([sys.executable, "-c", WORKER, arg], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return dict(np.load(out))


@pytest.mark.parametrize("layout", [row[0] for row in LAYOUTS] + ["fused_grid4x2"])
def test_sharded_posterior_equals_single_device(eight_devices, layout):
    """Each layout against the single-device XLA kernel; ``fused_grid4x2`` runs the fused Pallas
    kernel (interpreted, 2 splits) on each of 4 x 2 devices."""
    res = eight_devices
    reference = "grid4x2" if layout == "fused_grid4x2" else layout  # same points and queries
    for t in TIMES:
        for field in ("denoised", "log_norm", "max_weight", "argmax", "y2", "entropy"):
            single = res[f"{reference}/{t}/{field}/single"]
            sharded = res[f"{layout}/{t}/{field}/sharded"]
            assert sharded.shape == single.shape == ((B, 12) if field == "denoised" else (B,))
            if field == "argmax":
                np.testing.assert_array_equal(sharded, single, err_msg=f"{layout} t={t}")
            else:
                scale = max(1.0, float(np.max(np.abs(single))))
                np.testing.assert_allclose(sharded, single, rtol=2e-5, atol=2e-5 * scale, err_msg=f"{layout} t={t} {field}")


def test_training_set_is_spread_over_the_points_axis(eight_devices):
    res = eight_devices
    # 1001 points in chunks of 64 = 16 chunks: 2 per device on an 8-way points axis, 4 on a 4-way one
    assert res["points8/n_shards"] == 8 and list(res["points8/shard_shapes"]) == [2]
    assert list(res["grid4x2/shard_shapes"]) == [4]
    assert list(res["batch8/shard_shapes"]) == [16]  # replicated: every device holds all chunks
    # 1001 points = 4 chunks of 256, padded to 8: one chunk per device, the last four all padding
    assert list(res["points8_empty_shards/shard_shapes"]) == [1]


def test_no_recompilation_when_time_or_data_change_on_eight_devices(eight_devices):
    for layout in [row[0] for row in LAYOUTS]:
        assert int(eight_devices[layout + "/cache_size"]) == 1, layout


def test_sharded_sampler_trajectories_equal_single_device(eight_devices):
    res, layout = eight_devices, "grid4x2"  # training set over 4 devices, trajectories over 2
    np.testing.assert_array_equal(res[f"sample/{layout}/argmax"], res["sample/single/argmax"])
    np.testing.assert_allclose(res[f"sample/{layout}/max_weight"], res["sample/single/max_weight"], atol=1e-4)
    np.testing.assert_allclose(res[f"sample/{layout}/final"], res["sample/single/final"], rtol=1e-4, atol=1e-4)


def test_one_device_mesh_matches_kernel_in_process():
    a = jax.random.normal(jax.random.PRNGKey(3), (333, 5))
    x = jax.random.normal(jax.random.PRNGKey(4), (7, 5))
    mesh = make_mesh(points=1, devices=jax.devices()[:1])
    drift = ShardedEmpiricalScore.from_points(a, mesh, chunk_size=50)
    score, stats = jax.jit(lambda d, y: d(y, 0.2))(drift, x)
    ref_score, ref_stats = jax.jit(lambda d, y: d(y, 0.2))(EmpiricalScore(TrainingSet.from_points(a, chunk_size=50)), x)
    np.testing.assert_allclose(score, ref_score, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(stats["argmax"], ref_stats["argmax"])
    np.testing.assert_allclose(stats["log_density"], ref_stats["log_density"], rtol=1e-5)


def test_bad_meshes_and_layouts_are_rejected():
    with pytest.raises(ConfigError, match="points"):
        make_mesh(points=len(jax.devices()) + 1)
    with pytest.raises(ConfigError, match="batch"):
        make_mesh(batch=0)
    fake = type("FakeMesh", (), {"shape": {"points": 2, "batch": 1}})()
    train = TrainingSet.from_points(jnp.ones((10, 2)), chunk_size=4)  # 3 chunks, not a multiple of 2
    with pytest.raises(ConfigError, match="chunks"):
        sharded_posterior(jnp.ones((3, 2)), 0.5, train, fake)


MULTI_PROCESS_WORKER = textwrap.dedent(
    """
    import json, os, sys
    port, pid = sys.argv[1], int(sys.argv[2])
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid)
    import numpy as np
    from jax.experimental import multihost_utils
    from diffsim.process import time_grid
    from diffsim.sample import sample
    from diffsim.score import EmpiricalScore, TrainingSet, posterior
    from diffsim.score.sharded import ShardedEmpiricalScore, make_mesh, shard_queries

    a = jax.random.normal(jax.random.PRNGKey(0), (1001, 12))  # the same points in every process
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 12))
    times = time_grid(2.0, 0.01, 10, "log")
    ref = sample(jax.random.PRNGKey(2), EmpiricalScore(TrainingSet.from_points(a, chunk_size=64)), x, times, record_every=5)
    out = {"process_count": jax.process_count(), "device_count": jax.device_count()}
    for name, mesh in [("points4", make_mesh(points=4)), ("grid2x2", make_mesh(points=2, batch=2))]:
        drift = ShardedEmpiricalScore.from_points(a, mesh, chunk_size=64)
        traj = sample(jax.random.PRNGKey(2), drift, shard_queries(x, mesh), times, record_every=5)
        final = np.asarray(multihost_utils.process_allgather(traj.final, tiled=True))
        argmax = np.asarray(multihost_utils.process_allgather(traj.records["argmax"], tiled=True))
        out[name] = {"final_err": float(np.max(np.abs(final - np.asarray(ref.final)))),
                     "argmax_equal": bool(np.array_equal(argmax, np.asarray(ref.records["argmax"])))}
    print("RESULT " + json.dumps(out), flush=True)
    """
)


@pytest.mark.slow
def test_two_processes_give_single_device_trajectories():
    """Multi-host path (jax.distributed.initialize): 2 CPU processes x 2 devices, gloo collectives."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    procs = [subprocess.Popen([sys.executable, "-c", MULTI_PROCESS_WORKER, port, str(pid)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for pid in (0, 1)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (stdout, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr[-3000:]
        result = json.loads(next(line for line in stdout.splitlines() if line.startswith("RESULT "))[7:])
        assert result["process_count"] == 2 and result["device_count"] == 4
        for name in ("points4", "grid2x2"):
            assert result[name]["argmax_equal"], name
            assert result[name]["final_err"] < 1e-4, (name, result[name])
