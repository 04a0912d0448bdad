"""Speciation (THEORY.md section 3) measured by the clone protocol vs the closed form, one study
point per N, and the same measurement on a user's own two-cluster array."""

import math

import jax
import numpy as np
import pytest

import diffsim as ds
from diffsim.specs import build
from diffsim.studies.speciation import SpeciationConfig, run_speciation


@pytest.fixture(scope="module")
def results():
    return [run_speciation(build(SpeciationConfig, {"data.dim": n, "measure.n_pairs": 512, "measure.n_branch": 12, "seed": 1})) for n in (16, 64)]


def test_phi_follows_the_theoretical_curve(results):
    for r in results:
        m = r.measurement
        # binomial error of each point; allow 4 sigma for the max over ~12 points, plus the
        # discretisation of the SDE (0.02 in phi)
        err = np.sqrt(np.maximum(r.phi_theory * (1 - r.phi_theory), 0.01) / r.config.measure.n_pairs)
        assert np.all(np.abs(m.phi - r.phi_theory) < 4 * err + 0.02), (m.dim, m.phi, r.phi_theory)
        # branch times decrease along the curve: the window brackets the transition
        assert m.phi[0] < 0.7 and m.phi[-1] > 0.9


def test_speciation_time_is_half_log_lambda(results):
    for r in results:
        n = r.measurement.dim
        assert r.largest_eigenvalue == pytest.approx(n + 1.0)
        assert r.t_speciation_theory == pytest.approx(0.5 * math.log(n + 1.0))
        value, stderr = r.measurement.t_speciation
        assert abs(value - r.t_speciation_theory) < max(3 * stderr, 0.02), r.measurement
        assert abs(value / r.t_speciation_theory - 1) < 0.1


def test_measure_speciation_on_a_users_array_defaults_to_its_own_scale():
    """With only a training set, the measurement takes the exact empirical score as drift, the top
    principal axis as the class labelling and t_ref = 0.5 log Lambda of the sample covariance."""
    rng = np.random.default_rng(0)
    dim, p = 8, 256
    v = np.zeros(dim)
    v[0] = 2.0 * math.sqrt(dim)  # |v|^2 = 4 N: well separated clusters
    points = rng.choice([-1.0, 1.0], size=(p, 1)) * v + rng.standard_normal((p, dim))
    train = ds.TrainingSet.from_points(points)
    lam = float(np.linalg.eigvalsh(np.cov(points, rowvar=False))[-1])
    m = ds.measure_speciation(jax.random.key(0), train, n_pairs=128, n_branch=8, n_steps=200, clone_steps=40,
                              n_bootstrap=50)
    assert m.t_ref == pytest.approx(0.5 * math.log(lam))
    # the clone agreement rises from about 1/2 (pairs split between clusters) to 1 below t_S
    assert m.phi[0] < 0.8 and m.phi[-1] > 0.95
    # and the speciation time is read near 0.5 log Lambda (the exact empirical score of two
    # well separated clusters speciates as the mixture does)
    assert abs(m.t_speciation.value / m.t_ref - 1) < 0.15, (m.t_speciation, m.t_ref)
