"""Precision of the streamed kernel at small t (diffsim.score.empirical, THEORY.md section 1).

At small t the logits ``l = (m x.a - m^2 |a|^2 / 2) / Delta`` are ``O(N / Delta)`` while the
differences that set the weights are O(1), so matmul rounding is amplified by ``m / Delta``. The
tolerance used here is the standard a-priori bound, stated once in :func:`logit_error_bound`: with
unit roundoff u, a length-N dot product errs by at most ``gamma_N |x| |a|``, ``gamma_N ~ N u``;
adding the rounding of the inputs to fp32 and of the ``|a|^2 / 2`` term gives, per query,

    eps = (N + 8) u [ (m / Delta) |x| max|a| + (m^2 / Delta) max|a|^2 / 2 ].

A perturbation of every logit by at most eps moves ``log Z`` by at most eps and multiplies every
weight by a factor in ``[exp(-2 eps), exp(2 eps)]``; the bounds on each statistic follow (below),
plus a summation slack ``P u`` (recursive summation of P terms) for the final fp32 sums.
"""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim.process import time_grid
from diffsim.sample import _run, sample
from diffsim.score import TrainingSet, posterior, posterior_dense
from diffsim.score.sharded import ShardedEmpiricalScore, make_mesh, sharded_posterior

FP32_U = 2.0**-24
TF32_U = 2.0**-11  # TF32 keeps 10 explicit mantissa bits
P, N, B = 2000, 32, 64
SMALL_TIMES = [1e-3, 1e-2, 1e-1]


def logit_error_bound(x, a, t, u):
    """A-priori bound ``eps [B]`` on the logit error of a matmul evaluated with unit roundoff u."""
    mt, dt = math.exp(-t), -math.expm1(-2 * t)
    n = x.shape[1]
    x_norm = np.linalg.norm(x, axis=1)
    a_max = np.max(np.linalg.norm(a, axis=1))
    return (n + 8) * u * (mt / dt * x_norm * a_max + mt**2 / dt * a_max**2 / 2)


def _problem(t):
    """fp64 training points and three kinds of queries at time t: noised from a training point (the
    condensed regime), near the midpoint of two training points (a posterior split between them,
    where logit errors move the weights), and pure noise (far from every point)."""
    key_a, key_mu, key_xi = jax.random.split(jax.random.PRNGKey(7), 3)
    a = np.asarray(jax.random.normal(key_a, (P, N), jnp.float64))
    mu = np.asarray(jax.random.choice(key_mu, P, (2, B)))
    xi = np.asarray(jax.random.normal(key_xi, (B, N), jnp.float64))
    mt, dt = math.exp(-t), -math.expm1(-2 * t)
    x = mt * a[mu[0]] + math.sqrt(dt) * xi
    q = B // 4
    x[:q] = xi[:q]
    x[q : 2 * q] = mt * 0.5 * (a[mu[0, q : 2 * q]] + a[mu[1, q : 2 * q]]) + 0.01 * math.sqrt(dt) * xi[q : 2 * q]
    return a, x


def _check_within_bound(got, ref, eps, a, what):
    """Every statistic of ``got`` within the perturbation bounds of ``ref`` (fp64) for logit errors
    ``eps [B]``; argmax equal wherever the fp64 gap to the runner-up logit exceeds ``2 eps``."""
    slack = P * FP32_U
    grow = np.expm1(2 * eps)
    a_scale = np.max(np.abs(a))
    np.testing.assert_array_less(np.abs(got.log_norm - ref.log_norm), eps + slack * (1 + np.abs(ref.log_norm)), err_msg=what)
    np.testing.assert_array_less(np.abs(got.max_weight - ref.max_weight), grow * ref.max_weight + slack, err_msg=what)
    np.testing.assert_array_less(np.abs(got.y2 - ref.y2), np.expm1(4 * eps) * ref.y2 + slack, err_msg=what)
    ent_bound = 2 * eps + grow * ref.entropy + slack * (1 + 2 * math.log(P))
    np.testing.assert_array_less(np.abs(got.entropy - ref.entropy), ent_bound, err_msg=what)
    den_err = np.max(np.abs(np.asarray(got.denoised) - np.asarray(ref.denoised)), axis=1)
    np.testing.assert_array_less(den_err, (grow + slack) * a_scale, err_msg=what)


def _top2_gap(x, a, t):
    mt, dt = math.exp(-t), -math.expm1(-2 * t)
    logits = (mt * x @ a.T - 0.5 * mt**2 * np.sum(a**2, axis=1)) / dt
    top = np.sort(logits, axis=1)[:, -2:]
    return top[:, 1] - top[:, 0]


@pytest.mark.parametrize("t", SMALL_TIMES)
def test_fp32_streamed_and_dense_within_stated_bound_of_fp64(x64, t):
    a, x = _problem(t)
    ref = posterior_dense(jnp.asarray(x), t, jnp.asarray(a))  # fp64 reference
    a32, x32 = jnp.asarray(a, jnp.float32), jnp.asarray(x, jnp.float32)
    streamed = posterior(x32, t, TrainingSet.from_points(a32, chunk_size=256))
    dense = posterior_dense(x32, t, a32)
    assert streamed.denoised.dtype == jnp.float32
    eps = logit_error_bound(x, a, t, FP32_U)
    as64 = lambda post: jax.tree_util.tree_map(lambda v: np.asarray(v, np.float64), post)  # noqa: E731
    _check_within_bound(as64(streamed), as64(ref), eps, a, f"streamed fp32 t={t}")
    _check_within_bound(as64(dense), as64(ref), eps, a, f"dense fp32 t={t}")
    _check_within_bound(as64(streamed), as64(dense), 2 * eps, a, f"streamed vs dense fp32 t={t}")
    decided = _top2_gap(x, a, t) > 2 * eps
    assert decided.mean() > 0.9  # the argmax check below is not vacuous
    np.testing.assert_array_equal(np.asarray(streamed.argmax)[decided], np.asarray(ref.argmax)[decided])


@pytest.mark.parametrize("t", SMALL_TIMES[:2])
def test_fused_kernel_fp32_within_stated_bound_of_fp64(x64, t):
    """The same bound for the fused Pallas kernel (diffsim.score._fused, run in Pallas' interpreter
    here; its Triton lowering keeps IEEE fp32 dots: tests/test_fused_kernel.py)."""
    from diffsim.score.empirical import finalize
    from diffsim.score._fused import fused_accumulate

    a, x = _problem(t)
    ref = posterior_dense(jnp.asarray(x), t, jnp.asarray(a))
    train = TrainingSet.from_points(jnp.asarray(a, jnp.float32), chunk_size=256)
    fused = finalize(fused_accumulate(jnp.asarray(x, jnp.float32), t, train, interpret=True))
    assert fused.denoised.dtype == jnp.float32
    as64 = lambda post: jax.tree_util.tree_map(lambda v: np.asarray(v, np.float64), post)  # noqa: E731
    _check_within_bound(as64(fused), as64(ref), logit_error_bound(x, a, t, FP32_U), a, f"fused fp32 t={t}")


def test_fp32_error_grows_like_m_over_delta(x64):
    """The observed fp32 error of log Z scales with the amplification m_t / Delta_t of the bound:
    from t = 0.1 to t = 1e-3 that factor is 100, and the error must grow by more than 10x."""
    errors = {}
    for t in (1e-3, 1e-1):
        a, x = _problem(t)
        ref = posterior_dense(jnp.asarray(x), t, jnp.asarray(a))
        got = posterior(jnp.asarray(x, jnp.float32), t, TrainingSet.from_points(jnp.asarray(a, jnp.float32), chunk_size=256))
        errors[t] = float(np.max(np.abs(np.asarray(got.log_norm, np.float64) - np.asarray(ref.log_norm))))
    amplification = (math.exp(-1e-3) / -math.expm1(-2e-3)) / (math.exp(-0.1) / -math.expm1(-0.2))
    assert 99 < amplification < 101
    assert errors[1e-3] > 10 * errors[1e-1] > 0


def _round_mantissa(v, bits):
    """Round fp64 values to ``bits`` explicit mantissa bits (TF32: 10), round to nearest."""
    mant, expo = np.frexp(np.asarray(v, np.float64))
    scale = 2.0 ** (bits + 1)
    return np.ldexp(np.round(mant * scale) / scale, expo)


def _tf32_posterior(x, a, t):
    """The kernel's two matmuls with TF32 operands (rounded to 10 mantissa bits, products and sums
    in fp64): what a GPU computes for fp32 inputs at the default matmul precision. Returns
    ``(log_norm, max_weight, score)``."""
    mt, dt = math.exp(-t), -math.expm1(-2 * t)
    logits = _round_mantissa(mt / dt * x, 10) @ _round_mantissa(a, 10).T - mt**2 / dt * 0.5 * np.sum(a**2, axis=1)
    top = logits.max(axis=1, keepdims=True)
    w = np.exp(logits - top)
    z = w.sum(axis=1, keepdims=True)
    w /= z
    denoised = _round_mantissa(w, 10) @ _round_mantissa(a, 10)
    return (top + np.log(z))[:, 0], w.max(axis=1), (mt * denoised - x) / dt


@pytest.mark.parametrize("t", [1e-3, 1e-2])
def test_tf32_matmuls_would_change_results_at_small_t(x64, t):
    """Why the kernel pins precision=HIGHEST: with TF32 matmuls the log-density, the split posteriors
    and the score miss fp64 by far more than the fp32 bound allows (by O(1) at t = 1e-3)."""
    a, x = _problem(t)
    ref = posterior_dense(jnp.asarray(x), t, jnp.asarray(a))
    ref_score = (math.exp(-t) * np.asarray(ref.denoised) - x) / -math.expm1(-2 * t)
    log_norm, max_weight, score = _tf32_posterior(x, a, t)
    eps32 = logit_error_bound(x, a, t, FP32_U)
    log_norm_err = np.abs(log_norm - np.asarray(ref.log_norm))
    weight_err = np.abs(max_weight - np.asarray(ref.max_weight))
    assert np.max(log_norm_err - eps32) > 0  # outside the fp32 bound
    assert np.max(weight_err - np.expm1(2 * eps32) * np.asarray(ref.max_weight) - P * FP32_U) > 0
    score_rel = np.linalg.norm(score - ref_score, axis=1) / np.linalg.norm(ref_score, axis=1)
    if t == 1e-3:
        assert np.max(log_norm_err) > 0.3 and np.max(weight_err) > 0.1 and np.max(score_rel) > 0.01


def _dot_precisions(lowered_text):
    return re.findall(r"dot_general.*?precision = \[(\w+), (\w+)\]", lowered_text)


def test_every_kernel_matmul_is_pinned_to_highest_precision():
    a = jnp.ones((300, 8), jnp.float32)
    x = jnp.ones((5, 8), jnp.float32)
    train = TrainingSet.from_points(a, chunk_size=64)
    mesh = make_mesh(points=1, devices=jax.devices()[:1])
    texts = {
        "posterior": jax.jit(posterior).lower(x, 0.1, train).as_text(),
        "posterior_dense": jax.jit(posterior_dense).lower(x, 0.1, a).as_text(),
        "sharded": jax.jit(lambda y, t, tr: sharded_posterior(y, t, tr, mesh)).lower(x, 0.1, train).as_text(),
    }
    for name, text in texts.items():
        precisions = _dot_precisions(text)
        assert len(precisions) >= 2, name  # the logits and the weighted sum
        assert all(p == ("HIGHEST", "HIGHEST") for p in precisions), (name, precisions)
    reduced = jax.jit(lambda y, t, tr: posterior(y, t, tr, precision=jax.lax.Precision.DEFAULT)).lower(x, 0.1, train)
    assert all(p == ("DEFAULT", "DEFAULT") for p in _dot_precisions(reduced.as_text()))


def test_sampler_does_not_recompile_when_times_or_data_change():
    """One compiled sampler serves new time grids and new training sets of the same shapes with the
    sharded drift (the mesh is static, the training set is data)."""
    key = jax.random.PRNGKey(0)
    a = jax.random.normal(key, (200, 4))
    x0 = jax.random.normal(jax.random.PRNGKey(1), (6, 4))
    mesh = make_mesh(points=1, devices=jax.devices()[:1])
    before = _run._cache_size()
    sample(key, ShardedEmpiricalScore.from_points(a, mesh, chunk_size=64), x0, time_grid(2.0, 0.01, 4, "log"))
    other = ShardedEmpiricalScore.from_points(3.0 * a + 1.0, mesh, chunk_size=64)
    sample(key, other, x0 + 1.0, time_grid(1.5, 0.02, 4, "uniform"))
    assert _run._cache_size() == before + 1
