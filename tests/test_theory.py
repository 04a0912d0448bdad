"""Tests of the closed-form theory (THEORY.md sections 2-6), float64 NumPy only.

Each test compares with an independent computation (a closed form, a sampled matrix, a quadrature,
a Monte-Carlo average or finite differences) at a stated tolerance, or checks an identity the text
asserts (s(1) = f_e, r_b(t_C) = 1, r_b(t_o) = 0, t_o > t_C).
"""

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

import diffsim.theory as th
from diffsim.theory.rem import _digamma

EULER_GAMMA = 0.5772156649015329


def spectra():
    """A few spectra covering the cases: isotropic, MP with an atom at 0, MP at alpha_d = 1, discrete."""
    return {
        "isotropic": th.Spectrum.isotropic(1.7),
        "mp_0.3": th.Spectrum.marchenko_pastur(0.3),
        "mp_1": th.Spectrum.marchenko_pastur(1.0),
        "discrete": th.Spectrum.from_eigenvalues([0.0, 0.2, 0.5, 1.0, 4.0]),
    }


SPECTRA = spectra()


# ----------------------------------------------------------------------------- spectrum


@pytest.mark.parametrize("alpha_d", [1e-3, 0.05, 0.3, 0.999, 1.0])
def test_marchenko_pastur_moments(alpha_d):
    # (1 - a) delta_0 + a law(mu / a), mu ~ MP(a) of mean 1: <lam> = 1, <lam^2> = (1 + a) / a,
    # <lam^3> = (1 + 3a + a^2) / a^2 (MP moments 1, 1 + a, 1 + 3a + a^2). Quadrature error ~1e-13.
    s = th.Spectrum.marchenko_pastur(alpha_d)
    assert abs(s.weights.sum() - 1.0) < 1e-13
    assert s.mean(lambda lam: lam) == pytest.approx(1.0, rel=1e-12)
    assert s.mean(lambda lam: lam**2) == pytest.approx(1.0 + 1.0 / alpha_d, rel=1e-12)
    assert s.mean(lambda lam: lam**3) == pytest.approx((1 + 3 * alpha_d + alpha_d**2) / alpha_d**2, rel=1e-12)
    assert s.weights[s.eigenvalues == 0].sum() == pytest.approx(1.0 - alpha_d, abs=1e-15)


def sampled_hmm_spectrum(n, alpha_d, rng):
    """Eigenvalues of C = F F^T / D, F [N, D] iid N(0,1): those of F^T F / D padded with N - D zeros."""
    d = int(round(alpha_d * n))
    f = rng.standard_normal((n, d))
    return th.Spectrum.from_eigenvalues(np.concatenate([np.linalg.eigvalsh(f.T @ f / d), np.zeros(n - d)]))


def test_marchenko_pastur_matches_sampled_hmm_covariance():
    # Linear spectral statistics of a Wishart matrix fluctuate and are biased by O(1) in total, so
    # (1/N) sum f(lambda_i), and t_C, deviate from the N -> inf values by O(1/N): we allow 5/N
    # (observed standard deviation 1-2/N over seeds). Exact finite-N moments: tr C / N = chi2_{ND} / (ND),
    # mean 1 and sd sqrt(2 / (N D)); E tr C^2 / N = 1 + (N + 1) / D, sd 0.016 at N = 2000, D = 500
    # (30 seeds); both checked at 5 sd.
    rng = np.random.default_rng(0)
    n, alpha_d = 2000, 0.25
    alphas = np.array([0.02, 0.1, 0.3])
    sampled = sampled_hmm_spectrum(n, alpha_d, rng)
    assert sampled.mean(lambda lam: lam) == pytest.approx(1.0, abs=5 * np.sqrt(2 / (n * alpha_d * n)))
    assert sampled.mean(lambda lam: lam**2) == pytest.approx(1 + (n + 1) / (alpha_d * n), abs=5 * 0.016)
    theory = th.collapse_time_hmm_linear(alphas, alpha_d)
    np.testing.assert_allclose(th.collapse_time(alphas, sampled), theory, atol=5 / n)

    def rms_error(size):
        errs = [th.collapse_time(alphas, sampled_hmm_spectrum(size, alpha_d, rng)) - theory for _ in range(4)]
        return np.sqrt(np.mean(np.square(errs)))

    assert rms_error(2000) < rms_error(250) / 2  # O(1/N): expect a factor ~8


# ----------------------------------------------------------------------------- collapse


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_collapse_time_isotropic_root_matches_closed_form(sigma):
    alphas = np.array([0.01, 0.1, 0.5, 1.0, 3.0, 10.0])
    root = th.collapse_time(alphas, th.Spectrum.isotropic(sigma**2))
    np.testing.assert_allclose(root, th.collapse_time_isotropic(alphas, sigma), rtol=1e-10, atol=0)


@pytest.mark.parametrize("name", list(SPECTRA))
def test_collapse_time_solves_its_equation_and_excess_entropy_vanishes_there(name):
    s = SPECTRA[name]
    alphas = np.array([0.05, 0.2, 0.6])
    t_c = th.collapse_time(alphas, s)
    np.testing.assert_allclose(th.mutual_information(t_c, s), alphas, rtol=1e-12)
    assert np.all(th.excess_entropy(0.9 * t_c, alphas, s) == 0.0)
    assert np.all(th.excess_entropy(1.1 * t_c, alphas, s) > 0.0)
    assert np.all(np.diff(t_c) < 0)  # more training points: collapse later in the backward process


def test_hmm_collapse_time_increases_with_latent_dimension_at_fixed_load():
    # At fixed alpha = log(P)/N, C has D eigenvalues ~ 1/alpha_d; alpha_d log(1 + c / alpha_d) grows with
    # alpha_d, so t_C grows with alpha_d: lower-dimensional data need fewer points.
    t_c = [th.collapse_time_hmm_linear(0.05, alpha_d) for alpha_d in (0.1, 0.2, 0.5, 1.0)]
    assert np.all(np.diff(t_c) > 0)


@pytest.mark.parametrize("ratio", [0.2, 1.0])
def test_hmm_collapse_time_is_set_by_latent_load(ratio):
    # Section 4: for alpha_d -> 0 at fixed alpha / alpha_d = log(P) / D the latent part is an isotropic
    # Gaussian of variance 1/alpha_d at load log(P)/D, so alpha_d (exp(2 t_C) - 1) -> 1 / (exp(2 ratio) - 1).
    # The MP spread (variance alpha_d) corrects this at O(alpha_d): check the gap and its linear decay.
    alpha_ds = np.array([1e-2, 1e-3, 1e-4])
    t_c = np.array([th.collapse_time_hmm_linear(ratio * a, a) for a in alpha_ds])
    gap = np.abs(alpha_ds * np.expm1(2 * t_c) * np.expm1(2 * ratio) - 1.0)
    assert np.all(gap < alpha_ds)
    np.testing.assert_allclose(gap[1:] / gap[:-1], 0.1, rtol=0.05)
    # ... while t_C itself grows without bound, like 0.5 log(1 / alpha_d): the ratio alone does not fix it
    assert np.all(np.diff(t_c) > 0.5 * np.log(10.0) - 0.05)


@pytest.mark.parametrize("name", list(SPECTRA))
def test_trap_onset_after_collapse(name):
    s = SPECTRA[name]
    alphas = np.array([0.05, 0.2, 0.6])
    t_o = th.trap_onset_time(alphas, s)
    lhs = 2 * th.mutual_information(t_o, s) + th.signal_fraction(t_o, s)
    np.testing.assert_allclose(lhs, 2 * alphas, rtol=1e-12)
    assert np.all(t_o > th.collapse_time(alphas, s))


# ----------------------------------------------------------------------------- REM


@pytest.mark.parametrize("r", [1.0, 0.3, 2.0])
def test_rem_phi_derivative_matches_finite_differences(r):
    s = SPECTRA["mp_0.3"]
    k = np.array([0.05, 0.3, 0.7, 1.0])
    t = np.array([0.1, 0.5, 1.0, 2.0])[:, None]
    h = 1e-5
    fd = (th.rem_phi(k + h, t, s, r=r) - th.rem_phi(k - h, t, s, r=r)) / (2 * h)
    np.testing.assert_allclose(th.rem_phi_derivative(k, t, s, r=r), fd, rtol=1e-8)


@pytest.mark.parametrize("r", [1.0, 0.4])
def test_rem_phi_is_the_annealed_log_moment_of_the_energy(r):
    # phi(k) = <E_x log E_a exp(-k (x - m a)^2 / (2 Delta))> per eigen-direction, with a ~ N(0, lam) and
    # x ~ N(0, m^2 lam + Delta r^2), computed by Gauss-Hermite (the integrands are Gaussians).
    lam = np.array([0.0, 0.5, 1.0, 3.0])
    s = th.Spectrum.from_eigenvalues(lam)
    z, wz = hermegauss(120)
    wz = wz / wz.sum()
    for t in (0.3, 1.0):
        m, delta = np.exp(-t), -np.expm1(-2 * t)
        x = np.sqrt(m**2 * lam + delta * r**2)[:, None] * z
        a = np.sqrt(lam)[:, None, None] * z
        for k in (0.2, 0.7, 1.0):
            inner = np.sum(wz * np.exp(-k * (x[:, :, None] - m * a) ** 2 / (2 * delta)), axis=-1)
            direct = np.mean(np.sum(wz * np.log(inner), axis=-1))
            assert th.rem_phi(k, t, s, r=r) == pytest.approx(direct, abs=1e-12)


@pytest.mark.parametrize("name", list(SPECTRA))
def test_rem_entropy_endpoints(name):
    s, alpha = SPECTRA[name], 0.2
    t = np.geomspace(0.01, 5.0, 9)
    np.testing.assert_allclose(th.rem_entropy(0.0, t, alpha, s), alpha, rtol=1e-14)
    # s(1) = alpha - (1/2N) sum log(1 + g): the REM condenses exactly at t_C
    np.testing.assert_allclose(th.rem_entropy(1.0, t, alpha, s), alpha - th.mutual_information(t, s), atol=1e-14)
    k = np.linspace(0, 1, 21)[:, None]
    assert np.all(np.diff(th.rem_entropy(k, t, alpha, s), axis=0) < 0)  # phi convex


@pytest.mark.parametrize("name", list(SPECTRA))
def test_condensation_point(name):
    s, alpha = SPECTRA[name], 0.2
    t_c = th.collapse_time(alpha, s)
    below = t_c * np.array([0.05, 0.3, 0.7, 0.95])
    k_c = th.condensation_point(below, alpha, s)
    assert np.all((0 < k_c) & (k_c < 1)) and np.all(np.diff(k_c) > 0)
    np.testing.assert_allclose(th.rem_entropy(k_c, below, alpha, s), 0.0, atol=1e-12)
    above = t_c * np.array([1.0 + 1e-9, 1.5, 4.0])
    np.testing.assert_array_equal(th.condensation_point(above, alpha, s), 1.0)
    np.testing.assert_array_equal(th.mean_y2(above, alpha, s), 0.0)
    np.testing.assert_allclose(th.mean_y2(below, alpha, s), 1.0 - k_c, rtol=1e-14)
    # k_c -> 1 as t -> t_C from below, linearly: 1 - k_c ~ (t_C - t)
    one_minus = 1.0 - th.condensation_point(t_c * (1 - np.array([1e-3, 1e-4])), alpha, s)
    assert 0 < one_minus[1] < one_minus[0] < 1e-2
    assert one_minus[0] / one_minus[1] == pytest.approx(10.0, rel=0.02)


@pytest.mark.parametrize("name", list(SPECTRA))
def test_free_energy_is_the_variational_minimum(name):
    # (alpha + phi(k)) / k has k-derivative -s(k) / k^2, so the REM value is its minimum over k in (0, 1]:
    # below t_C at k_c, strictly less than the annealed alpha + phi(1); above t_C equal to it.
    s, alpha = SPECTRA[name], 0.2
    t_c = th.collapse_time(alpha, s)
    t = t_c * np.array([0.2, 0.6, 0.9, 1.0, 1.3, 3.0])
    k = np.linspace(1e-3, 1.0, 4001)[:, None]
    grid_min = np.min((alpha + th.rem_phi(k, t, s)) / k, axis=0)
    f = th.free_energy(t, alpha, s)
    assert np.all(f <= grid_min + 1e-13) and np.all(grid_min - f < 1e-6)
    annealed = alpha + th.rem_phi(1.0, t, s)
    assert np.all(f[:3] < annealed[:3]) and np.allclose(f[3:], annealed[3:], rtol=1e-12)


def test_weight_entropy():
    np.testing.assert_allclose(
        _digamma(np.array([1.0, 0.5, 0.25, 3.0])),
        [-EULER_GAMMA, -EULER_GAMMA - 2 * np.log(2), -EULER_GAMMA - np.pi / 2 - 3 * np.log(2), 1.5 - EULER_GAMMA],
        rtol=1e-13,
    )
    s, alpha = SPECTRA["mp_0.3"], 0.2
    t_c = th.collapse_time(alpha, s)
    t = t_c * np.array([0.01, 0.3, 0.9, 1.5])
    np.testing.assert_allclose(th.weight_entropy(t, alpha, s), th.excess_entropy(t, alpha, s), atol=1e-15)
    h = th.weight_entropy_condensed(t, alpha, s)
    assert 0 < h[0] < 0.1 and np.all(np.diff(h[:3]) > 0) and h[3] == np.inf  # 0 (one point) -> inf at t_C


# ----------------------------------------------------------------------------- traps


@pytest.mark.parametrize("name", list(SPECTRA))
def test_basin_radius(name):
    s, alpha = SPECTRA[name], 0.2
    t_c, t_o = th.collapse_time(alpha, s), th.trap_onset_time(alpha, s)
    assert th.basin_radius_annealed(t_c, alpha, s) == pytest.approx(1.0, abs=1e-10)
    assert th.basin_radius(t_c, alpha, s) == pytest.approx(1.0, abs=1e-10)
    assert th.basin_radius_annealed(t_o, alpha, s) < 1e-5  # sqrt of a ~1e-13 residual
    assert th.basin_radius_annealed(t_o * 1.001, alpha, s) == 0.0
    between = t_c + (t_o - t_c) * np.array([0.1, 0.5, 0.9])
    r_between = th.basin_radius_annealed(between, alpha, s)
    assert np.all((0 < r_between) & (r_between < 1)) and np.all(np.diff(r_between) < 0)
    # above t_C the others are never condensed at r <= 1: general == annealed
    np.testing.assert_allclose(th.basin_radius(between, alpha, s), r_between, atol=1e-10)
    # below t_C the condensed free energy is lower, so the basin is larger
    below = t_c * np.array([0.3, 0.8])
    assert np.all(th.basin_radius(below, alpha, s) > th.basin_radius_annealed(below, alpha, s) + 1e-4)
    assert np.all(th.basin_radius_annealed(below, alpha, s) > 1)


# ----------------------------------------------------------------------------- speciation


def test_speciation_time_and_two_cluster_eigenvalue():
    assert th.speciation_time(np.e**2) == pytest.approx(1.0, rel=1e-15)
    v = np.array([3.0, 0.0, 4.0, 0.0])
    cov = np.outer(v, v) + 0.49 * np.eye(4)
    assert th.two_cluster_largest_eigenvalue(5.0, 0.7) == pytest.approx(np.linalg.eigvalsh(cov)[-1], rel=1e-14)


def test_two_cluster_clone_agreement_limits_and_monotonicity():
    t = np.geomspace(1e-6, 30.0, 60)
    phi = th.two_cluster_clone_agreement(t, 5.0, 0.5)
    inside = (phi[:-1] < 1 - 1e-9) & (phi[1:] > 0.5 + 1e-9)
    assert np.all(np.diff(phi) <= 0) and np.all(np.diff(phi)[inside] < 0) and inside.sum() > 10
    assert phi[0] == pytest.approx(1.0, abs=1e-12)  # |v| / sigma = 10: fully separated clusters
    assert phi[-1] == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("t, norm_v, sigma", [(0.05, 3.0, 1.0), (0.8, 3.0, 1.0), (1.5, 6.0, 0.5), (3.0, 4.0, 0.0)])
def test_two_cluster_clone_agreement_monte_carlo(t, norm_v, sigma):
    # Monte Carlo of 0.5 int (G+^2 + G-^2) / (G+ + G-) dq = E_{q ~ (G+ + G-)/2} [(G+^2 + G-^2) / (G+ + G-)^2].
    rng = np.random.default_rng(1)
    m, gamma = np.exp(-t), -np.expm1(-2 * t) + sigma**2 * np.exp(-2 * t)
    n = 200_000
    q = rng.choice([-1.0, 1.0], n) * norm_v * m + np.sqrt(gamma) * rng.standard_normal(n)
    g_plus, g_minus = (np.exp(-((q - c) ** 2) / (2 * gamma)) for c in (norm_v * m, -norm_v * m))
    samples = (g_plus**2 + g_minus**2) / (g_plus + g_minus) ** 2
    stderr = samples.std() / np.sqrt(n)
    assert th.two_cluster_clone_agreement(t, norm_v, sigma) == pytest.approx(samples.mean(), abs=5 * stderr)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: th.Spectrum.marchenko_pastur(1.5), r"alpha_d=1.5 is out of range: expected 0 < alpha_d <= 1"),
        (lambda: th.Spectrum.marchenko_pastur(0.0), r"alpha_d=0.0 is out of range"),
        (lambda: th.Spectrum.isotropic(-1.0), r"sigma2=-1.0 is out of range: expected 0 < sigma2 < inf"),
        (lambda: th.Spectrum.from_eigenvalues([1.0, -0.5]), r"eigenvalues=-0.5 .*expected 0 <= eigenvalues"),
        (lambda: th.Spectrum(np.ones(2), np.array([0.5, 0.6])), r"sum\(weights\)=1.1"),
        (lambda: th.collapse_time([0.1, -0.2], SPECTRA["mp_1"]), r"alpha=-0.2 .*expected 0 < alpha < inf"),
        (lambda: th.collapse_time(np.nan, SPECTRA["mp_1"]), r"alpha=nan is out of range"),
        (lambda: th.collapse_time(0.1, th.Spectrum.from_eigenvalues([0.0, 0.0])), r"no positive eigenvalue"),
        (lambda: th.collapse_time_isotropic(0.1, sigma=0.0), r"sigma=0.0 is out of range"),
        (lambda: th.rho(0.0, SPECTRA["mp_1"]), r"t=0.0 is out of range: expected 0 < t <= inf"),
        (lambda: th.condensation_point(1.0, 0.1, SPECTRA["mp_1"], r=-1.0), r"r=-1.0 is out of range"),
        (lambda: th.rem_phi(-0.5, 1.0, SPECTRA["mp_1"]), r"k=-0.5 is out of range"),
        (lambda: th.two_cluster_clone_agreement(1.0, 3.0, -0.1), r"sigma=-0.1 is out of range"),
        (lambda: th.speciation_time(0.0), r"largest_eigenvalue=0.0 is out of range"),
    ],
)
def test_bad_input_raises_value_error_naming_parameter_value_and_range(call, message):
    with pytest.raises(ValueError, match=message):
        call()
