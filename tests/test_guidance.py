"""Overestimation and guidance (THEORY.md section 9): class-conditional data, the guidance combinator,
the DDIM sampler and measure_guidance against the closed forms of diffsim.theory.guidance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsim._validate import ConfigError
from diffsim.data.conditional import ClassConditionalSet, make_conditional
from diffsim.guidance import guided
from diffsim.measure.guidance import correlations, detector_auc, measure_guidance
from diffsim.process import delta, m, time_grid
from diffsim.sample import sample
from diffsim.score import posterior_dense
from diffsim.solvers import DDIM
from diffsim.theory.guidance import one_point_ddim_weights, one_point_deviations, overestimation_limit

SWEEP = (1.0, 2.0, 4.0, 7.5, 10.0)


@pytest.fixture(scope="module")
def mixture_data():
    return make_conditional(jax.random.PRNGKey(0), "mixture", 8, (1, 2, 3, 48), separation=1.0)


@pytest.fixture(scope="module")
def exact_sweep(mixture_data):
    """Exact empirical scores, DDIM from t = 12 (m_T = 6e-6) on a log grid, the full g sweep."""
    _, data = mixture_data
    return measure_guidance(jax.random.PRNGKey(1), data, guidance=SWEEP, n_trajectories=32, n_steps=40,
                            t_max=12.0, t_min=0.02, grid="log", n_bootstrap=100, n_loss_samples=128)


def test_masked_class_scores_equal_dense_posteriors(mixture_data):
    """The mask restriction (a one-point class included) equals the dense posterior of the class's
    points; label -1 equals the dense posterior of all points."""
    _, data = mixture_data
    x = 2.0 * jax.random.normal(jax.random.PRNGKey(3), (6, 8))
    streamed = jax.jit(lambda t, label: data.denoiser(x, t, label))
    dense = jax.jit(lambda t, pts: posterior_dense(x, t, pts).denoised)
    for label in (-1, 0, 1, 3):
        pts = data.points if label < 0 else jnp.asarray(data.class_points(label))
        for t in (0.05, 0.7):
            np.testing.assert_allclose(streamed(t, label), dense(t, pts), atol=2e-5)
    assert data.class_counts == (1, 2, 3, 48)
    np.testing.assert_allclose(streamed(0.3, 0), np.broadcast_to(data.class_points(0), (6, 8)), atol=1e-6)


@pytest.mark.parametrize("name", ["mixture", "hmm"])
def test_true_class_scores_are_gradients_of_log_densities(name):
    """Exact true conditional / unconditional scores = grad log p_t of the class Gaussian / the
    mixture with weights P_c / P (linear HMM: shifted rank-D Gaussians)."""
    model, _ = make_conditional(jax.random.PRNGKey(5), name, 6, (1, 3, 5), separation=1.5)
    x = jax.random.normal(jax.random.PRNGKey(6), (4, 6))
    t = 0.4
    labels = jnp.arange(3)

    if name == "mixture":
        mix = model.mixture

        def class_lp(y, c):
            return -0.5 * jnp.sum((y - m(t) * mix.means[c]) ** 2) / (delta(t) + mix.sigmas[c] ** 2 * m(t) ** 2)
    else:
        gauss = model.manifold.gaussian_equivalent()

        def class_lp(y, c):
            b = model.latent_means[c] @ model.manifold.features.T / jnp.sqrt(model.manifold.latent_dim)
            return gauss.log_density((y - m(t) * b)[None], t)[0]

    @jax.jit
    def compare():
        ours = jax.vmap(lambda c: model.conditional_score(x, t, c))(labels)
        refs = jax.vmap(lambda c: jax.vmap(jax.grad(lambda y: class_lp(y, c)))(x))(labels)
        if name == "mixture":
            mix_lp = lambda y: mix.log_density(y[None], t)[0]
        else:
            mix_lp = lambda y: jax.scipy.special.logsumexp(jnp.log(model.weights) + jax.vmap(lambda c: class_lp(y, c))(labels))
        return ours, refs, model.conditional_score(x, t, -1), jax.vmap(jax.grad(mix_lp))(x)

    ours, refs, uncond, uncond_ref = compare()
    np.testing.assert_allclose(ours, refs, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(uncond, uncond_ref, rtol=2e-5, atol=2e-5)


def test_guided_is_affine_in_g_on_scores_denoisers_and_noise(mixture_data):
    """g = 0 is the unconditional score, g = 1 the conditional one; eps_g = eps_u + g (eps_c - eps_u);
    the same combinator on the true model's denoisers."""
    model, data = mixture_data
    x = jax.random.normal(jax.random.PRNGKey(7), (5, 8))
    t = 0.6

    @jax.jit
    def run():
        s_u, s_c = data.score(x, t, -1), data.score(x, t, 2)
        out = [guided(data.denoiser, 2, g)(x, t) for g in (0.0, 1.0, 7.5)]
        true = guided(model.denoiser, 1, 2.0)(x, t)[0]
        true_ref = model.score(x, t) + 2.0 * (model.conditional_score(x, t, 1) - model.score(x, t))
        return s_u, s_c, out, true, true_ref

    s_u, s_c, out, true, true_ref = run()
    np.testing.assert_allclose(out[0][0], s_u, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out[1][0], s_c, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out[2][0], s_u + 7.5 * (s_c - s_u), rtol=1e-4, atol=1e-3)
    eps = lambda s: -jnp.sqrt(delta(t)) * s
    np.testing.assert_allclose(out[2][1]["eps_difference"], eps(s_c) - eps(s_u), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(true, true_ref, rtol=1e-4, atol=1e-4)


def test_ddim_one_point_class_matches_closed_form(mixture_data, x64):
    """At g = 1 the one-point class's denoiser is x*, and DDIM is exact: x_t = w0 x* + wT x_T."""
    _, data = mixture_data
    times = time_grid(5.0, 0.05, 17, "uniform")
    x_init = jax.random.normal(jax.random.PRNGKey(8), (4, 8), jnp.float64)
    tr = sample(jax.random.PRNGKey(0), guided(data.denoiser, 0, 1.0), x_init, times, solver=DDIM(), record_every=1,
                keep_states=True)
    w0, wT = one_point_ddim_weights(times)
    star = jnp.asarray(data.class_points(0)[0], jnp.float64)
    expect = w0[:, None, None] * star + wT[:, None, None] * x_init[None]
    np.testing.assert_allclose(tr.states, expect, atol=1e-10)


def test_overestimation_equals_g_at_large_t(exact_sweep, mixture_data):
    """Acceptance: exact scores, one-point class: |x0_g - mu| / |x* - mu| = g at t = 12 to float
    precision, for every g of the sweep; from t = 2 the unconditional denoiser has not yet reached
    mu and the gap is much larger (it closes as t grows)."""
    for g in SWEEP:
        est = exact_sweep.cell(0, g).estimates["overestimation"]
        assert abs(est.value - overestimation_limit(g)) < 2e-6 * g
    _, data = mixture_data
    x_init = jax.random.normal(jax.random.PRNGKey(9), (8, 8))
    star, mu = data.class_points(0)[0], np.asarray(jnp.mean(data.points, 0))
    first_step = jax.jit(lambda g: guided(data.denoiser, 0, g)(x_init, 2.0)[1]["denoised"])  # from t = 2
    for g in (2.0, 7.5):
        x0_near = first_step(g)
        over_near = np.linalg.norm(np.asarray(x0_near) - mu, axis=-1) / np.linalg.norm(star - mu)
        gap_near = np.mean(np.abs(over_near - g))
        gap_far = abs(exact_sweep.cell(0, g).estimates["overestimation"].value - g)
        assert gap_near > 100 * gap_far


def test_decomposition_follows_the_schedule_at_g1_and_deviates_under_guidance(exact_sweep):
    """One-point class: D1, D2 at g = 1 equal the closed form (O(m_T)); D1 grows with g (overestimation
    puts more x* in x_t than m_t); alignment is -1 (x0_c - x0_u parallel to x* - mu)."""
    d1_th, d2_th = one_point_deviations(exact_sweep.times)
    cell = exact_sweep.cell(0, 1.0)
    assert abs(cell.estimates["D1"].value - d1_th) < 1e-5
    assert abs(cell.estimates["D2"].value - d2_th) < 5e-5
    w0, _ = one_point_ddim_weights(exact_sweep.times)
    np.testing.assert_allclose(cell.curves["w0"], w0, atol=1e-5)
    d1 = [exact_sweep.cell(0, g).estimates["D1"] for g in SWEEP]
    for lo, hi in zip(d1, d1[1:]):
        assert hi.value - lo.value > 3 * np.hypot(lo.stderr, hi.stderr)
    assert exact_sweep.cell(0, 7.5).estimates["alignment"].value < -0.9999


def test_guidance_advances_collapse_of_small_classes(exact_sweep):
    """Acceptance: for the classes of 1-3 points the collapse time (backward clock: larger = earlier)
    increases with g over the whole sweep beyond 2 combined standard errors, and the fraction of
    trajectories collapsed at t ~ 1 never decreases beyond 2 binomial standard errors and rises by
    more than 1/2 from g = 1 to g = 10."""
    i = int(np.argmin(np.abs(exact_sweep.times - 1.0)))
    for label in (0, 1, 2):
        tc = [exact_sweep.cell(label, g).estimates["t_collapse"] for g in SWEEP]
        for lo, hi in zip(tc, tc[1:]):
            assert hi.value - lo.value > 2 * np.hypot(lo.stderr, hi.stderr), (label, tc)
        frac = np.array([exact_sweep.cell(label, g).curves["collapsed_curve"][i] for g in SWEEP])
        n = exact_sweep.n_trajectories
        se = np.maximum(np.sqrt(frac * (1 - frac) / n), 1.0 / n)
        assert np.all(np.diff(frac) > -2 * np.hypot(se[1:], se[:-1])), (label, frac)
        assert frac[-1] - frac[0] > 0.5
        # exact empirical scores end on training points at every g
        assert exact_sweep.cell(label, 1.0).estimates["memorized_fraction"].value == 1.0


def test_guided_dsm_loss_is_larger_for_the_memorized_condition(exact_sweep):
    """One-point class: the unguided conditional prediction is exact (loss 0 up to rounding) and the
    guided loss grows with g, ~ (g - 1)^2 |eps_c - eps_u|^2."""
    losses = [exact_sweep.cell(0, g).estimates["dsm_loss"].value for g in SWEEP]
    assert losses[0] < 1e-10
    assert all(b > a for a, b in zip(losses, losses[1:]))


def test_detector_auc_and_correlations():
    key = jax.random.PRNGKey(0)
    scores = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 1.1])
    pos = np.array([False, False, False, True, True, True])
    res = detector_auc(key, scores, pos, n_bootstrap=200)
    assert res["auc"].value == 1.0 and res["low"] == 1.0
    assert detector_auc(key, -scores, pos, n_bootstrap=50)["auc"].value == 0.0
    assert detector_auc(key, np.ones(6), pos, n_bootstrap=50)["auc"].value == 0.5
    assert detector_auc(key, scores, np.ones(6, bool), n_bootstrap=10)["low"] is None
    c = correlations([1, 2, 3, 4], [2, 4, 6, 8.5])
    assert c["n"] == 4 and c["spearman"] == pytest.approx(1.0) and 0.99 < c["pearson"] < 1.0
    assert correlations([1, 2], [3, 4])["pearson"] is None


def test_conditional_set_validation():
    with pytest.raises(ConfigError, match="every class"):
        ClassConditionalSet.from_points(np.zeros((3, 2)), np.array([0, 0, 2]))
    with pytest.raises(ConfigError, match="labels"):
        ClassConditionalSet.from_points(np.zeros((3, 2)), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ConfigError, match="class_counts"):
        make_conditional(jax.random.PRNGKey(0), "mixture", 4, (3,))


def test_measure_guidance_takes_a_solver_not_a_name(mixture_data):
    _, data = mixture_data
    with pytest.raises(ConfigError, match=r"^solver='ddim' is not a Solver.*diffsim.solver\(name\)"):
        measure_guidance(jax.random.PRNGKey(0), data, solver="ddim")


# --------------------------------------------------------------------------- study and CLI
# Same shapes as the exact_sweep fixture (4 classes, 32 seeds, 40 steps, 5 scales), so the
# compiled sampler and analysis are reused.
STUDY_OPTIONS = {"class_counts": (1, 2, 3, 48), "separation": 1.0, "measure.n_trajectories": 32, "sampling.n_steps": 40,
                 "sampling.t_max": 12.0, "sampling.t_min": 0.02, "sampling.grid": "log", "measure.n_bootstrap": 100,
                 "measure.n_loss_samples": 128}


def test_study_rows_json_and_trend(exact_sweep):
    import json

    from diffsim.specs import build
    from diffsim.studies.guidance import GuidanceConfig, guidance_trend, run_guidance

    res = run_guidance(build(GuidanceConfig, STUDY_OPTIONS), jax.random.PRNGKey(4))
    text = json.dumps(res.to_json(), allow_nan=False)
    assert "overestimation" in text
    cells = res.cell_rows()
    assert len(cells) == 4 * len(SWEEP)
    for key in ("n_class_points", "guidance", "score", "overestimation", "D1", "D2", "alignment",
                "guidance_magnitude", "memorized_fraction", "memorized_fraction_stderr", "t_collapse", "t_collapse_stderr"):
        assert key in cells[0]
    one = [r for r in cells if r["n_class_points"] == 1]
    assert [round(r["overestimation"], 4) for r in one] == list(SWEEP)
    trend = guidance_trend(res.rows(), "t_collapse")
    assert trend["monotone"] and trend["value"][-1] - trend["value"][0] > 0.5
    curves = [r for r in res.rows() if r["kind"] == "curve"]
    assert len(curves) == len(cells) * 41
    summary = {(r["quantity"], r.get("severity"), r["guidance"]) for r in res.rows() if r["kind"] == "summary"}
    assert ("corr_D1", "neg_distance", 7.5) in summary and ("auc_small_class", None, 1.0) in summary


def test_config_errors_name_the_parameter():
    from diffsim.specs import build
    from diffsim.studies.guidance import GuidanceConfig

    for bad, name in (({"score": "oracle"}, "score"), ({"class_counts": (3,)}, "class_counts"),
                      ({"measure.guidance": ()}, "measure.guidance"), ({"sampling.t_min": 6.0}, "sampling.t_min"),
                      ({"data.model": "hmm", "data.nonlinearity": "tanh", "score": "true"}, "score"),
                      ({"data.model": "gaussian"}, "data.model"), ({"sampling.solver": "rk4"}, "sampling.solver")):
        with pytest.raises(ConfigError, match=name):
            build(GuidanceConfig, bad).validate()


def test_cli_json_and_one_line_errors(exact_sweep, capsys):
    import json

    from diffsim.cli_util import OneLineParser
    from diffsim.commands import guidance

    parser = OneLineParser(prog="diffsim")
    guidance.register(parser.add_subparsers())
    argv = ["guidance", "--class-counts", "1,2,3,48", "--separation", "1", "--measure.n-trajectories", "32",
            "--sampling.n-steps", "40", "--sampling.t-max", "12", "--sampling.t-min", "0.02", "--sampling.grid", "log",
            "--measure.n-bootstrap", "100", "--measure.n-loss-samples", "128", "--quiet", "--json"]
    args = parser.parse_args(argv)
    assert args.handler(args) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = payload["results"][0]["rows"]
    assert {r["score"] for r in rows} == {"exact"}
    with pytest.raises(SystemExit) as refused:  # a choice of the generated option: refused while parsing
        parser.parse_args(argv + ["--score", "exact,oracle"])
    assert refused.value.code == 2
    assert "oracle" in capsys.readouterr().err


@pytest.mark.slow
def test_trained_net_memorizes_small_classes_and_magnitude_detects_them():
    """A conditional net (label dropout, class-balanced) memorizes the 1-3 point classes and not the
    32-64 point ones; the guidance magnitude separates them (AUC bootstrap interval above 1/2);
    guidance advances the collapse of the small classes monotonically; at large g the guided DSM
    loss of memorized conditions exceeds that of generalized ones. About 1 min on a CPU."""
    from diffsim.specs import build
    from diffsim.studies.guidance import GuidanceConfig, guidance_trend, run_guidance

    res = run_guidance(build(GuidanceConfig, {"score": "net", "measure.n_trajectories": 32, "train.steps": 4000}),
                       jax.random.PRNGKey(0))
    cells = res.cell_rows()
    g1 = [r for r in cells if r["guidance"] == 1.0]
    small = np.mean([r["memorized_fraction"] for r in g1 if r["n_class_points"] <= 3])
    large = np.mean([r["memorized_fraction"] for r in g1 if r["n_class_points"] >= 32])
    assert small > 0.5 and large < 0.1
    summary = {(r["quantity"], r["guidance"]): r for r in res.summary if r["quantity"].startswith(("auc", "dsm"))}
    assert summary[("auc", 7.5)]["low"] > 0.5
    assert summary[("dsm_loss_memorized", 7.5)]["value"] > summary[("dsm_loss_generalized", 7.5)]["value"]
    assert guidance_trend(res.rows(), "t_collapse")["monotone"]
