"""Trained denoisers between the empirical and the true score (THEORY.md sections 10-12).

For each network width and each training-set size P (and ``n_seeds`` seeds), a denoiser is trained
by DSM (:mod:`diffsim.nets.train`); all (P, seed) members of one width train together in one
``vmap``. At every log-spaced checkpoint the study measures, per diffusion time t of an evaluation
grid and for queries ``x = m_t a + sqrt(Delta_t) xi`` with ``a`` a fresh point ("test") or a
training point ("train"):

* ``err_true = E |s_theta - s_true|^2`` (exact score of the data model; NaN where none exists),
* ``err_emp = E |s_theta - s_e|^2`` (empirical score of the member's own training set),
  their ratio, and the reference gap ``E |s_e - s_true|^2``,
* the DSM loss in noise units ``Delta_t l_t = E |eps_hat - xi|^2`` on train and test queries;

and it generates ``n_samples`` points with the learned score (backward SDE,
:func:`diffsim.sample.sample`), recording along the way the training-set posterior of the
trajectories (the collapse estimator 1 of section 4: does a trained model condense, and when?),
then scores the samples by memorized fraction (1/3 criterion) and by sliced Wasserstein / MMD to
fresh true samples.

Training-dynamics times (section 11), defined operationally and stated in every output:

* ``tau_mem``: the first training step at which the memorized fraction of generated samples
  reaches ``mem_threshold``, interpolated linearly in log(step) between checkpoints (NaN: not
  reached within ``steps``);
* ``tau_gen``: the first training step at which the test DSM loss (noise units, averaged over the
  evaluation times) has made ``1 - gen_tolerance`` of its descent from its initial value to its
  minimum over the run, i.e. ``L - L_min <= gen_tolerance (L_0 - L_min)``, interpolated likewise.

Members with different P share one padded ``[P_max, N]`` layout: member j draws only its first
``P_j`` rows and its training set masks the rest (:func:`diffsim.score.masked_training_set`).

:mod:`diffsim.nets` (flax, optax) is imported when a config is validated or run, so importing the
study registry stays cheap.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import asdict, dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate, data
from diffsim.data import DataName, Nonlinearity
from diffsim.metrics import median_distance, mmd, sliced_wasserstein
from diffsim.nets.models import Architecture, LearnedScore, Parameterisation
from diffsim.nets.train import Optimizer, TimeLaw, Weighting
from diffsim.observe import condensation_time, condensed_fraction, crossing_step, descent_step, fit_power_law, memorized
from diffsim.process import delta, m, time_grid
from diffsim.progress import Progress
from diffsim.results import finite_or_none
from diffsim.sample import sample
from diffsim.score import TrainingSet, empirical_score, masked_training_set, posterior
from diffsim.theory.collapse import collapse_time
from diffsim.theory.spectrum import Spectrum

__all__ = [
    "DEFINITIONS",
    "RENAMED_QUANTITIES",
    "DenoiserConfig",
    "MemberCurves",
    "DenoiserResult",
    "run_denoiser",
]

RENAMED_QUANTITIES = {"t_collapse_theory": "theory/t_collapse", "memorization": "memorized_fraction"}
"""Old quantity name -> new, for tables written before the renames (:meth:`DenoiserResult.from_rows`)."""

DEFINITIONS = {
    "tau_mem": "first training step at which the memorized fraction (1/3 criterion) of samples generated "
    "with the learned score reaches mem_threshold; linear interpolation in log(step) between checkpoints; "
    "null if not reached within the run",
    "tau_gen": "first training step at which the test DSM loss (noise units, mean over the evaluation times) "
    "satisfies L - L_min <= gen_tolerance * (L_0 - L_min), L_0 at initialisation, L_min the minimum over "
    "the checkpoints; linear interpolation in log(step)",
    "score_error_true": "mean over the evaluation times of Delta_t E|s_theta - s_true|^2 / N on test queries "
    "(noise-prediction units per dimension)",
    "score_error_empirical": "mean over the evaluation times of Delta_t E|s_theta - s_e|^2 / N on test queries, "
    "s_e the empirical score of the member's own training set",
    "dsm_loss": "Delta_t l_t = E|eps_hat - xi|^2 (THEORY.md section 10) with fixed evaluation noise",
    "t_condensation": "time at which half of the generated trajectories have a training-set posterior max "
    "weight > 1/2 (collapse estimator 1, THEORY.md section 4); null if never",
    "diverged": "fraction of generated samples that are non-finite or farther than 10 sqrt(N sd^2) from the "
    "origin (sd^2 the data variance per coordinate); for sliced_wasserstein and mmd they are projected onto "
    "that sphere (NaN ones replaced by the origin)",
}


@dataclass(frozen=True)
class DenoiserConfig:
    """Parameters of the denoiser study (keyword options; :meth:`validate` checks them).

    Data (``data``, ``dim``, ``sigma``, ``mtilde``; ``alpha_d``, ``nonlinearity`` for the HMM), the
    grid (``n_train`` x ``widths`` x ``n_seeds``), the model and the training (see
    :class:`diffsim.nets.ModelConfig`, :class:`diffsim.nets.TrainConfig`), and the evaluation:
    ``eval_times`` log-spaced t in ``[t_eval_min, t_eval_max]`` with ``eval_batch`` queries each,
    ``n_samples`` generated points on a ``sample_steps`` log grid from ``t_max`` to ``t_min``,
    ``mem_threshold`` and ``gen_tolerance`` of the tau definitions (module docstring). The defaults
    (N = 8 mixture, width 128) show tau_mem growing about linearly over P = 4..32 in ~2 CPU-minutes.

    Attributes:
        data: data model: gaussian (isotropic), mixture (two clusters) or hmm (hidden manifold).
        dim: dimension N.
        n_train: training-set sizes P (increasing); all sizes of one width train together.
        widths: network widths, one ensemble each.
        n_seeds: seeds per P (training set, initialisation, minibatches), trained together.
        seed: random seed.
        sigma: gaussian: standard deviation; mixture: cluster standard deviation (hmm: unused).
        mtilde: mixture: cluster separation, |v|^2 = N mtilde^2 for the centres +-v.
        alpha_d: hmm: latent ratio D/N (D = round(alpha_d N)).
        nonlinearity: hmm: activation phi of the hidden manifold.
        architecture: network: residual MLP or transformer.
        depth: residual blocks (mlp) or layers (transformer).
        heads: transformer: attention heads per layer (a divisor of the width).
        token_dim: transformer: coordinates per token (a divisor of N).
        parameterisation: what the network predicts: eps (the noise; it starts at s = 0, so tau_gen
            is measured from an uninformed start), x0 (the denoised point) or edm (x0 with a skip).
        steps: training steps (a multiple of steps_per_dispatch).
        batch_size: minibatch size.
        learning_rate: learning rate.
        optimizer: adam, adamw (decoupled weight decay) or sgd (with momentum).
        weight_decay: weight decay (adamw: decoupled; adam, sgd: L2 added to the gradient; 0: none).
        ema_decay: decay of the exponential moving average of the weights read by the evaluations
            (0: off).
        time_law: law of the training times: uniform in t, log_sigma (log sigma_t uniform) or beta.
        weighting: loss weight lambda(t): noise (noise-prediction MSE), score (1) or denoised
            (denoised-point MSE).
        t_min: smallest training time and last sampler time (OU time t).
        t_max: largest training time and first sampler time (OU time t).
        steps_per_dispatch: training steps per jitted scan.
        n_checkpoints: evaluations at up to this many log-spaced training steps (plus step 0).
        eval_times: evaluation times, log-spaced in [t_eval_min, t_eval_max].
        t_eval_min: smallest evaluation time (OU time t).
        t_eval_max: largest evaluation time (OU time t, at most t_max).
        eval_batch: train and test queries per evaluation time.
        n_samples: generated samples per member and checkpoint (and fresh reference points).
        sample_steps: backward SDE steps of the generation, log grid from t_max to t_min.
        record_every: record the trajectories' posterior every this many sampler steps (a divisor
            of sample_steps).
        n_projections: random directions of the sliced Wasserstein distance.
        mem_threshold: memorized fraction of the samples that defines tau_mem.
        gen_tolerance: fraction of the test-loss descent left that defines tau_gen.
        checkpoint_dir: write the training states here at every checkpoint, a folder per width
            (none: no files).
    """

    data: DataName = "mixture"
    dim: int = 8
    n_train: tuple[int, ...] = (4, 8, 16, 32)
    widths: tuple[int, ...] = (128,)
    n_seeds: int = 1
    seed: int = 0
    sigma: float = 1.0
    mtilde: float = 1.0
    alpha_d: float = 0.5
    nonlinearity: Nonlinearity = "linear"
    # model
    architecture: Architecture = "mlp"
    depth: int = 2
    heads: int = 4
    token_dim: int = 1
    parameterisation: Parameterisation = "eps"
    # training
    steps: int = 8000
    batch_size: int = 64
    learning_rate: float = 3e-3
    optimizer: Optimizer = "adam"
    weight_decay: float = 0.0
    ema_decay: float = 0.0
    time_law: TimeLaw = "uniform"
    weighting: Weighting = "noise"
    t_min: float = 1e-3
    t_max: float = 5.0
    steps_per_dispatch: int = 25
    n_checkpoints: int = 16
    # evaluation
    eval_times: int = 8
    t_eval_min: float = 0.01
    t_eval_max: float = 2.0
    eval_batch: int = 256
    n_samples: int = 256
    sample_steps: int = 100
    record_every: int = 5
    n_projections: int = 64
    mem_threshold: float = 0.5
    gen_tolerance: float = 0.1
    checkpoint_dir: str | None = None

    def validate(self) -> "DenoiserConfig":
        _validate.choice("data", self.data, data.DATA_MODELS)
        _validate.integer("dim", self.dim, minimum=1, maximum=100_000)
        if not self.n_train:
            raise _validate.ConfigError("n_train=() is out of range: expected at least one training-set size")
        for p in self.n_train:
            _validate.integer("n_train", p, minimum=2, maximum=10**7)
        _validate.increasing("n_train", self.n_train)
        if not self.widths:
            raise _validate.ConfigError("widths=() is out of range: expected at least one width")
        for w in self.widths:
            _validate.integer("widths", w, minimum=1, maximum=65_536)
        _validate.integer("n_seeds", self.n_seeds, minimum=1, maximum=1024)
        _validate.integer("seed", self.seed, minimum=0)
        _validate.positive("sigma", self.sigma)
        _validate.positive("mtilde", self.mtilde)
        if self.data == "hmm":
            _validate.positive("alpha_d", self.alpha_d, upper=1.0)
            _validate.choice("nonlinearity", self.nonlinearity, data.NONLINEARITIES)
        for w in self.widths:
            self.model_config(w).validate(self.dim)
        self.train_config().validate()
        _validate.integer("eval_times", self.eval_times, minimum=1, maximum=1000)
        _validate.positive("t_eval_max", self.t_eval_max, upper=self.t_max)
        _validate.positive("t_eval_min", self.t_eval_min, upper=self.t_eval_max)
        _validate.integer("eval_batch", self.eval_batch, minimum=2, maximum=2**20)
        _validate.integer("n_samples", self.n_samples, minimum=2, maximum=2**20)
        _validate.integer("sample_steps", self.sample_steps, minimum=2, maximum=100_000)
        _validate.integer("record_every", self.record_every, minimum=1, maximum=self.sample_steps)
        if self.sample_steps % self.record_every:
            raise _validate.ConfigError(
                f"record_every={self.record_every} is out of range: expected a divisor of sample_steps={self.sample_steps}"
            )
        _validate.integer("n_projections", self.n_projections, minimum=1, maximum=100_000)
        _validate.in_range("mem_threshold", self.mem_threshold, 0.0, 1.0, closed=False)
        _validate.in_range("gen_tolerance", self.gen_tolerance, 0.0, 1.0, closed=False)
        members = len(self.n_train) * self.n_seeds
        _validate.memory(
            "the padded training sets and evaluation batches",
            4.0 * members * self.dim * (max(self.n_train) * 3 + 4 * self.eval_times * self.eval_batch + 4 * self.n_samples),
            knobs={"dim": self.dim, "n_train": max(self.n_train), "n_seeds": self.n_seeds, "n_samples": self.n_samples,
                   "eval_batch": self.eval_batch},
        )
        return self

    def model_config(self, width: int):
        """The :class:`diffsim.nets.ModelConfig` of one width."""
        from diffsim.nets.models import ModelConfig

        return ModelConfig(
            architecture=self.architecture, width=width, depth=self.depth, heads=self.heads,
            token_dim=self.token_dim, parameterisation=self.parameterisation,
            data_variance=1.0,  # replaced by the data model's per-coordinate variance in run_denoiser
        )

    def train_config(self):
        """The :class:`diffsim.nets.train.TrainConfig`."""
        from diffsim.nets.train import TrainConfig

        return TrainConfig(
            steps=self.steps, batch_size=self.batch_size, learning_rate=self.learning_rate,
            optimizer=self.optimizer, weight_decay=self.weight_decay, ema_decay=self.ema_decay,
            time_law=self.time_law, weighting=self.weighting, t_min=self.t_min, t_max=self.t_max,
            steps_per_dispatch=self.steps_per_dispatch, n_checkpoints=self.n_checkpoints,
        )


# ----------------------------------------------------------------------------- evaluation kernels


@partial(jax.jit, static_argnames=("has_exact",))
def _score_comparison(drift: LearnedScore, train: TrainingSet, data_model, a_train, a_test, xi, times, *, has_exact):
    """Per member (vmapped) and per evaluation time: score errors, reference gap and DSM loss on
    train and test queries. ``a_train [M, T, B, N]``, ``a_test, xi [T, B, N]``, ``times [T]``;
    every output ``[M, T]``."""
    n_t, b, n = xi.shape
    tq = jnp.repeat(times, b)
    mt, dt = m(tq)[:, None], delta(tq)[:, None]
    noise = xi.reshape(-1, n)

    def one(drift_m, train_m, a_tr):
        out = {}
        for law, a in (("train", a_tr), ("test", a_test)):
            x = mt * a.reshape(-1, n) + jnp.sqrt(dt) * noise
            s_th = drift_m(x, tq)
            s_e = empirical_score(x, tq, train_m)
            s_tr = data_model.score(x, tq) if has_exact else jnp.full_like(x, jnp.nan)

            def per_t(v):
                return jnp.mean(jnp.sum(v, axis=-1).reshape(n_t, b), axis=1)

            out[f"err_true_{law}"] = per_t(jnp.square(s_th - s_tr))
            out[f"err_emp_{law}"] = per_t(jnp.square(s_th - s_e))
            out[f"gap_{law}"] = per_t(jnp.square(s_e - s_tr))
            out[f"loss_{law}"] = per_t(jnp.square(jnp.sqrt(dt) * s_th + noise))
        return out

    return jax.vmap(one)(drift, train, a_train)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class _ObservedDrift:
    """Learned score as the drift, with the training-set posterior max weight recorded."""

    score: LearnedScore
    train: TrainingSet

    def __call__(self, x, t):
        return self.score(x, t), {"max_weight": posterior(x, t, self.train).max_weight}


@partial(jax.jit, static_argnames=("record_every", "n_projections"))
def _generate(drift: LearnedScore, train: TrainingSet, keys, x_init, times, reference, radius, bandwidth, *,
              record_every, n_projections):
    """Per member (vmapped): backward SDE with the learned score from ``x_init [B, N]`` along
    ``times``; returns the memorized fraction, the diverged fraction (non-finite or beyond
    ``radius``), sliced W2 and MMD^2 to ``reference [R, N]`` of the samples with the diverged ones
    projected onto the ball of that radius, the condensed-fraction curve ``[records]`` and the
    condensation time."""

    def one(drift_m, train_m, key):
        k_sde, k_proj = jax.random.split(key)
        traj = sample(k_sde, _ObservedDrift(drift_m, train_m), x_init, times, record_every=record_every)
        final = traj.final
        norm = jnp.linalg.norm(final, axis=-1, keepdims=True)
        diverged = ~jnp.isfinite(norm) | (norm > radius)
        bounded = jnp.where(diverged, jnp.nan_to_num(final, posinf=radius, neginf=-radius), final)
        bounded = jnp.where(diverged, bounded * radius / jnp.maximum(jnp.linalg.norm(bounded, axis=-1, keepdims=True), 1e-30), bounded)
        return {
            "memorized_fraction": jnp.mean(memorized(final, train_m)),
            "diverged": jnp.mean(diverged),
            "sliced_wasserstein": sliced_wasserstein(k_proj, bounded, reference, n_projections),
            "mmd": mmd(bounded, reference, bandwidth),
            "condensed": condensed_fraction(traj.records["max_weight"]),
            "t_condensation": condensation_time(traj.times, traj.records["max_weight"]),
        }

    return jax.vmap(one)(drift, train, keys)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class MemberCurves:
    """One trained member (width, P, seed): curves over checkpoints ``steps [C]`` and evaluation
    times ``eval_times [T]`` (arrays ``[C, T]`` or ``[C]``), training loss trace, and its taus."""

    width: int
    n_train: int
    seed: int
    dim: int
    steps: np.ndarray
    eval_times: np.ndarray
    curves: dict
    loss_steps: np.ndarray
    train_loss: np.ndarray
    record_times: np.ndarray
    condensed: np.ndarray
    tau_gen: float
    tau_mem: float

    def final(self, name: str) -> np.ndarray:
        """``curves[name]`` at the last checkpoint, in float64 (``[T]`` or a scalar)."""
        return np.asarray(self.curves[name][-1], dtype=float)


@dataclass(frozen=True)
class DenoiserResult:
    """Result of :func:`run_denoiser`: per-member curves, a per-(width, P) summary, the power-law
    fit of tau_mem vs P per width, theory (collapse time t_C per P), reference distances between two
    independent true samples, and the timing."""

    config: DenoiserConfig
    members: tuple[MemberCurves, ...]
    theory: dict
    reference: dict
    seconds: float
    definitions: dict = field(default_factory=lambda: dict(DEFINITIONS))

    def summary(self) -> list[dict]:
        """One row per (width, P): means over seeds (stderr where n_seeds > 1) of the final
        memorized fraction, score errors (noise units per dimension, mean over t), distances,
        tau_gen and tau_mem (means over the seeds that reached them, with the count)."""
        out = []
        for width in self.config.widths:
            for p in self.config.n_train:
                ms = [r for r in self.members if r.width == width and r.n_train == p]
                row = {"width": width, "P": p, "n_seeds": len(ms)}
                for key, values in (
                    ("memorized_fraction", [r.final("memorized_fraction") for r in ms]),
                    ("score_error_true", [_noise_units(r, "err_true_test") for r in ms]),
                    ("score_error_empirical", [_noise_units(r, "err_emp_test") for r in ms]),
                    ("dsm_loss_train", [float(np.mean(r.final("loss_train"))) for r in ms]),
                    ("dsm_loss_test", [float(np.mean(r.final("loss_test"))) for r in ms]),
                    ("sliced_wasserstein", [r.final("sliced_wasserstein") for r in ms]),
                    ("mmd", [r.final("mmd") for r in ms]),
                    ("diverged", [r.final("diverged") for r in ms]),
                    ("t_condensation", [r.final("t_condensation") for r in ms]),
                    ("tau_gen", [r.tau_gen for r in ms]),
                    ("tau_mem", [r.tau_mem for r in ms]),
                ):
                    v = np.asarray(values, dtype=float)
                    fin = v[np.isfinite(v)]
                    row[key] = float(fin.mean()) if fin.size else None
                    row[f"{key}_stderr"] = float(fin.std(ddof=1) / math.sqrt(fin.size)) if fin.size > 1 else None
                row["tau_mem_reached"] = int(np.sum(np.isfinite([r.tau_mem for r in ms])))
                row["theory/t_collapse"] = self.theory["t_collapse"].get(p)
                out.append(row)
        return out

    def fits(self) -> dict:
        """Per width: exponent b of ``tau_mem ~ c P^b`` and of ``tau_gen ~ c P^b`` over the P
        where they were reached (NaN with fewer than three: two points give a slope, not a fit)."""
        out = {}
        rows = self.summary()
        for width in self.config.widths:
            sub = [r for r in rows if r["width"] == width]
            res = {}
            for name in ("tau_mem", "tau_gen"):
                x = [r["P"] for r in sub]
                y = [np.nan if r[name] is None else r[name] for r in sub]
                e = [np.nan if r[f"{name}_stderr"] is None else r[f"{name}_stderr"] for r in sub]
                b, b_err, c = fit_power_law(x, y, e if self.config.n_seeds > 1 else None)
                res[name] = {"exponent": finite_or_none(b), "exponent_stderr": finite_or_none(b_err),
                             "prefactor": finite_or_none(c), "n_points": int(np.sum(np.isfinite(y)))}
            out[str(width)] = res
        return out

    def tau_mem_scaling(self, thresholds=(0.25, 0.5, 0.75)) -> list[dict]:
        """The exponent of ``tau_mem ~ c P^b`` per width and per memorization threshold, read from
        the memorization curves (so any threshold, not only ``mem_threshold``).

        Per member, tau is :func:`crossing_step` of its memorization curve at the threshold. A P
        enters the fit only if every seed reached the threshold (a mean over the seeds that did
        would be biased low); the fit is :func:`fit_power_law` of the means weighted by their
        stderr. One row per (width, threshold): ``exponent``, ``exponent_stderr``, ``prefactor``,
        ``fitted_P`` (the complete P), ``tau_mem`` and ``tau_mem_stderr`` per P (None where
        incomplete), ``reached`` per P (seeds that reached it) and ``tau_mem_lower`` per P (where
        only some seeds reached it, their mean: a lower bound; else None).
        """
        out = []
        for width in self.config.widths:
            for level in thresholds:
                level = _validate.in_range("threshold", level, 0.0, 1.0, closed=False)
                means, errs, reached, lower = {}, {}, {}, {}
                for p in self.config.n_train:
                    taus = np.asarray([crossing_step(r.steps, r.curves["memorized_fraction"], level)
                                       for r in self.members if r.width == width and r.n_train == p], dtype=float)
                    reached[p] = int(np.sum(np.isfinite(taus)))
                    complete = taus.size > 0 and reached[p] == taus.size
                    means[p] = float(taus.mean()) if complete else None
                    lower[p] = float(np.nanmean(taus)) if 0 < reached[p] < taus.size else None
                    errs[p] = float(taus.std(ddof=1) / math.sqrt(taus.size)) if complete and taus.size > 1 else None
                fitted = [p for p in self.config.n_train if means[p] is not None]
                b, b_err, c = fit_power_law(fitted, [means[p] for p in fitted],
                                            [np.nan if errs[p] is None else errs[p] for p in fitted])
                out.append({"width": width, "threshold": level, "exponent": finite_or_none(b),
                            "exponent_stderr": finite_or_none(b_err), "prefactor": finite_or_none(c),
                            "fitted_P": fitted, "tau_mem": means, "tau_mem_stderr": errs, "reached": reached,
                            "tau_mem_lower": lower})
        return out

    def rows(self) -> list[dict]:
        """Tidy table: one row per (width, P, seed, step, quantity[, t]) of every curve, one per
        member for ``tau_gen`` and ``tau_mem`` (step None), and one per P for the theory collapse
        time ``theory/t_collapse`` (width, seed and step None). :meth:`from_rows` inverts it."""
        out = []
        for r in self.members:
            base = {"width": r.width, "P": r.n_train, "seed": r.seed}
            for c, step in enumerate(r.steps):
                for name, arr in r.curves.items():
                    arr = np.asarray(arr)
                    if arr.ndim == 2:
                        for t, v in zip(r.eval_times, arr[c]):
                            out.append({**base, "step": int(step), "quantity": name, "t": float(t),
                                        "value": finite_or_none(v)})
                    else:
                        out.append({**base, "step": int(step), "quantity": name, "t": None,
                                    "value": finite_or_none(arr[c])})
            for name in ("tau_gen", "tau_mem"):
                out.append({**base, "step": None, "quantity": name, "t": None,
                            "value": finite_or_none(getattr(r, name))})
        for p, t_c in self.theory["t_collapse"].items():
            out.append({"width": None, "P": p, "seed": None, "step": None, "quantity": "theory/t_collapse", "t": None,
                        "value": finite_or_none(t_c)})
        return out

    @classmethod
    def from_rows(cls, config, rows) -> "DenoiserResult":
        """Rebuild a result from the tidy rows of :meth:`rows`, so that :meth:`summary`, :meth:`fits`
        and the figures of :mod:`diffsim.plot.nets` work on a results table.

        ``config`` is the :class:`DenoiserConfig` (or its dict, e.g. ``Results.cell_config(cell)``;
        unknown keys are dropped). ``rows`` are the dicts of :meth:`rows`, or the rows of one
        ``(cell, seed)`` unit of a sweep table (:mod:`diffsim.results`: extra ``cell`` and axis
        columns, the member's seed as ``study_seed``, missing values as None); rows of several
        units raise ValueError. What the rows do not hold stays empty: ``loss_steps``,
        ``train_loss``, ``record_times`` and ``condensed`` of each member are empty arrays,
        ``reference`` is ``{}``, ``seconds`` is NaN, and ``t_collapse`` is None for a P without a
        ``theory/t_collapse`` row (tables written before those rows existed). Tables written
        before the renames are read too: ``t_collapse_theory`` as ``theory/t_collapse``, the curve
        ``memorization`` as ``memorized_fraction`` (:data:`RENAMED_QUANTITIES`).
        """
        if isinstance(config, dict):
            known = {f.name for f in dataclasses.fields(DenoiserConfig)}
            config = DenoiserConfig(**{k: tuple(v) if isinstance(v, list) else v
                                       for k, v in config.items() if k in known})
        rows = list(rows)
        units = {(r.get("cell"), r.get("seed") if "study_seed" in r else None) for r in rows}
        if len(units) > 1:
            raise ValueError(f"rows of {len(units)} sweep units (cell, seed): pass the rows of one unit, "
                             "e.g. table.where(cell=c, seed=s).rows")
        t_collapse = {p: None for p in config.n_train}
        grouped: dict = {}
        for r in rows:
            if RENAMED_QUANTITIES.get(r["quantity"], r["quantity"]) == "theory/t_collapse":
                t_collapse[int(r["P"])] = r["value"]
                continue
            seed = r["study_seed"] if "study_seed" in r else r["seed"]
            grouped.setdefault((int(r["width"]), int(r["P"]), int(seed)), []).append(r)
        order = {w: i for i, w in enumerate(config.widths)}, {p: i for i, p in enumerate(config.n_train)}
        members = tuple(
            _member_from_rows(config, *key, grouped[key])
            for key in sorted(grouped, key=lambda k: (order[0].get(k[0], k[0]), order[1].get(k[1], k[1]), k[2]))
        )
        return cls(config, members, {"t_collapse": t_collapse}, {}, float("nan"))

    def to_json(self) -> dict:
        """One JSON object: config, definitions, theory, reference distances, summary rows, fits and
        every member's curves."""
        return {
            "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.config).items()},
            "definitions": self.definitions,
            "theory": {"t_collapse": {str(k): v for k, v in self.theory["t_collapse"].items()}},
            "reference": self.reference,
            "seconds": self.seconds,
            "rows": self.summary(),
            "fits": self.fits(),
            "members": [
                {
                    "width": r.width, "P": r.n_train, "seed": r.seed,
                    "steps": [int(s) for s in r.steps],
                    "eval_times": _list(r.eval_times),
                    "curves": {k: _list(v) for k, v in r.curves.items()},
                    "loss_steps": [int(s) for s in r.loss_steps],
                    "train_loss": _list(r.train_loss),
                    "record_times": _list(r.record_times),
                    "condensed_final": _list(r.condensed),
                    "tau_gen": finite_or_none(r.tau_gen), "tau_mem": finite_or_none(r.tau_mem),
                }
                for r in self.members
            ],
        }


def _member_from_rows(config: DenoiserConfig, width: int, n_train: int, seed: int, rows: list[dict]) -> MemberCurves:
    """One member's curves ``[C, T]`` / ``[C]`` and taus from its rows (None -> NaN)."""
    steps = sorted({int(r["step"]) for r in rows if r["step"] is not None})
    times = sorted({float(r["t"]) for r in rows if r["t"] is not None})
    step_at, t_at = {s: i for i, s in enumerate(steps)}, {t: i for i, t in enumerate(times)}
    curves, taus = {}, {"tau_gen": math.nan, "tau_mem": math.nan}
    for r in rows:
        value = math.nan if r["value"] is None else float(r["value"])
        name = RENAMED_QUANTITIES.get(r["quantity"], r["quantity"])
        if name in taus:
            taus[name] = value
            continue
        if name not in curves:
            curves[name] = np.full((len(steps), len(times)) if r["t"] is not None else (len(steps),), math.nan)
        index = step_at[int(r["step"])] if r["t"] is None else (step_at[int(r["step"])], t_at[float(r["t"])])
        curves[name][index] = value
    empty = np.zeros(0)
    return MemberCurves(
        width=width, n_train=n_train, seed=seed, dim=config.dim, steps=np.asarray(steps, dtype=np.int64),
        eval_times=np.asarray(times, dtype=float), curves=curves, loss_steps=np.zeros(0, dtype=np.int64),
        train_loss=empty, record_times=empty, condensed=empty, **taus,
    )


def _list(a):
    return np.vectorize(finite_or_none, otypes=[object])(np.asarray(a, dtype=float)).tolist()


def _noise_units(r: MemberCurves, name: str) -> float:
    """``mean_t Delta_t E|.|^2 / N`` at the last checkpoint."""
    return float(np.mean(np.asarray(delta(r.eval_times)) * r.final(name))) / r.dim


# ----------------------------------------------------------------------------- the study


def _data_model(config: DenoiserConfig, key):
    return data.make(config.data, config.dim, sigma=config.sigma, mtilde=config.mtilde,
                     alpha_d=config.alpha_d, nonlinearity=config.nonlinearity, key=key)


def _collapse_times(model, config: DenoiserConfig) -> dict:
    """``t_C`` of the empirical-score dynamics per P from the data's covariance spectrum (section 4)."""
    spec = Spectrum.from_eigenvalues(np.maximum(model.covariance_spectrum(), 0.0))
    return {p: float(collapse_time(math.log(p) / config.dim, spec)) for p in config.n_train}


def run_denoiser(config: DenoiserConfig, key=None, *, progress=None) -> DenoiserResult:
    """Run the study (module docstring); ``key`` defaults to ``PRNGKey(config.seed)``.

    ``progress``: True for lines on stderr (training losses and one line per checkpoint
    evaluation, through :class:`diffsim.progress.Progress`), or a callable receiving those texts
    (the sweep runner's and the command's).

    Keys: the data model (HMM features) from ``fold_in(key, 0)``; seed s's training set (the first
    P of one ``[P_max, N]`` draw, so the sets are nested in P) from ``fold_in(data_key, s)``;
    member (P, s) of width w trains from ``fold_in(fold_in(fold_in(train_key, w), P), s)``;
    evaluation queries, sampler noise and reference samples are shared by all members and
    checkpoints.
    """
    from diffsim.nets.train import train

    config.validate()
    report = progress if callable(progress) else (Progress("denoiser").within() if progress else None)
    start = time.time()
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model_key, data_key, train_key, eval_key, sample_key, ref_key = jax.random.split(key, 6)
    model = _data_model(config, model_key)
    n, p_max, seeds = config.dim, max(config.n_train), config.n_seeds
    has_exact = data.has_exact_score(model, n)
    data_variance = float(np.mean(model.covariance_spectrum()))

    # members: P-major, then seed
    pairs = [(p, s) for p in config.n_train for s in range(seeds)]
    per_seed = jnp.stack([model.sample(jax.random.fold_in(data_key, s), p_max) for s in range(seeds)])
    points = per_seed[jnp.asarray([s for _, s in pairs])]  # [M, P_max, N]
    n_points = jnp.asarray([p for p, _ in pairs], jnp.int32)
    train_sets = jax.vmap(masked_training_set)(points, n_points)

    # fixed evaluation data
    k_idx, k_test, k_xi, k_init, k_ref1, k_ref2 = jax.random.split(eval_key, 6)
    times = jnp.asarray(np.geomspace(config.t_eval_min, config.t_eval_max, config.eval_times), jnp.float32)
    shape = (config.eval_times, config.eval_batch)
    u = jax.random.uniform(k_idx, shape)
    idx = jnp.minimum((u[None] * n_points[:, None, None]).astype(jnp.int32), n_points[:, None, None] - 1)
    a_train = jax.vmap(lambda pts, i: pts[i])(points, idx)  # [M, T, B, N]
    a_test = model.sample(k_test, config.eval_times * config.eval_batch).reshape(shape + (n,))
    xi = jax.random.normal(k_xi, shape + (n,))
    x_init = jax.random.normal(k_init, (config.n_samples, n))
    sample_times = jnp.asarray(time_grid(config.t_max, config.t_min, config.sample_steps, "log"), jnp.float32)
    reference = model.sample(k_ref1, config.n_samples)
    reference2 = model.sample(k_ref2, config.n_samples)
    bandwidth = median_distance(reference)
    radius = 10.0 * math.sqrt(n * data_variance)  # 10x the typical norm of a data point
    sample_keys = jax.random.split(sample_key, len(pairs))
    ref_stats = {
        "sliced_wasserstein_true_vs_true": float(sliced_wasserstein(ref_key, reference2, reference, config.n_projections)),
        "mmd_true_vs_true": float(mmd(reference2, reference, bandwidth)),
        "mmd_bandwidth": float(bandwidth),
        "has_exact_score": has_exact,
        "data_variance": data_variance,
    }

    def evaluate(step, drift):
        t0 = time.time()
        scores = _score_comparison(drift, train_sets, model, a_train, a_test, xi, times, has_exact=has_exact)
        gen = _generate(drift, train_sets, sample_keys, x_init, sample_times, reference, radius, bandwidth,
                        record_every=config.record_every, n_projections=config.n_projections)
        out = jax.tree_util.tree_map(np.asarray, {**scores, **gen})
        if report is not None:
            mem = ", ".join(f"P={p}:{f:.2f}" for (p, _), f in zip(pairs, out["memorized_fraction"]))
            report(f"  eval step {step:>8d} ({time.time() - t0:5.1f}s)  memorized fraction {mem}")
        return out

    members = []
    for width in config.widths:
        if report is not None:
            report(f"width {width}: training {len(pairs)} members (P x seed) for {config.steps} steps")
        mc = dataclasses.replace(config.model_config(width), data_variance=data_variance)
        keys = jnp.stack([
            jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(train_key, width), p), s) for p, s in pairs
        ])
        ckpt_dir = None if config.checkpoint_dir is None else f"{config.checkpoint_dir}/width_{width}"
        result = train(mc, config.train_config(), points, keys, n_points=n_points, on_checkpoint=evaluate,
                       checkpoint_dir=ckpt_dir,
                       progress=(lambda step, loss: report(f"train step {step}/{config.steps} loss {loss:.4f}"))
                       if report is not None else False)
        steps = np.asarray([s for s, _ in result.evaluations])
        stacked = {k: np.stack([ev[k] for _, ev in result.evaluations]) for k in result.evaluations[0][1]}
        record_times = np.asarray(time_grid(config.t_max, config.t_min, config.sample_steps, "log"))[
            :: config.record_every]
        for j, (p, s) in enumerate(pairs):
            curves = {k: v[:, j] for k, v in stacked.items() if k != "condensed"}
            loss_curve = np.mean(curves["loss_test"], axis=1)
            members.append(MemberCurves(
                width=width, n_train=p, seed=s, dim=n, steps=steps, eval_times=np.asarray(times, dtype=float),
                curves=curves, loss_steps=result.loss_steps, train_loss=result.losses[:, j],
                record_times=record_times, condensed=stacked["condensed"][-1, j],
                tau_gen=descent_step(steps, loss_curve, config.gen_tolerance),
                tau_mem=crossing_step(steps, curves["memorized_fraction"], config.mem_threshold),
            ))
    return DenoiserResult(config, tuple(members), {"t_collapse": _collapse_times(model, config)}, ref_stats,
                          time.time() - start)
