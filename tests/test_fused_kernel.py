"""The fused Pallas kernel (diffsim.score._fused) against the XLA kernel and the dense reference.

No GPU runs in CI, so the kernel runs here in Pallas' interpreter (the same kernel body, executed
with XLA on the CPU), and is lowered for CUDA to Triton IR (no GPU needed) to check that every
operation has a Triton lowering and that the matmuls keep fp32 (IEEE) precision at HIGHEST.
"""

import contextlib
import io
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim import ConfigError
from diffsim.score import EmpiricalScore, TrainingSet, posterior, posterior_dense
from diffsim.score import _fused as fused  # the kernel module, where kernel="fused" looks it up
from diffsim.score.empirical import accumulate, finalize


def _problem(p, n, b, dtype, key=0):
    ka, kx = jax.random.split(jax.random.PRNGKey(key))
    a = jax.random.normal(ka, (p, n), dtype)
    x = jax.random.normal(kx, (b, n), dtype)
    return a, x.at[:3].set(a[:3] * jnp.exp(-0.01) + 0.01 * x[:3])  # some queries on training points


def _fused_posterior(x, t, train, **kw):
    return finalize(fused.fused_accumulate(x, t, train, interpret=True, **kw))


# N = 12 and 60 are not powers of two (padded to 16 and 64); B = 9 and 70 and P = 1000 are not
# multiples of the blocks; chunk 333 is not a multiple of block_k.
# splits 5 with 16 blocks of 64 points leaves the last split all padding.
CASES = [
    # (P, N, B, chunk, block_q, block_k, splits)
    (1000, 12, 9, 333, None, None, 1),
    (1000, 60, 70, 256, 32, 64, 5),
    (300, 130, 20, 128, 16, 32, 3),
]


@pytest.mark.parametrize("p,n,b,chunk,block_q,block_k,splits", CASES)
def test_fused_equals_dense_in_fp64(x64, p, n, b, chunk, block_q, block_k, splits):
    a, x = _problem(p, n, b, jnp.float64)
    train = TrainingSet.from_points(a, chunk_size=chunk)
    for t in (1e-3, 0.3, 60.0):
        got = _fused_posterior(x, t, train, block_q=block_q, block_k=block_k, splits=splits)
        ref = posterior_dense(x, t, a)
        for name, g, r in zip(got._fields, got, ref):
            if name == "argmax":
                np.testing.assert_array_equal(g, r, err_msg=f"t={t}")
            else:
                scale = max(1.0, float(jnp.max(jnp.abs(r))))
                np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10 * scale, err_msg=f"{name} t={t}")


def test_fused_fp32_matches_xla_kernel_and_masks_padding_where_m_squared_underflows():
    """fp32: same statistics as the XLA kernel; at t = 60 (m^2 underflows) the padded points still
    get weight exactly 0, so the posterior is the uniform average of the real points."""
    a, x = _problem(1000, 60, 70, jnp.float32)
    train = TrainingSet.from_points(a, chunk_size=256)  # 24 padded slots
    for t in (0.01, 0.5, 60.0):
        got = _fused_posterior(x, t, train, splits=3)
        ref = posterior(x, t, train)
        assert all(bool(jnp.all(jnp.isfinite(f))) for f in got)
        np.testing.assert_array_equal(got.argmax, ref.argmax)
        np.testing.assert_allclose(got.log_norm, ref.log_norm, rtol=2e-6, atol=1e-4)
        for name in ("denoised", "max_weight", "y2", "entropy"):
            np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=1e-4, atol=1e-4, err_msg=name)
    np.testing.assert_allclose(got.denoised, jnp.broadcast_to(a.mean(axis=0), x.shape), atol=1e-5)
    np.testing.assert_allclose(got.entropy, np.log(1000.0), rtol=1e-5)


def test_fused_argmax_takes_the_first_of_equal_points_and_adds_the_offset():
    a = jax.random.normal(jax.random.PRNGKey(5), (200, 16))
    a = a.at[190].set(a[130])  # a duplicate in a later block: the first index must win
    x = a[130:131] * jnp.exp(-0.1)
    for splits in (1, 2, 4):  # 130 and 190 in the first split, the second, the third (with 190)
        acc = fused.fused_accumulate(x, 0.1, TrainingSet.from_points(a, chunk_size=128), block_k=16,
                                     splits=splits, index_offset=1000, interpret=True)
        assert int(acc.argmax[0]) == 1130, splits


def test_accumulate_dispatches_to_the_fused_kernel(monkeypatch):
    """``kernel="fused"`` goes through ``fused_accumulate`` (run interpreted here) and gives the
    XLA kernel's result, also inside jit and as a sampler drift."""
    monkeypatch.setattr(fused, "fused_accumulate", partial(fused.fused_accumulate, interpret=True))
    a, x = _problem(500, 8, 16, jnp.float32)
    train = TrainingSet.from_points(a, chunk_size=128)
    via_fused = jax.jit(partial(posterior, kernel="fused"))(x, 0.2, train)
    np.testing.assert_allclose(via_fused.denoised, posterior(x, 0.2, train).denoised, rtol=1e-5, atol=1e-5)
    score, stats = EmpiricalScore(train, kernel="fused")(x, 0.2)
    ref_score, ref_stats = EmpiricalScore(train)(x, 0.2)
    np.testing.assert_allclose(score, ref_score, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(stats["argmax"], ref_stats["argmax"])


def test_fused_kernel_does_not_recompile_when_time_or_data_change():
    a, x = _problem(300, 8, 16, jnp.float32)
    fn = jax.jit(partial(fused.fused_accumulate, interpret=True, splits=2))
    fn(x, 0.2, TrainingSet.from_points(a, chunk_size=128))
    fn(x + 1.0, 0.7, TrainingSet.from_points(2.0 * a, chunk_size=128))
    assert fn._cache_size() == 1


def test_fused_kernel_is_refused_off_gpu_and_unknown_kernels_are_named():
    a, x = _problem(100, 4, 3, jnp.float32)
    train = TrainingSet.from_points(a)
    if jax.default_backend() != "gpu":
        with pytest.raises(ConfigError, match="kernel='fused' needs a GPU"):
            posterior(x, 0.5, train, kernel="fused")
    with pytest.raises(ConfigError, match="kernel='triton' is not known: expected one of xla, fused"):
        EmpiricalScore(train, kernel="triton")
    with pytest.raises(ConfigError, match="block_k=48"):
        fused.fused_accumulate(x, 0.5, train, block_k=48, interpret=True)
    with pytest.raises(ConfigError, match="splits=9 is out of range"):  # 128 padded points: 8 blocks of 16
        fused.fused_accumulate(x, 0.5, train, block_k=16, splits=9, interpret=True)


def test_default_splits_fill_the_device():
    class H100:
        core_count = 132

    assert fused.default_splits(2, 10**6 // 64, H100()) == 264  # B = 256: 2 x 264 programs, 4 per SM
    assert fused.default_splits(8, 10**6 // 64, H100()) == 66
    assert fused.default_splits(2, 40, H100()) == 5  # each split keeps at least 8 blocks
    assert fused.default_splits(100, 10**4, H100()) == 6


def _triton_ir(n, precision, monkeypatch):
    """The Triton IR of the fused kernel lowered for CUDA (printed by Pallas' ``debug`` mode)."""
    monkeypatch.setattr(fused, "_require_gpu", lambda: None)
    a, x = _problem(1000, n, 130, jnp.float32)
    train = TrainingSet.from_points(a, chunk_size=256)
    fn = jax.jit(partial(fused.fused_accumulate, precision=precision, debug=True))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            fn.trace(x, 0.3, train).lower(lowering_platforms=("cuda",))
        except (ImportError, NotImplementedError) as err:  # a jaxlib without the Triton dialect
            pytest.skip(f"cannot lower Pallas to Triton here: {err}")
    return out.getvalue()


@pytest.mark.parametrize("n", [16, 60, 256])
def test_fused_kernel_lowers_to_triton_with_fp32_matmuls(n, monkeypatch):
    """Every operation has a Triton lowering, and at HIGHEST both dots are IEEE fp32 (no
    ``inputPrecision = tf32``); at DEFAULT they become TF32, so the check can fail."""
    highest = _triton_ir(n, jax.lax.Precision.HIGHEST, monkeypatch)
    dots = [line for line in highest.splitlines() if "tt.dot " in line]
    assert len(dots) == 2, dots
    assert not any("tf32" in line for line in dots), dots
    default = [line for line in _triton_ir(n, jax.lax.Precision.DEFAULT, monkeypatch).splitlines() if "tt.dot " in line]
    assert len(default) == 2 and all("inputPrecision = tf32" in line for line in default), default
