"""The estimation separation (THEORY.md section 10): loss gap == Fisher divergence, its condensed
small-t limit, its decay with P above the collapse time; closed forms in diffsim.theory.separation."""

import math

import jax
import numpy as np
import pytest

from diffsim import data
from diffsim._validate import ConfigError
from diffsim.measure.separation import measure_loss_gap
from diffsim.score import TrainingSet
from diffsim.theory import separation as th
from diffsim.theory.spectrum import Spectrum

N = 8
TIMES = (0.01, 0.03, 0.1, 0.3, 1.0)
SIZES = (16, 256, 4096)


def _gap(model, p, times, *, n_samples=4096, seed=0):
    train = TrainingSet.from_points(model.sample(jax.random.PRNGKey(100 + seed), p))
    return measure_loss_gap(jax.random.PRNGKey(seed), train, model.score, times=times, n_samples=n_samples)


@pytest.fixture(scope="module")
def gaussian_gaps():
    model = data.make("gaussian", N)
    return {p: _gap(model, p, TIMES, n_samples=2048) for p in SIZES}


def _assert_identity(res, n_sigma=4.0):
    g, ge = res.values("loss_gap"), res.stderrs("loss_gap")
    f, fe = res.values("fisher"), res.stderrs("fisher")
    assert np.all(np.isfinite(ge)) and np.all(ge > 0) and np.all(fe > 0)
    z = (g - f) / np.sqrt(ge**2 + fe**2)
    assert np.all(np.abs(z) < n_sigma), (res.n_points, res.times, g, f, z)
    # the paired difference is the difference of the two losses on the same draws
    np.testing.assert_allclose(g, res.values("loss_true") - res.values("loss_empirical"),
                               rtol=1e-3, atol=1e-4 * np.max(res.values("loss_true")))


def test_loss_gap_equals_fisher_divergence_gaussian(gaussian_gaps):
    """Prop. 4.1: l_t(s_true) - l_t(s_e) = E_{p_t^e}|s_e - s_true|^2 at every t in 1e-2..1 and three P."""
    for res in gaussian_gaps.values():
        assert res.n_samples >= 2048 and res.dim == N
        _assert_identity(res)
        np.testing.assert_allclose(res.paper_times, 2.0 * np.asarray(TIMES))


@pytest.mark.parametrize("name", ["mixture", "hmm"])
def test_loss_gap_equals_fisher_divergence_mixture_hmm(name):
    model = data.make(name, N, mtilde=2.0) if name == "mixture" else data.make(name, N)
    _assert_identity(_gap(model, 256, (0.01, 0.1, 1.0), n_samples=1024, seed=1))


def test_small_t_limit_of_scaled_gap(gaussian_gaps):
    """[derived] while condensed, gap * Delta_t / N -> 1 - Delta_t (unit variance), limit 1 as t -> 0;
    the measured value approaches the condensed closed form as t decreases below t_C(P)."""
    res = gaussian_gaps[4096]
    spec = Spectrum.isotropic(1.0)
    assert th.collapse_time_of_size(4096, N, spec) > 0.05  # t = 0.01, 0.03 lie well below t_C
    scaled, err = res.scaled_gap()
    cond = th.condensed_gap_ratio(res.times, spec)
    np.testing.assert_allclose(cond, np.exp(-2.0 * res.times), rtol=1e-12)
    # distance to the limit 1 shrinks monotonically as t decreases
    dist = np.abs(scaled - th.condensed_gap_limit(spec))
    assert np.all(np.diff(dist) > 0), dist
    # the condensed closed form holds at t = 0.01 ~ t_C / 7 (within errors + 1%), not at t = 1
    # (at N = 8 the posterior starts to decondense well below t_C: -12% at t = 0.03 ~ t_C / 2)
    assert abs(scaled[0] - cond[0]) < 4 * err[0] + 0.01 * cond[0], (scaled, cond)
    assert scaled[-1] < 0.2 * cond[-1]
    # and the deviation from it grows with t (the posterior decondenses near and above t_C)
    rel = np.abs(scaled - cond) / cond
    assert rel[0] < rel[2] < rel[3] < rel[4]


def test_gap_decays_with_p_above_collapse_time(gaussian_gaps):
    """At t = 0.3 and 1 (above t_C(P)) the gap falls with P; at t = 0.01 (condensed) it does not."""
    spec = Spectrum.isotropic(1.0)
    for i, t in enumerate(TIMES):
        sizes = [p for p in SIZES if th.collapse_time_of_size(p, N, spec) < t]
        g = np.array([gaussian_gaps[p].loss_gap[i].value for p in sizes])
        e = np.array([gaussian_gaps[p].loss_gap[i].stderr for p in sizes])
        if t >= 0.3:
            assert len(sizes) >= 2 + (t >= 1.0)
            assert np.all(g[:-1] - g[1:] > 3 * np.hypot(e[:-1], e[1:])), (t, g, e)
        if t <= 0.01:
            g = [gaussian_gaps[p].loss_gap[i].value for p in SIZES]
            assert abs(g[-1] / g[0] - 1) < 0.05, (t, g)


def test_condensed_closed_form_against_direct_monte_carlo():
    """G^cond = E|xi/sqrt(Delta) + s_true(m a + sqrt(Delta) xi)|^2 for a non-isotropic Gaussian (float64
    NumPy Monte Carlo with the exact score -(m^2 C + Delta)^{-1} x of a diagonal C)."""
    lam = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.0])
    spec = Spectrum.from_eigenvalues(lam)
    rng = np.random.default_rng(3)
    n = 40_000
    a, xi = rng.normal(size=(n, lam.size)) * np.sqrt(lam), rng.normal(size=(n, lam.size))
    for t in (0.05, 0.4, 1.5):
        mt, dt = math.exp(-t), -math.expm1(-2 * t)
        x = mt * a + math.sqrt(dt) * xi
        vals = np.sum(np.square(xi / math.sqrt(dt) - x / (mt**2 * lam + dt)), -1)
        want = th.loss_gap_condensed(t, spec, lam.size)
        assert abs(vals.mean() - want) < 4 * vals.std() / math.sqrt(n), (t, vals.mean(), want)
    assert th.condensed_gap_limit(spec) == pytest.approx(5 / 6)


def test_dilute_closed_form_isotropic_and_times():
    spec = Spectrum.isotropic(1.0)
    t, n, p = 0.7, 5, 1000
    d = -math.expm1(-2 * t)
    assert th.loss_gap_dilute(t, spec, n, p) == pytest.approx(n * math.exp(-2 * t) / (p * d ** (n + 1)), rel=1e-12)
    t_c, t_dil = th.collapse_time_of_size(p, n, spec), th.dilute_time(p, n, spec)
    assert 0 < t_c < t_dil
    assert t_dil == pytest.approx(max(math.log(2.0), th.collapse_time_of_size(round(p**0.5), n, spec)), rel=1e-6)
    assert -0.5 * math.log(-math.expm1(-2 * t_c)) == pytest.approx(math.log(p) / n, rel=1e-9)
    with pytest.raises(ConfigError, match="n_points"):
        th.loss_gap_dilute(t, spec, n, 0.5)


def test_measure_rejects_bad_input():
    model = data.make("gaussian", 2)
    train = TrainingSet.from_points(model.sample(jax.random.PRNGKey(0), 8))
    with pytest.raises(ConfigError, match="times"):
        measure_loss_gap(jax.random.PRNGKey(0), train, model.score, times=[0.0])
    with pytest.raises(ConfigError, match="n_samples"):
        measure_loss_gap(jax.random.PRNGKey(0), train, model.score, times=[0.1], n_samples=1)
    with pytest.raises(ConfigError, match="TrainingSet"):
        measure_loss_gap(jax.random.PRNGKey(0), np.zeros((8, 2)), model.score, times=[0.1])


@pytest.mark.slow
def test_dilute_law_averaged_over_training_sets():
    """[derived] P -> inf at fixed t: E_A gap = (m^2/Delta^2)(N/P) prod(1+rho) <lambda/(1+rho)>, a 1/P law
    (one training set fluctuates by tens of percent at large t, so the mean over 16 sets is tested)."""
    n, times = 4, np.array([1.0, 1.5])
    model, spec = data.make("gaussian", n), Spectrum.isotropic(1.0)
    for p in (256, 2048):
        vals = np.array([_gap(model, p, times, n_samples=1024, seed=s).values("fisher") for s in range(16)])
        ratio = vals.mean(0) / th.loss_gap_dilute(times, spec, n, p)
        err = vals.std(0, ddof=1) / math.sqrt(len(vals)) / th.loss_gap_dilute(times, spec, n, p)
        assert np.all(np.abs(ratio - 1) < 3 * err + 0.1), (p, ratio, err)


def test_loss_gap_study_rows_json_and_cli(capsys, gaussian_gaps):
    import json

    from diffsim.cli_util import OneLineParser
    from diffsim.commands import separation as cmd
    from diffsim.measure.separation import LossGapOptions
    from diffsim.specs import DataSpec
    from diffsim.studies.separation import LossGapConfig, loss_gap_model

    with pytest.raises(ConfigError, match="n_components"):
        LossGapConfig(data=DataSpec(model="mixture", dim=2, n_train=256), n_components=3).validate()
    with pytest.raises(ConfigError, match="measure.times"):
        LossGapConfig(measure=LossGapOptions(times=(0.5, 0.1))).validate()
    model, cond, tc, dil = loss_gap_model(DataSpec(model="mixture", dim=3, n_train=256, mtilde=2.0), n_components=3)
    assert model.means.shape == (3, 3) and dil is None and cond.eigenvalues.tolist() == [1.0]

    parser = OneLineParser(prog="diffsim")
    cmd.register(parser.add_subparsers(dest="command", required=True))
    # same shapes as the gaussian_gaps fixture (N = 8, P = 16 and 256, five times, 2048 draws): no new compile
    args = parser.parse_args(["separation", "loss-gap", "--data.dim", "8", "--data.n-train", "16,256", "--measure.times",
                              ",".join(map(str, TIMES)), "--measure.n-samples", "2048", "--quiet", "--json"])
    assert args.handler(args) == 0
    out = json.loads(capsys.readouterr().out)
    need = {"P", "t", "t_paper", "loss_gap", "loss_gap_stderr", "fisher", "fisher_stderr", "theory/t_collapse"}
    assert len(out["rows"]) == 10 and all(need <= set(r) for r in out["rows"])
    assert [r["t_paper"] for r in out["rows"][:5]] == [2 * t for t in TIMES]
    assert [d["n_sizes"] for d in out["decay"]] == [0, 0, 0, 1, 2]  # t_C(16) = 0.35, t_C(256) = 0.14
    tidy_json = json.dumps(out, allow_nan=False)
    assert "NaN" not in tidy_json


def _size_result(p, w_mem, w_emp, w_true):
    from diffsim import specs
    from diffsim.measure.separation_size import SizeMeasurement
    from diffsim.studies.separation_size import SizeConfig, SizeResult

    z = np.zeros((2, 1))
    return SizeResult(specs.build(SizeConfig, {"data.n_train": p, "widths": (2, 512)}),
                      SizeMeasurement((2, 512), p, 4, z, z, z, 0.1, 1.0, w_mem, w_emp, w_true, (0.0, 0.0)), 0.0)


def test_width_interpolation_and_scaling_fit():
    from diffsim.measure.separation_size import interpolated_width as _interpolated_width
    from diffsim.studies.separation_size import width_scaling

    widths = (4, 8, 16, 32)
    assert _interpolated_width(widths, [0.5, 0.2, 0.05, 0.01], 0.1, below=True) == pytest.approx(8 * 2 ** (2 / 3))
    assert _interpolated_width(widths, [0.05, 0.02, 0.01, 0.0], 0.1, below=True) == 4.0
    assert _interpolated_width(widths, [0.5, 0.4, 0.3, 0.2], 0.1, below=True) is None
    assert _interpolated_width(widths, [0.0, 0.1, 0.6, 0.9], 0.5, below=False) == pytest.approx(8 * 2 ** 0.8)
    sizes = [4, 8, 16, 32, 64]
    rng = np.random.default_rng(0)
    results = [_size_result(p, 2.0 * p * math.exp(0.05 * rng.normal()), 3.0 * p**0.5, 8.0 if p < 64 else None) for p in sizes]
    results.append(_size_result(2, 2.0, 2.0, 8.0))  # the grid floor passes: an upper bound, not fitted
    fits = width_scaling(results)
    assert fits["width_memorize"]["at_grid_floor_P"] == [2] and 2 not in fits["width_memorize"]["P"]
    mem = fits["width_memorize"]
    assert mem["interval95"][0] < 1.0 < mem["interval95"][1] and abs(mem["exponent"] - 1) < 0.1
    assert fits["width_fit_empirical"]["exponent"] == pytest.approx(0.5, abs=1e-9)
    assert fits["width_fit_true"]["exponent"] == pytest.approx(0.0, abs=1e-9)
    assert fits["width_fit_true"]["not_found_at_P"] == [64]


@pytest.mark.slow
def test_size_study_smoke():
    import json

    from diffsim import specs
    from diffsim.studies.separation_size import SizeConfig, run_size

    res = run_size(specs.build(SizeConfig, {
        "data.dim": 2, "data.n_train": 4, "widths": (2, 32), "train.steps": 200, "train.steps_per_dispatch": 100,
        "measure.n_seeds": 1, "measure.n_eval": 256, "measure.n_samples": 64, "measure.sample_steps": 20}))
    assert res.measurement.err_empirical.shape == (2, 1) and res.measurement.memorized.shape == (2, 1)
    assert res.measurement.memorized_exact > 0.9  # the exact empirical score memorizes at t_min = 0.01 << t_C
    assert {"memorized_fraction", "memorized_fraction_stderr", "memorized_fraction_exact"} <= set(res.summary()[0])
    assert {"memorized_fraction", "memorized_fraction_exact"} <= {r["quantity"] for r in res.rows()}
    json.dumps(res.to_json(), allow_nan=False)
