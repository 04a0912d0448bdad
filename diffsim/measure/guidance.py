"""Overestimation and guidance: the measurements of "How do diffusion models memorize?" (THEORY.md section 9).

:func:`measure_guidance` samples ``n_trajectories`` guided trajectories per (condition, g) from the
same initial noises (common random numbers across conditions and scales), all pairs in one
``vmap``, and measures per pair:

* ``overestimation``: ``|x0_hat_g - mu| / |x* - mu|`` at the first step (and along the trajectory),
  ``mu`` the mean of all training points. For a one-point class with exact scores it tends to ``g``
  at large t (``x0_u -> mu``, ``x0_c = x*``);
* the decomposition ``x_t ~ w0(t) x* + wT(t) x_T``: per seed, least squares over the N coordinates,
  ``E[.]`` the mean over seeds; ``D1 = sum_t (E[w0] - m_t)``, ``D2 = -sum_t (E[wT] - sqrt(Delta_t))``
  over the sampler's time grid (deterministic samplers only);
* ``alignment``: ``cos(eps_c - eps_u, x* - mu)`` averaged over the first ``n_first_steps`` steps and
  the seeds (``eps_c - eps_u = -(m_t / sqrt(Delta_t)) (x0_c - x0_u)``, so a memorized condition gives
  a value near -1: the denoiser difference points at ``x*``);
* ``guidance_magnitude``: ``|eps_c - eps_u|`` averaged over the first steps and the seeds (Wen et al.);
* severity: the samples are the denoised outputs ``x0_hat_g(x_{t_min}, t_min)`` (the last DDIM step
  to t = 0); ``memorized_fraction``: 1/3 rule of :func:`diffsim.observe.memorized` against the *full*
  training set; ``distance``: ``|sample - x*| / sqrt(N)``;
* ``t_collapse``: the first time (backward) at which half of the trajectories have collapsed onto
  their target, i.e. the full-set empirical posterior of the state ``x_t`` puts weight > 1/2 on
  ``x*`` (the project's collapse criterion, valid whatever score drives the sampler); NaN if never;
* ``dsm_loss``: ``E |eps_g(m_t a + sqrt(Delta_t) xi, t) - xi|^2 / N`` over the class's training points
  ``a``, ``t ~ U[t_min, t_max]`` and ``xi`` (at g = 1 the unguided conditional loss).

The target ``x*`` is, per seed, the training point of the condition's class nearest (Euclidean) to
the sample: for a one-point class the point itself (the paper's "training image of the
prompt"); for a larger class the point that trajectory ends nearest to.

Plain functions of conditions: :func:`detector_auc` (ROC AUC of a score separating memorized
conditions, bootstrap over conditions) and :func:`correlations` (Pearson and Spearman with their
number of conditions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from diffsim import _validate
from diffsim.data.conditional import ClassConditionalSet
from diffsim.guidance import Guided, noise_prediction
from diffsim.observe import Estimate, crossing_time, memorized
from diffsim.process import GRID_KINDS, delta, m, time_grid
from diffsim.sample import as_drift, sample
from diffsim.solvers import DDIM, Solver, check_solver
from diffsim.score import TrainingSet, nearest_two, posterior
from diffsim.specs import Options, options_of

__all__ = [
    "DEFAULT_GUIDANCE",
    "GuidanceCell",
    "GuidanceMeasurement",
    "GuidanceOptions",
    "check_guidance_options",
    "measure_guidance",
    "decomposition",
    "detector_auc",
    "correlations",
]

DEFAULT_GUIDANCE = (1.0, 2.0, 4.0, 7.5, 10.0)
QUANTITIES = ("overestimation", "D1", "D2", "alignment", "guidance_magnitude", "memorized_fraction",
              "t_collapse", "distance", "dsm_loss")


@dataclass(frozen=True)
class GuidanceCell:
    """Measurements of one (condition, g): ``estimates`` maps each name of ``QUANTITIES`` to an
    :class:`Estimate`; curves ``[S + 1]`` over the sampler's ``times``: ``w0``, ``wT``,
    ``overestimation_curve``, ``alignment_curve``, ``magnitude_curve``, ``collapsed_curve`` (fraction of
    trajectories collapsed onto their target)."""

    label: int
    n_class_points: int
    guidance: float
    estimates: dict
    curves: dict


@dataclass(frozen=True)
class GuidanceMeasurement:
    """All (condition, g) cells (condition-major), the sampler's ``times [S + 1]``, the options."""

    cells: tuple
    times: np.ndarray
    solver: Solver
    score: str
    n_trajectories: int
    n_first_steps: int

    def cell(self, label: int, guidance: float) -> GuidanceCell:
        for c in self.cells:
            if c.label == label and c.guidance == float(guidance):
                return c
        raise KeyError((label, guidance))

    def values(self, name: str, guidance: float) -> np.ndarray:
        """``[C]`` values of quantity ``name`` over the conditions at scale ``guidance``."""
        return np.array([c.estimates[name].value for c in self.cells if c.guidance == float(guidance)])


def decomposition(states: jax.Array, target: jax.Array, noise: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-seed least squares ``x_t ~ w0 x* + wT x_T`` over the N coordinates.

    Args:
      states: ``[S + 1, B, N]``; target: ``x*`` ``[B, N]``; noise: ``x_T`` ``[B, N]``.
    Returns ``(w0, wT)``, each ``[S + 1, B]``.
    """
    basis = jnp.stack([target, noise], axis=-1)  # [B, N, 2]
    gram = jnp.einsum("bni,bnj->bij", basis, basis)
    rhs = jnp.einsum("bni,sbn->sbi", basis, states)
    w = jnp.linalg.solve(gram[None], rhs[..., None])[..., 0]
    return w[..., 0], w[..., 1]


def _cos(a, b):
    return jnp.sum(a * b, -1) / jnp.maximum(jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(b, axis=-1), 1e-30)


@jax.jit
def _trajectories(score, labels, scales, x_init, times, key, solver):
    """States ``[Q, S+1, B, N]`` and records of every (label, g) pair (``Q`` pairs, one ``vmap``)."""

    def one(label, g):
        tr = sample(key, Guided(score, label, g), x_init, times, solver=solver, record_every=1, keep_states=True)
        return tr.states, tr.records

    return jax.vmap(one)(labels, scales)


@jax.jit
def _dsm_losses(score, labels, scales, a, t, xi):
    """``[Q, L]`` per-sample ``|eps_g - xi|^2 / N`` for points ``a [Q, L, N]``."""

    def one(label, g, a_q):
        x = m(t)[:, None] * a_q + jnp.sqrt(delta(t))[:, None] * xi
        s_g, _ = Guided(score, label, g)(x, t)
        return jnp.mean(jnp.square(noise_prediction(x, t, s_g) - xi), -1)

    return jax.vmap(one)(labels, scales, a)


def _targets(samples, data: ClassConditionalSet, labels):
    """Per pair and seed, the global index of the training point of the pair's class nearest to the
    sample: ``[Q, B]`` int32."""

    def one(label, x):
        return nearest_two(x, data.restrict(label))[2]

    return jax.vmap(one)(labels, samples)


def _collapsed(states, times, train: TrainingSet, target_index):
    """``[Q, S+1, B]``: the full-set empirical posterior of ``x_t`` puts weight > 1/2 on the target."""
    q, s, b, n = states.shape
    tt = jnp.broadcast_to(times[None, :, None], (q, s, b)).reshape(-1)
    post = posterior(states.reshape(-1, n), tt, train)
    return (post.argmax.reshape(q, s, b) == target_index[:, None, :]) & (post.max_weight.reshape(q, s, b) > 0.5)


@partial(jax.jit, static_argnames=("n_first_steps",))
def _analyse(states, records, x_init, times, data: ClassConditionalSet, labels, boot_idx, *, n_first_steps):
    """Per-seed curves ``[Q, S+1, B]``, per-seed values ``[Q, B]``, D1 / D2 / collapse time ``[Q]``
    and their bootstrap replicas ``[n_boot, Q]`` (resampling the seeds with ``boot_idx [n_boot, B]``)."""
    q, _, b, n = states.shape
    samples = records["denoised"][:, -1]  # x0_hat_g at t_min: the sampler's output, [Q, B, N]
    target_index = _targets(samples, data, labels)  # [Q, B]
    target = data.points[target_index]  # [Q, B, N]
    mu = jnp.mean(data.points, axis=0)
    offset = target - mu  # x* - mu, [Q, B, N]

    over = jnp.linalg.norm(records["denoised"] - mu, axis=-1) / jnp.linalg.norm(offset, axis=-1)[:, None]
    diff = records["eps_difference"]  # [Q, S+1, B, N]
    align = _cos(diff, offset[:, None])
    mag = jnp.linalg.norm(diff, axis=-1)
    w0, wT = jax.vmap(decomposition, in_axes=(0, 0, None))(states, target, x_init)  # [Q, S+1, B]
    collapsed = _collapsed(states, times, data.train, target_index).astype(states.dtype)
    mem = memorized(samples.reshape(-1, n), data.train).reshape(q, b).astype(states.dtype)
    dist = jnp.linalg.norm(samples - target, axis=-1) / math.sqrt(n)

    sched0, schedT = m(times), jnp.sqrt(delta(times))

    def summary(w0_, wT_, col_):
        d1 = jnp.sum(jnp.mean(w0_, -1) - sched0, -1)
        d2 = -jnp.sum(jnp.mean(wT_, -1) - schedT, -1)
        tc = jax.vmap(lambda c: crossing_time(times, c, 0.5))(jnp.mean(col_, -1))
        return jnp.stack([d1, d2, tc])  # [3, Q]

    value = summary(w0, wT, collapsed)
    reps = jax.vmap(lambda i: summary(w0[..., i], wT[..., i], collapsed[..., i]))(boot_idx)  # [n_boot, 3, Q]
    k = n_first_steps
    return {
        "over": over, "align_first": jnp.mean(align[:, :k], 1), "mag_first": jnp.mean(mag[:, :k], 1),
        "align": align, "mag": mag, "w0": w0, "wT": wT, "collapsed": collapsed, "mem": mem, "dist": dist,
        "summary": value, "summary_reps": reps,
    }


def _stderr(reps):
    """Standard deviation over the first axis ignoring NaN (NaN with fewer than two finite)."""
    reps = np.asarray(reps, dtype=float)
    finite = np.isfinite(reps)
    count = finite.sum(0)
    mean = np.where(finite, reps, 0.0).sum(0) / np.maximum(count, 1)
    var = np.where(finite, (reps - mean) ** 2, 0.0).sum(0) / np.maximum(count - 1, 1)
    return np.where(count > 1, np.sqrt(var), np.nan)


def measure_guidance(
    key: jax.Array,
    train: ClassConditionalSet | TrainingSet,
    labels: ArrayLike | None = None,
    *,
    denoiser: Callable[[jax.Array, jax.Array, jax.Array], jax.Array] | None = None,
    score_name: str = "exact",
    guidance: Sequence[float] = DEFAULT_GUIDANCE,
    conditions: Sequence[int] | None = None,
    n_trajectories: int = 64,
    n_steps: int = 50,
    t_max: float = 5.0,
    t_min: float = 0.05,
    grid: str = "uniform",
    solver: Solver = DDIM(),
    n_first_steps: int = 5,
    n_loss_samples: int = 256,
    n_bootstrap: int = 200,
) -> GuidanceMeasurement:
    """Guidance measurements per (condition, g) (module docstring).

    Args:
      key: PRNG key (initial noises, SDE noise, DSM draws, bootstrap).
      train: a :class:`~diffsim.data.conditional.ClassConditionalSet`, or a
        :class:`~diffsim.score.TrainingSet` with ``labels [P]``.
      denoiser: conditional denoiser ``(x, t, label) -> x0_hat [B, N]`` (label -1 unconditional, see
        :mod:`diffsim.guidance`); default the exact empirical denoisers of ``train``. ``score_name``
        labels it in the result (``exact``, ``true``, ``net``).
      guidance: guidance scales g (1: the unguided conditional model).
      conditions: class labels (default all classes).
      n_trajectories: seeds per (condition, g), the same initial noises for every pair.
      n_steps, t_max, t_min, grid: the sampler's time grid (:func:`diffsim.process.time_grid`).
      solver: :class:`~diffsim.solvers.DDIM` (deterministic), :class:`~diffsim.solvers.Heun`
        (probability flow) or :class:`~diffsim.solvers.EulerMaruyama` (the decomposition then has no
        deterministic meaning).
      n_first_steps: first sampler steps averaged for the alignment and the guidance magnitude.
      n_loss_samples: DSM-loss draws per (condition, g).
      n_bootstrap: bootstrap resamples of the seeds.
    """
    data = train if isinstance(train, ClassConditionalSet) else ClassConditionalSet.from_points(train.points, labels)
    check_solver(solver)
    _validate.choice("grid", grid, GRID_KINDS)
    check_guidance_options(guidance=guidance, n_trajectories=n_trajectories, n_first_steps=n_first_steps,
                           n_loss_samples=n_loss_samples, n_bootstrap=n_bootstrap)
    n_trajectories, n_loss_samples, n_bootstrap = int(n_trajectories), int(n_loss_samples), int(n_bootstrap)
    n_steps = _validate.integer("n_steps", n_steps, minimum=1)
    n_first_steps = _validate.integer("n_first_steps", n_first_steps, minimum=1, maximum=n_steps + 1)
    scales = tuple(float(g) for g in guidance)
    conds = tuple(range(data.n_classes)) if conditions is None else tuple(
        _validate.integer("conditions", c, minimum=0, maximum=data.n_classes - 1) for c in conditions)
    if not scales or not conds:
        raise _validate.ConfigError("guidance and conditions must be non-empty")
    times = time_grid(t_max, t_min, n_steps, grid)
    dim = data.train.dim
    n_pairs = len(conds) * len(scales)
    _validate.memory("guided trajectories", 4.0 * 6 * n_pairs * (n_steps + 1) * n_trajectories * dim)

    k_init, k_sde, k_loss, k_boot = jax.random.split(key, 4)
    score = as_drift(data.denoiser if denoiser is None else denoiser)
    pair_labels = jnp.asarray(np.repeat(conds, len(scales)), jnp.int32)
    pair_scales = jnp.asarray(np.tile(scales, len(conds)), jnp.float32)
    x_init = jax.random.normal(k_init, (n_trajectories, dim))
    tgrid = jnp.asarray(times, jnp.float32)
    states, records = _trajectories(score, pair_labels, pair_scales, x_init, tgrid, k_sde, solver)

    boot_idx = jax.random.randint(k_boot, (n_bootstrap, n_trajectories), 0, n_trajectories)
    arr = _analyse(states, records, x_init, tgrid, data, pair_labels, boot_idx, n_first_steps=n_first_steps)
    arr = {name: np.asarray(v) for name, v in arr.items()}
    errs = _stderr(arr["summary_reps"])  # [3, Q]

    # DSM loss on the class's own training points, same draws (t, xi) for every pair
    rng = np.random.default_rng(int(jax.random.randint(k_loss, (), 0, 2**31 - 1)))
    lab_np = np.asarray(data.labels)
    pts = np.asarray(data.points)
    picks = np.stack([pts[rng.choice(np.flatnonzero(lab_np == c), n_loss_samples)] for c in np.asarray(pair_labels)])
    t_draw = jnp.asarray(rng.uniform(t_min, t_max, n_loss_samples), jnp.float32)
    xi = jnp.asarray(rng.standard_normal((n_loss_samples, dim)), jnp.float32)
    losses = np.asarray(_dsm_losses(score, pair_labels, pair_scales, jnp.asarray(picks, jnp.float32), t_draw, xi))

    (d1_val, d2_val, tc_val), (d1_err, d2_err, tc_err) = arr["summary"], errs
    cells = []
    for q in range(n_pairs):
        est = {
            "overestimation": Estimate.of_mean(arr["over"][q, 0]),
            "D1": Estimate(float(d1_val[q]), float(d1_err[q])),
            "D2": Estimate(float(d2_val[q]), float(d2_err[q])),
            "alignment": Estimate.of_mean(arr["align_first"][q]),
            "guidance_magnitude": Estimate.of_mean(arr["mag_first"][q]),
            "memorized_fraction": Estimate.of_mean(arr["mem"][q]),
            "t_collapse": Estimate(float(tc_val[q]), float(tc_err[q])),
            "distance": Estimate.of_mean(arr["dist"][q]),
            "dsm_loss": Estimate.of_mean(losses[q]),
        }
        curves = {
            "w0": arr["w0"][q].mean(-1), "wT": arr["wT"][q].mean(-1),
            "overestimation_curve": arr["over"][q].mean(-1), "alignment_curve": arr["align"][q].mean(-1),
            "magnitude_curve": arr["mag"][q].mean(-1), "collapsed_curve": arr["collapsed"][q].mean(-1),
        }
        label = int(pair_labels[q])
        cells.append(GuidanceCell(label, data.class_counts[label], float(pair_scales[q]), est, curves))
    return GuidanceMeasurement(tuple(cells), np.asarray(times), solver, score_name, n_trajectories, n_first_steps)


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC = P(score of a positive > score of a negative), ties counted 1/2; NaN if a group is empty."""
    pos, neg = scores[positive], scores[~positive]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (pos.size * neg.size))


def detector_auc(key: jax.Array, scores: ArrayLike, positive: ArrayLike, *, n_bootstrap: int = 1000, level: float = 0.95) -> dict:
    """ROC AUC of ``scores [C]`` as a detector of ``positive [C]`` (bool) conditions, with a
    bootstrap over conditions (resamples missing a group are dropped).

    Returns ``{"auc": Estimate, "low", "high"}`` (percentile interval at ``level``; None if undefined)
    and the group sizes ``n_positive``, ``n_negative``."""
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    value = _auc(scores, positive)
    rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))
    finite = []
    for _ in range(n_bootstrap):
        i = rng.integers(0, scores.size, scores.size)
        a = _auc(scores[i], positive[i])
        if math.isfinite(a):
            finite.append(a)
    reps = np.asarray(finite)
    ok = math.isfinite(value) and reps.size > 1
    lo, hi = (np.quantile(reps, [(1 - level) / 2, (1 + level) / 2]) if ok else (math.nan, math.nan))
    return {
        "auc": Estimate(value, float(np.std(reps, ddof=1)) if ok else math.nan),
        "low": float(lo) if ok else None,
        "high": float(hi) if ok else None,
        "n_positive": int(positive.sum()),
        "n_negative": int((~positive).sum()),
    }


def correlations(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> dict:
    """Pearson and Spearman correlations of ``x`` and ``y`` over the conditions where both are
    finite, with their number ``n`` (None where undefined: n < 3 or a constant variable)."""

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    out: dict[str, float | None] = {"n": int(np.size(x)), "pearson": None, "spearman": None}
    if np.size(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        out["pearson"] = float(stats.pearsonr(x, y)[0])
        out["spearman"] = float(stats.spearmanr(x, y)[0])
    return out


def check_guidance_options(*, guidance, n_trajectories, n_first_steps, n_loss_samples, n_bootstrap) -> None:
    """Range checks of :func:`measure_guidance`'s options but the sampler's (a
    :class:`~diffsim.ConfigError` naming the first bad one), for the API and for configs."""
    if not len(guidance):
        raise _validate.ConfigError("guidance must be a non-empty list of scales")
    for g in guidance:
        _validate.in_range("guidance", g, 0.0, 100.0)
    _validate.integer("n_trajectories", n_trajectories, minimum=2, maximum=2**16)
    _validate.integer("n_first_steps", n_first_steps, minimum=1)
    _validate.integer("n_loss_samples", n_loss_samples, minimum=1, maximum=10**6)
    _validate.integer("n_bootstrap", n_bootstrap, minimum=2, maximum=10**5)


@options_of(measure_guidance, check=check_guidance_options,
            exclude=("denoiser", "score_name", "conditions", "n_steps", "t_max", "t_min", "grid", "solver"))
class GuidanceOptions(Options):
    """The options of :func:`measure_guidance` but the sampler's (the ``Sampling`` part) as a config part."""
