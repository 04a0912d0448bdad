"""The denoiser measurement on its own (diffsim.measure.denoiser): a two-member ensemble of tiny nets on
nested training sets, its invariants, its member labels and keys, and its rows."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import diffsim as ds
from diffsim import data
from diffsim.measure.denoiser import DenoiserMeasurement
from diffsim.nets import ModelConfig, TrainConfig
from diffsim.score import masked_training_set

DIM, SIZES, WIDTH = 4, (4, 8), 16
TRAINING = TrainConfig(steps=100, batch_size=16, steps_per_dispatch=25, n_checkpoints=3)
OPTIONS = dict(eval_times=4, eval_batch=32, n_samples=32, sample_steps=20, record_every=5, n_projections=8)


def _measure(key, train):
    model = data.make("gaussian", DIM)
    network = ModelConfig(width=WIDTH, depth=1, data_variance=float(np.mean(model.covariance_spectrum())))
    return ds.measure_denoiser(key, train, data_model=model, networks=[network], training=TRAINING, **OPTIONS)


@pytest.fixture(scope="module")
def points():
    return data.make("gaussian", DIM).sample(jax.random.PRNGKey(1), max(SIZES))


@pytest.fixture(scope="module")
def ensemble(points):
    """P = 4 and P = 8 (the first 4 points inside the 8) in one padded layout."""
    train = jax.vmap(masked_training_set)(jnp.stack([points, points]), jnp.asarray(SIZES, jnp.int32))
    return _measure(jax.random.PRNGKey(0), train)


def test_members_are_labelled_and_curves_have_their_shapes(ensemble):
    assert isinstance(ensemble, DenoiserMeasurement)
    assert ensemble.widths == (WIDTH,) and ensemble.n_train == SIZES
    assert [(r.width, r.n_train, r.seed) for r in ensemble.members] == [(WIDTH, 4, 0), (WIDTH, 8, 0)]
    r = ensemble.members[0]
    assert r.steps[0] == 0 and r.steps[-1] == TRAINING.steps
    assert r.curves["err_emp_test"].shape == (len(r.steps), OPTIONS["eval_times"])
    assert r.curves["memorized_fraction"].shape == (len(r.steps),)
    assert r.train_loss.shape == (TRAINING.steps // TRAINING.steps_per_dispatch,)


def test_score_errors_obey_the_triangle_inequality_and_the_gap_ignores_the_net(ensemble):
    """Per t the errors are empirical L2 norms over the same queries, so
    ``sqrt(err_true) <= sqrt(err_emp) + sqrt(gap)`` exactly (Minkowski); the gap |s_e - s_true|^2
    does not involve the net, so it is the same at every checkpoint; and the larger training set's
    empirical score is closer to the true one on test queries."""
    for r in ensemble.members:
        for law in ("train", "test"):
            c = {k: np.asarray(r.curves[f"{k}_{law}"], float) for k in ("err_true", "err_emp", "gap")}
            assert np.all(np.sqrt(c["err_true"]) <= (np.sqrt(c["err_emp"]) + np.sqrt(c["gap"])) * (1 + 1e-5))
            np.testing.assert_array_equal(c["gap"], np.broadcast_to(c["gap"][0], c["gap"].shape))
    small, large = (np.asarray(r.final("gap_test")) for r in ensemble.members)
    assert np.mean(large) < np.mean(small)


def test_the_net_is_far_from_the_empirical_score_at_small_t_only(ensemble):
    """At small t the empirical score points at single training points (|s_e| ~ 1/Delta_t); a net
    trained 100 steps is far from it there and close at large t, where every score is ~ -x."""
    for r in ensemble.members:
        err = r.final("err_emp_test")
        assert err[-1] < 0.1 * err[0]


def test_a_member_does_not_depend_on_its_ensemble(ensemble, points):
    """Member (P, seed) trains from a key of (width, P, seed) and is evaluated on the shared queries:
    measured alone (one TrainingSet, no member axis) the P = 4 member gives the same curves."""
    alone = _measure(jax.random.PRNGKey(0), ds.TrainingSet.from_points(points[:4]))
    assert [(r.width, r.n_train, r.seed) for r in alone.members] == [(WIDTH, 4, 0)]
    (a,), b = alone.members, ensemble.members[0]
    np.testing.assert_array_equal(a.steps, b.steps)
    for name in ("err_true_test", "err_emp_test", "err_emp_train", "loss_test", "memorized_fraction"):
        np.testing.assert_allclose(a.curves[name], b.curves[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_rows_rebuild_the_members(ensemble):
    rebuilt = DenoiserMeasurement.from_rows(ensemble.rows(), widths=ensemble.widths, n_train=ensemble.n_train, dim=DIM)
    assert rebuilt.summary() == ensemble.summary() and rebuilt.fits() == ensemble.fits()
    for a, b in zip(rebuilt.members, ensemble.members):
        assert set(a.curves) == set(b.curves)
        for name in a.curves:
            np.testing.assert_array_equal(a.curves[name], np.asarray(b.curves[name], float))
