"""Collapse time (THEORY.md section 4): four estimators on backward trajectories driven by the
exact empirical score, against the closed form, with their finite-size trend."""

import json
import math

import jax
import numpy as np
import pytest

from diffsim import data
from diffsim.measure.collapse import excess_entropy_samples
from diffsim.score import TrainingSet
from diffsim.measure.collapse import CollapseOptions
from diffsim.specs import DataSpec, leaves, replace_path
from diffsim.studies.collapse import CollapseConfig, extrapolate, run_collapse
from diffsim.theory import Spectrum, collapse_time_isotropic, excess_entropy

ESTIMATORS = ("condensation", "freezing", "clones", "entropy")

# (alpha, dims): four or five N each, chosen so that P = exp(alpha N) stays <= ~1.5e4 (CPU budget)
CASES = {0.2: (24, 32, 40, 48), 0.3: (16, 20, 24, 28, 32)}


class Points:
    """Collapse results at several N (one study point each) and their 1/N extrapolation."""

    def __init__(self, results):
        self.points = results
        self.theory = results[0].theory
        self.config = results[0].config
        self.dims = [r.measurement.dim for r in results]
        self.extrapolated = extrapolate(results)


@pytest.fixture(scope="module", params=sorted(CASES))
def measured(request):
    alpha = request.param
    base = CollapseConfig(data=DataSpec(alpha=alpha), measure=CollapseOptions(
        n_trajectories=1024, n_steps=300, n_clone_pairs=512, clone_steps=40, entropy_samples=1024), seed=0)
    return Points([run_collapse(replace_path(base, "data.dim", n)) for n in CASES[alpha]])


def test_every_estimator_approaches_theory_as_n_grows(measured):
    t_c = measured.theory["t_collapse"]
    assert t_c == pytest.approx(collapse_time_isotropic(measured.config.data.alpha))
    for name in ESTIMATORS:
        values = np.array([r.estimates[name].value for r in measured.points])
        errors = np.array([r.estimates[name].stderr for r in measured.points])
        gaps = np.abs(values - t_c)
        # the gap at the largest N is below the gap at the smallest N, beyond the noise
        assert gaps[-1] < gaps[0], (name, values)
        # the 1/N slope is positive (finite N shifts the estimates upwards) ...
        slope = np.polyfit(1.0 / np.array(measured.dims), values, 1)[0]
        assert slope > 0, (name, values, errors)
        # ... and every estimator's 1/N extrapolation agrees with t_C within 10% (the four must
        # agree as N grows; condensation and clones are held to 5% below)
        value, stderr = measured.extrapolated[name]
        assert abs(value / t_c - 1) < 0.10, (name, value, stderr)


@pytest.mark.parametrize("name", ["condensation", "clones"])
def test_inverse_n_extrapolation_lands_within_five_percent(measured, name):
    t_c = measured.theory["t_collapse"]
    value, stderr = measured.extrapolated[name]
    assert abs(value / t_c - 1) < 0.05, (name, value, stderr, t_c)
    assert stderr < 0.1 * t_c  # the comparison is informative: the error bar is below 10%


def test_rerun_gives_identical_numbers():
    config = CollapseConfig(data=DataSpec(alpha=0.3, dim=10), measure=CollapseOptions(
        n_trajectories=32, n_steps=60, record_every=3, n_clone_pairs=16, entropy_samples=32, n_bootstrap=20))
    a, b = run_collapse(config).to_json(), run_collapse(config).to_json()
    assert json.dumps(a) == json.dumps(b)


def test_a_config_is_one_point():
    """One study config is one point (one N); iteration over N belongs to sweeps (issue 11)."""
    names = {leaf.path for leaf in leaves(CollapseConfig)}
    assert "data.dim" in names and not any(name.endswith("dims") for name in names)


@pytest.fixture(scope="module")
def entropy_curves():
    alpha = 0.2
    t_c = float(collapse_time_isotropic(alpha))
    ratios = np.array([0.3, 0.9, 1.2, 2.0, 3.0])
    out = {}
    for n in (30, 40, 50):
        p = round(math.exp(alpha * n))
        model = data.IsotropicGaussian(n)
        train = TrainingSet.from_points(model.sample(jax.random.PRNGKey(n), p))
        s = np.asarray(excess_entropy_samples(jax.random.PRNGKey(1), train, ratios * t_c, 4000))
        theory = excess_entropy(ratios * t_c, math.log(p) / n, Spectrum.from_eigenvalues(model.covariance_spectrum()))
        out[n] = (s.mean(1), s.std(1, ddof=1) / math.sqrt(s.shape[1]), np.asarray(theory))
    return ratios, out


def test_monte_carlo_excess_entropy_matches_gaussian_curve(entropy_curves):
    ratios, curves = entropy_curves
    far = ratios >= 2.0
    for n in (40, 50):
        mean, err, theory = curves[n]
        # away from the crossover around t_C: within 3 error bars
        assert np.all(np.abs(mean[far] - theory[far]) < 3 * err[far]), (n, mean, theory, err)
        # deep in the collapsed phase: f_e = 0
        assert mean[0] < 1e-3
    # near t_C the finite-N curve is smoothed; the deviation shrinks monotonically with N
    near = (ratios > 0.5) & (ratios < 1.5)
    dev = [np.max(np.abs(curves[n][0][near] - curves[n][2][near])) for n in (30, 40, 50)]
    assert dev[0] > dev[1] > dev[2], dev
