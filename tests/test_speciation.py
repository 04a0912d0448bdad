"""Speciation (THEORY.md section 3) measured by the clone protocol vs the closed form."""

import math

import numpy as np
import pytest

from diffsim.studies.speciation import SpeciationConfig, run_speciation


@pytest.fixture(scope="module")
def result():
    return run_speciation(SpeciationConfig(dims=(16, 64), n_pairs=512, n_branch=12, seed=1))


def test_phi_follows_the_theoretical_curve(result):
    for row in result.per_dim:
        # binomial error of each point; allow 4 sigma for the max over ~12 points, plus the
        # discretisation of the SDE (0.02 in phi)
        err = np.sqrt(np.maximum(row.phi_theory * (1 - row.phi_theory), 0.01) / result.config.n_pairs)
        assert np.all(np.abs(row.phi - row.phi_theory) < 4 * err + 0.02), (row.n, row.phi, row.phi_theory)
        # branch times decrease along the curve: the window brackets the transition
        assert row.phi[0] < 0.7 and row.phi[-1] > 0.9


def test_speciation_time_is_half_log_lambda(result):
    for row in result.per_dim:
        assert row.largest_eigenvalue == pytest.approx(row.n + 1.0)
        assert row.t_speciation_theory == pytest.approx(0.5 * math.log(row.n + 1.0))
        value, stderr = row.t_speciation
        assert abs(value - row.t_speciation_theory) < max(3 * stderr, 0.02), row
        assert abs(value / row.t_speciation_theory - 1) < 0.1
