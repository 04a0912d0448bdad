"""Accuracy of the kernel's matmul precision modes against fp64 (issue 4).

    python benchmarks/kernel_precision.py [--json]

For N = 64, P = 4096 standard Gaussian training points and B = 256 queries of three kinds (noised
from a training point at time t, near the midpoint of two training points, pure noise), compares
with an fp64 numpy reference, at t in {1e-3, 1e-2, 1e-1, 1}:

* ``fp32-highest``: the kernel on the default device with ``precision=HIGHEST`` (the default);
* ``fp32-default``: the kernel with ``precision=jax.lax.Precision.DEFAULT`` on the default device
  (TF32 matmuls on NVIDIA Ampere and later, one bf16 pass on TPU; identical to HIGHEST on CPU);
* on a GPU also ``fused-highest``, ``fused-tf32x3`` (the fused Pallas kernel of
  :mod:`diffsim.score._fused` at HIGHEST and with three TF32 passes) and ``xla-tf32x3``;
* ``tf32-emulated`` and ``bf16-emulated``: the kernel's two matmuls with operands rounded to 10 (TF32)
  or 7 (bf16) mantissa bits and exact products and sums, i.e. what those units compute, whatever
  the machine.

Reported per mode and t: max abs error of ``log Z`` (the log-density up to constants), of the max
posterior weight and of the denoiser (any component), and the max error of the score (Euclidean
norm) relative to ``sqrt(N / Delta_t)``, the norm of the score at a typical noised point.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from common import device_info  # noqa: E402
from diffsim.score.empirical import TrainingSet, posterior  # noqa: E402

N, P, B = 64, 4096, 256
TIMES = (1e-3, 1e-2, 1e-1, 1.0)


def queries(a, t, rng):
    """Noised from a training point (half), near a midpoint of two (a quarter), pure noise (a quarter)."""
    mt, dt = math.exp(-t), -math.expm1(-2 * t)
    mu = rng.integers(0, len(a), size=(2, B))
    xi = rng.standard_normal((B, a.shape[1]))
    x = mt * a[mu[0]] + math.sqrt(dt) * xi
    q = B // 4
    x[:q] = xi[:q]
    x[q : 2 * q] = mt * 0.5 * (a[mu[0, q : 2 * q]] + a[mu[1, q : 2 * q]]) + 0.01 * math.sqrt(dt) * xi[q : 2 * q]
    return x


def _round_mantissa(v, bits):
    mant, expo = np.frexp(np.asarray(v, np.float64))
    scale = 2.0 ** (bits + 1)
    return np.ldexp(np.round(mant * scale) / scale, expo)


def reference(x, a, t, bits=None):
    """``(log Z, max weight, denoised)`` in fp64; with ``bits``, the matmul operands are first rounded
    to that many mantissa bits (emulating TF32 / bf16 units)."""
    r = (lambda v: v) if bits is None else (lambda v: _round_mantissa(v, bits))
    mt, dt = math.exp(-t), -math.expm1(-2 * t)
    logits = r(mt / dt * x) @ r(a).T - mt**2 / dt * 0.5 * np.sum(a**2, axis=1)
    top = logits.max(axis=1, keepdims=True)
    w = np.exp(logits - top)
    z = w.sum(axis=1, keepdims=True)
    w /= z
    return (top + np.log(z))[:, 0], w.max(axis=1), r(w) @ r(a)


def errors(got, ref, x, t):
    mt, dt = math.exp(-t), -math.expm1(-2 * t)
    score, ref_score = (mt * got[2] - x) / dt, (mt * ref[2] - x) / dt
    return {
        "log_norm": float(np.max(np.abs(got[0] - ref[0]))),
        "max_weight": float(np.max(np.abs(got[1] - ref[1]))),
        "denoised": float(np.max(np.abs(got[2] - ref[2]))),
        "score_rel": float(np.max(np.linalg.norm(score - ref_score, axis=1)) / math.sqrt(x.shape[1] / dt)),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((P, N))
    train = TrainingSet.from_points(jnp.asarray(a, jnp.float32), chunk_size=512)
    kernel = jax.jit(posterior, static_argnames=("precision", "kernel"))
    info = device_info()
    modes = [("fp32-highest", jax.lax.Precision.HIGHEST, "xla"), ("fp32-default", jax.lax.Precision.DEFAULT, "xla")]
    if info["platform"] == "gpu":
        tf32x3 = jax.lax.DotAlgorithmPreset.TF32_TF32_F32_X3
        modes += [("fused-highest", jax.lax.Precision.HIGHEST, "fused"), ("fused-tf32x3", tf32x3, "fused"),
                  ("xla-tf32x3", tf32x3, "xla")]
    rows = []
    for t in TIMES:
        x = queries(a, t, rng)
        ref = reference(x, a, t)
        for mode, precision, name in modes:
            post = kernel(jnp.asarray(x, jnp.float32), jnp.float32(t), train, precision=precision, kernel=name)
            got = tuple(np.asarray(v, np.float64) for v in (post.log_norm, post.max_weight, post.denoised))
            rows.append({"mode": mode, "t": t, "device": info["device_kind"], **errors(got, ref, x, t)})
        for mode, bits in (("tf32-emulated", 10), ("bf16-emulated", 7)):
            rows.append({"mode": mode, "t": t, "device": "emulated", **errors(reference(x, a, t, bits), ref, x, t)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"device: {info}; N={N}, P={P}, B={B}; max errors against fp64")
    print(f"{'mode':>14} {'t':>7} {'log Z':>10} {'max w':>10} {'denoised':>10} {'score rel':>10}")
    for r in rows:
        print(f"{r['mode']:>14} {r['t']:>7g} {r['log_norm']:>10.2e} {r['max_weight']:>10.2e} {r['denoised']:>10.2e} {r['score_rel']:>10.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
