import typing

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import diffsim as ds
from diffsim import ConfigError, data
from diffsim.process import delta, m, time_grid
from diffsim.sample import branch_and_continue, sample
from diffsim.solvers import DDIM, SOLVERS, EulerMaruyama, Heun, Solver, SolverName, solver


def test_sde_with_exact_score_samples_the_data_law():
    model = data.GaussianSpectrum.create(np.array([4.0, 1.0, 0.25]))
    b = 20_000
    x = jax.random.normal(jax.random.PRNGKey(0), (b, 3))
    out = sample(jax.random.PRNGKey(1), model.score, x, time_grid(6.0, 1e-3, 400))
    var = np.var(np.asarray(out.final), axis=0)
    # sampling error of a variance: sqrt(2/B) relative (1%); discretisation adds O(h)
    np.testing.assert_allclose(var, [4.0, 1.0, 0.25], rtol=0.05)


def test_heun_ode_is_second_order(x64):
    """Probability flow for N(0, s^2 I) is x_t / sqrt(m^2 s^2 + Delta) = const."""
    s2 = 3.0
    model = data.IsotropicGaussian(2, np.sqrt(s2))
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 2), jnp.float64)
    t0, t1 = 2.0, 0.05
    exact = x * np.sqrt((m(t1) ** 2 * s2 + delta(t1)) / (m(t0) ** 2 * s2 + delta(t0)))
    errors = []
    for steps in (10, 20, 40):
        out = sample(jax.random.PRNGKey(1), model.score, x, time_grid(t0, t1, steps, "uniform"), solver=Heun())
        errors.append(float(jnp.max(jnp.abs(out.final - exact))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.8), (errors, orders)


def test_records_and_states_shapes_and_reproducibility():
    model = data.IsotropicGaussian(3)
    x = jax.random.normal(jax.random.PRNGKey(0), (7, 3))
    times = time_grid(3.0, 0.01, 12)
    a = sample(jax.random.PRNGKey(5), model.score, x, times, record_every=4, keep_states=True)
    b = sample(jax.random.PRNGKey(5), model.score, x, times, record_every=4, keep_states=True)
    assert a.states.shape == (4, 7, 3) and a.times.shape == (4,)
    np.testing.assert_allclose(a.times, times[[0, 4, 8, 12]], rtol=1e-6)
    np.testing.assert_array_equal(a.final, b.final)
    np.testing.assert_array_equal(a.states[0], x)
    np.testing.assert_array_equal(a.states[-1], a.final)


def test_per_trajectory_times_match_shared_times():
    model = data.IsotropicGaussian(3)
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    times = time_grid(3.0, 0.01, 10)
    shared = sample(jax.random.PRNGKey(2), model.score, x, times)
    per = sample(jax.random.PRNGKey(2), model.score, x, np.repeat(times[:, None], 5, axis=1))
    np.testing.assert_allclose(shared.final, per.final, rtol=1e-6, atol=1e-6)


def test_branch_and_continue_clones_share_their_start():
    model = data.IsotropicGaussian(2)
    states = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 2))
    out = branch_and_continue(jax.random.PRNGKey(1), model.score, states, np.array([1.0, 0.5, 0.2]), 0.01, n_steps=8)
    assert out.final.shape == (3 * 2 * 4, 2)
    assert out.times.shape == (2, 24)
    np.testing.assert_allclose(out.times[0].reshape(3, 2, 4)[:, 0, 0], [1.0, 0.5, 0.2], rtol=1e-6)
    finals = np.asarray(out.final).reshape(3, 2, 4, 2)
    assert not np.allclose(finals[:, 0], finals[:, 1])  # independent noise


def test_no_recompilation_for_new_data_values():
    from diffsim.sample import _run

    x = jax.random.normal(jax.random.PRNGKey(0), (4, 3))
    times = time_grid(2.0, 0.1, 6)
    sample(jax.random.PRNGKey(1), data.IsotropicGaussian(3, 1.0).score, x, times)
    before = _run._cache_size()
    sample(jax.random.PRNGKey(2), data.IsotropicGaussian(3, 2.0).score, x + 1, times * 0.9)
    assert _run._cache_size() == before


def test_bad_sampler_input():
    model = data.IsotropicGaussian(3)
    x = jnp.zeros((2, 3))
    for not_a_solver in ("sde", EulerMaruyama, None):
        with pytest.raises(ConfigError, match=r"^solver=.*is not a Solver.*EulerMaruyama\(\), Heun\(\), DDIM\(\)"):
            sample(jax.random.PRNGKey(0), model.score, x, time_grid(1.0, 0.1, 4), solver=not_a_solver)
    with pytest.raises(ConfigError, match="record_every"):
        sample(jax.random.PRNGKey(0), model.score, x, time_grid(1.0, 0.1, 4), record_every=3)


def _tiny_case():
    """Two states in N = 3, a drift returning (score, stats), one step from t = 0.7 to 0.5."""
    x = jax.random.normal(jax.random.PRNGKey(3), (2, 3))
    model = data.IsotropicGaussian(3, 1.5)

    def drift(x, t):
        return model.score(x, t), {"norm": jnp.sum(x * x, -1)}

    return x, model.score, drift, jnp.float32(0.7), jnp.float32(0.5), jax.random.PRNGKey(4)


def test_each_solver_step_is_its_hand_written_update():
    """solver.step and one step of the driver (which draws the noise from split(key, n_steps)) against
    the updates written out."""
    x, score, drift, t, t_next, key = _tiny_case()
    h = t - t_next
    s = score(x, t)
    euler = lambda k: x + h * (x + 2.0 * s) + jnp.sqrt(2.0 * h) * jax.random.normal(k, x.shape)
    x_pred = x + h * (x + s)
    heun = x + 0.5 * h * ((x + s) + (x_pred + score(x_pred, t_next)))
    ddim = m(t_next) * (x + delta(t) * s) / m(t) - jnp.sqrt(delta(t_next)) * jnp.sqrt(delta(t)) * s
    cases = ((EulerMaruyama(), euler(key), euler(jax.random.split(key, 1)[0])), (Heun(), heun, heun),
             (DDIM(), ddim, ddim))
    for solver_, step_expect, driver_expect in cases:
        name = type(solver_).__name__
        x_next, stats = solver_.step(drift, x, t, t_next, key)
        np.testing.assert_allclose(x_next, step_expect, rtol=1e-6, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(stats["norm"], jnp.sum(x * x, -1))  # the drift's stats at (x, t)
        out = sample(key, drift, x, jnp.stack([t, t_next]), solver=solver_)
        np.testing.assert_allclose(out.final, driver_expect, rtol=1e-6, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(out.records["norm"][0], stats["norm"])


def test_ddim_is_exact_for_a_point_mass():
    """For a one-point law at a the denoiser is a at every t, so (x_t - m_t a) / sqrt(Delta_t) is
    constant along DDIM for any step: x_t = m_t a + sqrt(Delta_t / Delta_T) (x_T - m_T a)."""
    a = jnp.array([1.0, -2.0, 0.5])
    drift = lambda x, t: (m(t) * a - x) / delta(t)  # exact score of the point mass
    x_init = jax.random.normal(jax.random.PRNGKey(0), (4, 3))
    times = time_grid(3.0, 0.05, 9, "uniform")
    tr = sample(jax.random.PRNGKey(1), drift, x_init, times, solver=DDIM(), record_every=1, keep_states=True)
    tt = np.asarray(times, np.float32)[:, None, None]
    expect = m(tt) * a + np.sqrt(delta(tt) / delta(tt[0])) * (x_init - m(tt[0]) * a)
    np.testing.assert_allclose(tr.states, expect, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_per_trajectory_times_match_shared_times_for_every_solver(name):
    model = data.IsotropicGaussian(3)
    x = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    times = time_grid(3.0, 0.01, 10)
    shared = sample(jax.random.PRNGKey(2), model.score, x, times, solver=solver(name))
    per = sample(jax.random.PRNGKey(2), model.score, x, np.repeat(times[:, None], 5, axis=1), solver=solver(name))
    np.testing.assert_allclose(shared.final, per.final, rtol=1e-5, atol=1e-5)


def test_config_names_map_to_their_solvers():
    assert typing.get_args(SolverName) == tuple(SOLVERS)
    assert solver("sde") == EulerMaruyama() and solver("ode") == Heun() and solver("ddim") == DDIM()
    assert ds.solver("ode") == ds.Heun() and ds.SOLVERS is SOLVERS
    for name, cls in SOLVERS.items():
        made = solver(name)
        assert type(made) is cls and isinstance(made, Solver)
    with pytest.raises(ConfigError, match=r"^solver='rk4' is not known: expected one of sde, ode, ddim"):
        solver("rk4")


def test_solvers_are_leafless_pytrees_that_key_the_compilation():
    from diffsim.sample import _run

    for s in (EulerMaruyama(), Heun(), DDIM()):
        assert jax.tree_util.tree_leaves(s) == []
        assert jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(s), []) == s
    model = data.IsotropicGaussian(3)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 3))
    times = time_grid(2.0, 0.1, 6)
    sample(jax.random.PRNGKey(1), model.score, x, times, solver=Heun())
    before = _run._cache_size()
    sample(jax.random.PRNGKey(2), model.score, x + 1, times, solver=Heun())
    assert _run._cache_size() == before
    sample(jax.random.PRNGKey(2), model.score, x, times, solver=DDIM())
    assert _run._cache_size() == before + 1
