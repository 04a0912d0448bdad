"""Geometric picture of memorization (THEORY.md section 8): streamed W and C, exact coverage theory,
regime boundaries and their finite-size trends, window swaps, large-noise linearity."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim import data
from diffsim.measure.geometry import level_crossing, measure_geometry, posterior_concentration, shell_counts, shell_radii
from diffsim.score import TrainingSet


def _dense_max_weight(y, sigma, points):
    """``max_i softmax(-|y - a_i|^2 / (2 sigma^2))`` from the full [B, P] distances, float64 NumPy."""
    y, points = np.asarray(y, np.float64), np.asarray(points, np.float64)
    d2 = np.sum((y[:, None, :] - points[None, :, :]) ** 2, -1)
    logits = -d2 / (2.0 * np.asarray(sigma, np.float64)[:, None] ** 2)
    logits -= logits.max(1, keepdims=True)
    w = np.exp(logits)
    return (w / w.sum(1, keepdims=True)).max(1)


def _dense_counts(y, sigma, points, r_in, r_out):
    y, points = np.asarray(y, np.float64), np.asarray(points, np.float64)
    d = np.sqrt(np.sum((y[:, None, :] - points[None, :, :]) ** 2, -1))
    s = np.asarray(sigma, np.float64)[:, None]
    return np.sum((d >= s * r_in) & (d <= s * r_out), 1)


def test_streamed_concentration_and_coverage_equal_dense(x64):
    """Streamed C and W (several chunks, padded last chunk) equal a dense float64 computation on
    the same queries: coverage indicators exactly, max weights to float64 rounding."""
    n, p = 6, 203
    key = jax.random.PRNGKey(3)
    model = data.make("gaussian", n)
    points = model.sample(jax.random.fold_in(key, 0), p)
    train = TrainingSet.from_points(points, chunk_size=32)
    assert train.chunks.dtype == jnp.float64 and train.chunks.shape[0] * 32 > p
    r_in, r_out = shell_radii(n, 1.0)  # c = 1: a thin shell, so counts vary across queries
    sigmas = jnp.repeat(jnp.array([0.2, 0.5, 0.8, 1.2, 2.0]), 40)
    y_train = points[jax.random.randint(jax.random.fold_in(key, 1), sigmas.shape, 0, p)] + sigmas[:, None] * jax.random.normal(jax.random.fold_in(key, 2), (sigmas.size, n))
    held = model.sample(jax.random.fold_in(key, 4), sigmas.size)
    y_held = held + sigmas[:, None] * jax.random.normal(jax.random.fold_in(key, 5), (sigmas.size, n))

    w = np.asarray(posterior_concentration(y_train, sigmas, train))
    np.testing.assert_allclose(w, _dense_max_weight(y_train, sigmas, points), rtol=1e-10, atol=1e-12)
    counts = np.asarray(shell_counts(y_held, sigmas, train, r_in, r_out))
    dense = _dense_counts(y_held, sigmas, points, r_in, r_out)
    np.testing.assert_array_equal(counts, dense)
    assert 0 < np.mean(dense > 0) < 1 and len(np.unique(dense)) > 3  # the comparison is not trivial



def test_level_crossing_interpolates_in_log_sigma():
    s = np.array([0.5, 1.0, 2.0, 4.0])
    assert level_crossing(s, [0.0, 0.2, 0.8, 1.0]) == pytest.approx(math.sqrt(2.0))
    assert level_crossing(s, [1.0, 0.9, 0.1, 0.0]) == pytest.approx(math.sqrt(2.0))
    assert math.isnan(level_crossing(s, [0.0, 0.1, 0.2, 0.3]))


# ----------------------------------------------------------------------------- exact coverage theory

from scipy import stats  # noqa: E402

from diffsim.theory.geometry import (  # noqa: E402
    coverage_edge_spectrum,
    collapse_sigma,
    coverage_edge_isotropic,
    coverage_isotropic,
    coverage_spectrum,
    generalized_chi2_cdf,
    marchenko_pastur_eigenvalues,
)
from diffsim.theory.spectrum import Spectrum  # noqa: E402


def test_generalized_chi2_cdf_relative_precision_in_both_tails():
    """Saddle-point contour inversion vs SciPy's noncentral chi-square (isotropic) down to 1e-12 and
    up to 1 - 1e-9, and vs direct sampling of Q for an anisotropic, low-rank spectrum."""
    rng = np.random.default_rng(0)
    n = 20
    y = 1.3 * rng.standard_normal(n)
    x = np.array([2.0, 10.0, 25.0, 40.0, 80.0, 150.0])
    ref = stats.ncx2.logcdf(x, n, np.sum(y**2))
    got = generalized_chi2_cdf(x, np.ones(n), np.broadcast_to(y, (x.size, n)), log=True)
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)
    # anisotropic with zero eigenvalues: Monte Carlo of |y - a|^2
    lam = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.0, 0.0, 0.0])
    y = rng.standard_normal(lam.size)
    q = np.sum((y - np.sqrt(lam) * rng.standard_normal((400_000, lam.size))) ** 2, 1)
    for xq in np.quantile(q, [0.01, 0.3, 0.7, 0.99]):
        emp = np.mean(q <= xq)
        assert generalized_chi2_cdf(xq, lam, y) == pytest.approx(emp, abs=4 * math.sqrt(emp * (1 - emp) / q.size) + 1e-4)


def test_coverage_formulas_agree_and_rise():
    """The isotropic 1-D integral and the general-spectrum route (Monte Carlo over y, exact inner
    probability) agree within the latter's Monte-Carlo error; both rise from 0 to 1."""
    n, p = 20, 55
    s = np.array([0.4, 0.6, 0.75, 0.9, 1.2, 2.0])
    exact = coverage_isotropic(s, p, n)
    mc, err = coverage_spectrum(s, p, np.ones(n), n_y=256)
    assert np.all(np.abs(mc - exact) <= 4 * err + 2e-3)
    assert np.all(np.diff(exact) > 0) and exact[0] < 0.01 and exact[-1] > 0.99


def _pooled_coverage(model, n, p, sigmas, n_sets, n_held, key):
    """Measured coverage averaged over ``n_sets`` independent training sets; stderr from the spread
    between sets (it contains both the query and the training-set fluctuations)."""
    curves = []
    for k in range(n_sets):
        kk = jax.random.fold_in(key, k)
        train = TrainingSet.from_points(model.sample(jax.random.fold_in(kk, 0), p))
        held = model.sample(jax.random.fold_in(kk, 1), n_held)
        curves.append(measure_geometry(jax.random.fold_in(kk, 2), train, held_out=held, sigmas=sigmas, n_queries=8, n_boot=2).c)
    curves = np.array(curves)
    return curves.mean(0), curves.std(0, ddof=1) / math.sqrt(n_sets)


@pytest.mark.parametrize("n", [20, pytest.param(40, marks=pytest.mark.slow)])
def test_simulated_coverage_matches_exact_formula_isotropic(n):
    p = round(math.exp(0.2 * n))
    edge = coverage_edge_isotropic(p, n)
    sigmas = edge * np.array([0.85, 1.0, 1.15])
    exact = coverage_isotropic(sigmas, p, n)
    measured, err = _pooled_coverage(data.make("gaussian", n), n, p, sigmas, 6, 256, jax.random.PRNGKey(n))
    assert np.all(err > 0)
    np.testing.assert_array_less(np.abs(measured - exact), 3.5 * err + 0.01)
    assert measured[0] < 0.5 < measured[-1]  # the curve is resolved across its edge


def test_simulated_coverage_matches_exact_formula_linear_hmm():
    """Anisotropic, low-rank: linear HMM (alpha_D = 0.5) with the model's exact spectrum."""
    n, alpha = 20, 0.2
    p = round(math.exp(alpha * n))
    model = data.make("hmm", n, alpha_d=0.5, key=jax.random.PRNGKey(7))
    lam = model.covariance_spectrum()
    sigmas = np.array([0.45, 0.6, 0.8])
    exact, exact_err = coverage_spectrum(sigmas, p, lam, n_y=256)
    measured, err = _pooled_coverage(model, n, p, sigmas, 6, 256, jax.random.PRNGKey(11))
    assert measured[0] < 0.5 < measured[-1] or np.ptp(exact) > 0.3
    np.testing.assert_array_less(np.abs(measured - exact), 3.5 * np.hypot(err, exact_err) + 0.01)


# ----------------------------------------------------------------------------- regime boundaries and trends

ALPHA = 0.2
SIGMAS = np.exp(np.linspace(np.log(0.05), np.log(5.0), 31))


def _measure(model, n, seed=0):
    p = round(math.exp(ALPHA * n))
    key = jax.random.PRNGKey(seed)
    train = TrainingSet.from_points(model.sample(jax.random.fold_in(key, 1), p))
    held = model.sample(jax.random.fold_in(key, 2), 256)
    return measure_geometry(jax.random.fold_in(key, 3), train, held_out=held, sigmas=SIGMAS, n_queries=256, n_boot=100)


@pytest.mark.parametrize("hmm_dims", [(20, 40), pytest.param((20, 40, 80, 160), marks=pytest.mark.slow)])
def test_exact_coverage_edge_approaches_collapse_point_from_below(hmm_dims):
    """sigma_cov (exact formula) rises towards sigma_C and stays below it, the gap shrinking with N:
    isotropic up to N = 1000 (P = e^200), linear HMM (alpha_D = 0.5, Marchenko-Pastur quantile
    spectrum) at ``hmm_dims``."""
    sc = float(collapse_sigma(ALPHA, Spectrum.isotropic(1.0)))
    edges = np.array([coverage_edge_isotropic(round(math.exp(ALPHA * n)), n) for n in (20, 60, 200, 1000)])
    assert np.all(np.diff(edges) > 0) and np.all(edges < sc)
    gaps = sc - edges
    assert np.all(np.diff(gaps) < 0) and gaps[-1] < 0.5 * gaps[0]  # slowly: ~N^-0.36 between N = 20 and 1000
    sc_mp = float(collapse_sigma(ALPHA, Spectrum.marchenko_pastur(0.5)))
    hmm = []
    for n in hmm_dims:
        lam = marchenko_pastur_eigenvalues(n, 0.5)
        hmm.append(coverage_edge_spectrum(round(math.exp(ALPHA * n)), lam, n_y=96))
    assert np.all(np.diff(hmm) > 0) and np.all(np.array(hmm) < sc_mp)


def test_measured_edges_bracket_collapse_point_and_zone_narrows():
    """Isotropic, N = 20 -> 32: measured sigma_w > sigma_C falls, measured sigma_cov < sigma_C rises,
    the danger zone's log-width shrinks (each change beyond 3 combined standard errors)."""
    sc = float(collapse_sigma(ALPHA, Spectrum.isotropic(1.0)))
    a, b = (_measure(data.make("gaussian", n), n) for n in (20, 32))
    for r in (a, b):
        assert r.sigma_w.value > sc > r.sigma_cov.value
    assert a.sigma_w.value - b.sigma_w.value > 3 * math.hypot(a.sigma_w.stderr, b.sigma_w.stderr)
    assert b.sigma_cov.value - a.sigma_cov.value > 3 * math.hypot(a.sigma_cov.stderr, b.sigma_cov.stderr)
    assert a.log_width.value - b.log_width.value > 3 * math.hypot(a.log_width.stderr, b.log_width.stderr)


def test_smaller_alpha_d_widens_danger_zone():
    """Linear HMM at the same N = 20 and load: alpha_D = 0.25 has a wider zone than alpha_D = 1."""
    widths = [_measure(data.make("hmm", 20, alpha_d=ad, key=jax.random.PRNGKey(5)), 20).log_width for ad in (0.25, 1.0)]
    assert widths[0].value - widths[1].value > 3 * math.hypot(widths[0].stderr, widths[1].stderr)


@pytest.mark.slow
def test_measured_edges_trend_slow():
    """Isotropic N = 20, 30, 40, 50 (P up to 22026) and linear HMM (alpha_D = 0.5) N = 20, 32, 44:
    sigma_w falls and sigma_cov rises monotonically, bracketing sigma_C."""
    sc = float(collapse_sigma(ALPHA, Spectrum.isotropic(1.0)))
    res = [_measure(data.make("gaussian", n), n) for n in (20, 30, 40, 50)]
    assert all(r.sigma_w.value > sc > r.sigma_cov.value for r in res)
    assert np.all(np.diff([r.sigma_w.value for r in res]) < 0)
    assert np.all(np.diff([r.sigma_cov.value for r in res]) > 0)
    assert np.all(np.diff([r.log_width.value for r in res]) < 0)
    hmm = [_measure(data.make("hmm", n, alpha_d=0.5, key=jax.random.PRNGKey(5)), n) for n in (20, 32, 44)]
    sc_mp = float(collapse_sigma(ALPHA, Spectrum.marchenko_pastur(0.5)))
    assert all(r.sigma_w.value > sc_mp > r.sigma_cov.value for r in hmm)
    assert np.all(np.diff([r.log_width.value for r in hmm]) < 0)


# ----------------------------------------------------------------------------- window swaps

from diffsim.measure.geometry import measure_memorization, window_swap  # noqa: E402
from diffsim.score import EmpiricalScore  # noqa: E402


def _disjoint(a, b, k=3.0):
    """Intervals ``value +- k stderr`` (stderr floored at 1/n_samples) do not overlap."""
    ea, eb = max(a.stderr, 1 / 256), max(b.stderr, 1 / 256)
    return abs(a.value - b.value) > k * (ea + eb)


def test_window_swap_exact_scores_small_sigma_decides_memorization():
    """Exact scores, isotropic N = 20, P = 55, windows from the measured boundaries.

    What the issue expected (medium-window empirical swap raises memorization) is measured here,
    not assumed: with the exact true score below the window, the samples leave their training point
    by ``~ sigma_cov sqrt(N)``, more than 1/3 of the nearest-neighbour spacing, so the medium window
    does NOT memorize; memorization is decided in the small-sigma window, in both directions."""
    n = 20
    model = data.make("gaussian", n)
    geo = _measure(model, n)
    lo, hi = geo.sigma_cov.value, geo.sigma_w.value
    train = TrainingSet.from_points(model.sample(jax.random.fold_in(jax.random.PRNGKey(0), 1), round(math.exp(ALPHA * n))))
    emp, true = EmpiricalScore(train), model.score
    key = jax.random.PRNGKey(1)

    def frac(inside, outside, a, b):
        return measure_memorization(key, train, window_swap(inside, outside, a, b), n_samples=256, n_steps=120, n_boot=100).memorized

    baseline, full = frac(emp, true, 1e6, 1e7), frac(true, emp, 1e6, 1e7)  # all true, all empirical
    assert baseline.value < 0.05 and full.value > 0.95
    small, medium = frac(emp, true, 0.0, lo), frac(emp, true, lo, hi)
    assert small.value > 0.9 and _disjoint(small, baseline)
    assert medium.value < 0.05  # the medium window alone does not memorize with exact scores
    # the other direction: the true score in the small window removes memorization, in the medium not
    assert frac(true, emp, 0.0, lo).value < 0.05 and frac(true, emp, lo, hi).value > 0.95


# ----------------------------------------------------------------------------- large-noise linearity

from diffsim.measure.geometry import measure_linearity  # noqa: E402
from diffsim.score import empirical_denoiser  # noqa: E402
from diffsim.theory.geometry import gaussian_moments, linearity_gap_leading, wiener_denoiser  # noqa: E402


def test_wiener_denoiser_is_the_exact_gaussian_denoiser(x64):
    """For N(mu, C) data the Wiener denoiser with the true moments is Tweedie's denoiser
    ``y + sigma^2 m_t s_t(m_t y)`` of the model's exact score (anisotropic linear HMM, rank D < N)."""
    n = 6
    model = data.make("hmm", n, alpha_d=0.5, key=jax.random.PRNGKey(2))
    cov = np.asarray(model.covariance(), np.float64)
    y = np.random.default_rng(0).standard_normal((5, n)) * 2.0
    for sigma in (0.3, 1.0, 7.0):
        t = 0.5 * math.log1p(sigma**2)
        mt = math.exp(-t)
        tweedie = y + sigma**2 * mt * np.asarray(model.score(jax.numpy.asarray(mt * y), t))
        np.testing.assert_allclose(wiener_denoiser(y, np.zeros(n), cov, sigma), tweedie, rtol=1e-8, atol=1e-10)


def test_empirical_denoiser_tends_to_wiener_with_third_moment_gap(x64):
    """sigma^2 (D_e - D_lin) -> (1/2) E_i[c_i((c_i.zhat)^2 - |c_i|^2)] (theory.geometry, derived):
    the residual relative to the leading term shrinks like 1/sigma; for a symmetric set the gap is
    of higher order."""
    rng = np.random.default_rng(1)
    pts = rng.exponential(size=(40, 5))  # skewed: nonzero third moment
    train = TrainingSet.from_points(jax.numpy.asarray(pts))
    mean, cov = gaussian_moments(pts)
    zhat = rng.standard_normal((16, 5))
    resid = []
    for sigma in (20.0, 80.0):
        y = mean + sigma * zhat
        t = 0.5 * math.log1p(sigma**2)
        d_e = np.asarray(empirical_denoiser(jax.numpy.asarray(math.exp(-t) * y), t, train))
        gap = d_e - wiener_denoiser(y, mean, cov, sigma)
        lead = linearity_gap_leading(y, pts, sigma)
        assert np.linalg.norm(lead) > 0
        resid.append(np.linalg.norm(gap - lead) / np.linalg.norm(lead))
    assert resid[0] < 0.3 and resid[1] < 0.5 * resid[0]  # O(1/sigma) correction, 4x sigma
    sym = np.concatenate([pts - pts.mean(0), pts.mean(0) - pts])  # centrally symmetric: third moment 0
    np.testing.assert_allclose(linearity_gap_leading(zhat * 10, sym, 10.0), 0.0, atol=1e-12)


def test_linearity_measurement_trends():
    """Isotropic N = 20: the empirical-Wiener relative distance falls like 1/sigma at large sigma,
    sigma_lin (tolerance 0.1) is finite and smaller for the larger training set, and the Wiener
    denoiser is closer to the exact one for P = 2000 than for P = 55 at every sigma >= 1."""
    sig = np.exp(np.linspace(np.log(0.5), np.log(80.0), 9))
    model = data.make("gaussian", 20)
    held = model.sample(jax.random.PRNGKey(2), 96)
    res = {}
    for p in (55, 2000):
        train = TrainingSet.from_points(model.sample(jax.random.PRNGKey(1), p))
        res[p] = measure_linearity(jax.random.PRNGKey(3), train, held_out=held, sigmas=sig, score=model.score, n_boot=50)
    small, big = res[55], res[2000]
    ratio = small.emp_lin[-1] / small.emp_lin[-3]  # sigma grows by (80/0.5)^(2/8) = 3.56: 1/sigma gives 0.28
    assert 0.2 < ratio < 0.36
    assert math.isfinite(small.sigma_lin.value) and big.sigma_lin.value < small.sigma_lin.value - 3 * (
        small.sigma_lin.stderr + big.sigma_lin.stderr)
    large = sig >= 1.0
    assert np.all(big.msq_lin_exact[large] < 0.2 * small.msq_lin_exact[large])
    assert np.all(small.emp_lin[large] >= 0) and small.emp_lin[0] > 0.3  # not linear at small sigma
