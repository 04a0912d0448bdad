"""Trained denoisers between the empirical and the true score (THEORY.md sections 10-12).

:func:`measure_denoiser` trains one ensemble of denoisers by DSM per network config
(:func:`diffsim.nets.train`), one member per training set of ``train`` (a :class:`TrainingSet` with a
leading member axis, all in one padded ``[P_max, N]`` layout, e.g. ``jax.vmap(masked_training_set)``).
At every log-spaced checkpoint it measures, per diffusion time t of an evaluation grid and for
queries ``x = m_t a + sqrt(Delta_t) xi`` with ``a`` a fresh point of the data model ("test") or a
point of the member's training set ("train"):

* ``err_true = E |s_theta - s_true|^2`` (exact score of the data model; NaN where none exists),
* ``err_emp = E |s_theta - s_e|^2`` (empirical score of the member's own training set),
  and the reference gap ``E |s_e - s_true|^2``,
* the DSM loss in noise units ``Delta_t l_t = E |eps_hat - xi|^2`` on train and test queries;

and it generates ``n_samples`` points with the learned score (backward SDE,
:func:`diffsim.sample.sample`), recording along the way the training-set posterior of the
trajectories (the collapse estimator 1 of section 4: does a trained model condense, and when?),
then scores the samples by memorized fraction (1/3 criterion) and by sliced Wasserstein / MMD to
fresh true samples.

Training-dynamics times (section 11), defined operationally (:data:`DEFINITIONS`):

* ``tau_mem``: the first training step at which the memorized fraction of generated samples
  reaches ``mem_threshold``, interpolated linearly in log(step) between checkpoints (NaN: not
  reached within the run);
* ``tau_gen``: the first training step at which the test DSM loss (noise units, averaged over the
  evaluation times) has made ``1 - gen_tolerance`` of its descent from its initial value to its
  minimum over the run, i.e. ``L - L_min <= gen_tolerance (L_0 - L_min)``, interpolated likewise.

:mod:`diffsim.nets` (flax, optax) is imported when :func:`measure_denoiser` runs, so importing
:mod:`diffsim.measure` stays cheap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate
from diffsim._protocols import DataModel
from diffsim.data import has_exact_score
from diffsim.metrics import median_distance, mmd, sliced_wasserstein
from diffsim.observe import (
    condensation_time,
    condensed_fraction,
    crossing_step,
    descent_step,
    finite_or_none,
    fit_power_law,
    memorized,
)
from diffsim.process import delta, m, time_grid
from diffsim.sample import sample
from diffsim.score import TrainingSet, empirical_score, posterior
from diffsim.specs import Options, options_of

if TYPE_CHECKING:
    from diffsim.nets.models import LearnedScore, ModelConfig
    from diffsim.nets.train import TrainConfig

__all__ = ["DEFINITIONS", "MemberCurves", "DenoiserMeasurement", "DenoiserOptions", "check_denoiser_options",
           "measure_denoiser"]

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
"""Operational definitions of the measured quantities, stored with every result."""


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


def _list(a):
    return np.vectorize(finite_or_none, otypes=[object])(np.asarray(a, dtype=float)).tolist()


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

    def noise_units(self, name: str) -> float:
        """``mean_t Delta_t E|.|^2 / N`` of ``curves[name]`` at the last checkpoint."""
        return float(np.mean(np.asarray(delta(self.eval_times)) * self.final(name))) / self.dim

    def rows(self) -> list[dict]:
        """Tidy rows ``width, P, seed, step, quantity, t, value``: one per (step, curve[, t]) and one
        per tau (step None); non-finite values are None. :meth:`from_rows` inverts it."""
        base = {"width": self.width, "P": self.n_train, "seed": self.seed}
        out = []
        for c, step in enumerate(self.steps):
            for name, arr in self.curves.items():
                arr = np.asarray(arr)
                if arr.ndim == 2:
                    for t, v in zip(self.eval_times, arr[c]):
                        out.append({**base, "step": int(step), "quantity": name, "t": float(t), "value": finite_or_none(v)})
                else:
                    out.append({**base, "step": int(step), "quantity": name, "t": None, "value": finite_or_none(arr[c])})
        for name in ("tau_gen", "tau_mem"):
            out.append({**base, "step": None, "quantity": name, "t": None, "value": finite_or_none(getattr(self, name))})
        return out

    @classmethod
    def from_rows(cls, rows: Sequence[dict], *, width: int, n_train: int, seed: int, dim: int) -> "MemberCurves":
        """One member's curves ``[C, T]`` / ``[C]`` and taus from its :meth:`rows` (None -> NaN). What
        the rows do not hold (``loss_steps``, ``train_loss``, ``record_times``, ``condensed``) is empty."""
        steps = sorted({int(r["step"]) for r in rows if r["step"] is not None})
        times = sorted({float(r["t"]) for r in rows if r["t"] is not None})
        step_at, t_at = {s: i for i, s in enumerate(steps)}, {t: i for i, t in enumerate(times)}
        curves, taus = {}, {"tau_gen": math.nan, "tau_mem": math.nan}
        for r in rows:
            value = math.nan if r["value"] is None else float(r["value"])
            name = r["quantity"]
            if name in taus:
                taus[name] = value
                continue
            if name not in curves:
                curves[name] = np.full((len(steps), len(times)) if r["t"] is not None else (len(steps),), math.nan)
            index = step_at[int(r["step"])] if r["t"] is None else (step_at[int(r["step"])], t_at[float(r["t"])])
            curves[name][index] = value
        empty = np.zeros(0)
        return cls(
            width=width, n_train=n_train, seed=seed, dim=dim, steps=np.asarray(steps, dtype=np.int64),
            eval_times=np.asarray(times, dtype=float), curves=curves, loss_steps=np.zeros(0, dtype=np.int64),
            train_loss=empty, record_times=empty, condensed=empty, **taus,
        )

    def to_json(self) -> dict:
        return {
            "width": self.width, "P": self.n_train, "seed": self.seed,
            "steps": [int(s) for s in self.steps],
            "eval_times": _list(self.eval_times),
            "curves": {k: _list(v) for k, v in self.curves.items()},
            "loss_steps": [int(s) for s in self.loss_steps],
            "train_loss": _list(self.train_loss),
            "record_times": _list(self.record_times),
            "condensed_final": _list(self.condensed),
            "tau_gen": finite_or_none(self.tau_gen), "tau_mem": finite_or_none(self.tau_mem),
        }


def _mean_and_stderr(values) -> tuple[float | None, float | None]:
    """Mean and standard error of the finite values (None with none, stderr None with one)."""
    v = np.asarray(values, dtype=float)
    fin = v[np.isfinite(v)]
    return (float(fin.mean()) if fin.size else None,
            float(fin.std(ddof=1) / math.sqrt(fin.size)) if fin.size > 1 else None)


@dataclass(frozen=True)
class DenoiserMeasurement:
    """What :func:`measure_denoiser` measured: every member's curves, in the order width (as in
    ``widths``), P (as in ``n_train``), seed.

    Attributes:
      widths, n_train: the network widths and the distinct training-set sizes P.
      members: one :class:`MemberCurves` per (width, P, seed).
      reference: ``sliced_wasserstein_true_vs_true``, ``mmd_true_vs_true`` (two independent true
        samples of ``n_samples``), ``mmd_bandwidth``, ``has_exact_score``, ``data_variance``.
      seconds: wall time.
    """

    widths: tuple[int, ...]
    n_train: tuple[int, ...]
    members: tuple[MemberCurves, ...]
    reference: dict
    seconds: float

    def _of(self, width: int, p: int) -> list[MemberCurves]:
        return [r for r in self.members if r.width == width and r.n_train == p]

    def summary(self) -> list[dict]:
        """One row per (width, P): means over seeds (stderr where there are several) of the final
        memorized fraction, score errors (noise units per dimension, mean over t), distances,
        tau_gen and tau_mem (means over the seeds that reached them, with the count)."""
        out = []
        for width in self.widths:
            for p in self.n_train:
                ms = self._of(width, p)
                row: dict[str, Any] = {"width": width, "P": p, "n_seeds": len(ms)}
                for key, values in (
                    ("memorized_fraction", [r.final("memorized_fraction") for r in ms]),
                    ("score_error_true", [r.noise_units("err_true_test") for r in ms]),
                    ("score_error_empirical", [r.noise_units("err_emp_test") for r in ms]),
                    ("dsm_loss_train", [float(np.mean(r.final("loss_train"))) for r in ms]),
                    ("dsm_loss_test", [float(np.mean(r.final("loss_test"))) for r in ms]),
                    ("sliced_wasserstein", [r.final("sliced_wasserstein") for r in ms]),
                    ("mmd", [r.final("mmd") for r in ms]),
                    ("diverged", [r.final("diverged") for r in ms]),
                    ("t_condensation", [r.final("t_condensation") for r in ms]),
                    ("tau_gen", [r.tau_gen for r in ms]),
                    ("tau_mem", [r.tau_mem for r in ms]),
                ):
                    row[key], row[f"{key}_stderr"] = _mean_and_stderr(values)
                row["tau_mem_reached"] = int(np.sum(np.isfinite([r.tau_mem for r in ms])))
                out.append(row)
        return out

    def fits(self) -> dict:
        """Per width: exponent b of ``tau_mem ~ c P^b`` and of ``tau_gen ~ c P^b`` over the P
        where they were reached (NaN with fewer than three: two points give a slope, not a fit),
        weighted by the stderr over seeds where there are several seeds."""
        out = {}
        rows = self.summary()
        weighted = max((len(self._of(w, p)) for w in self.widths for p in self.n_train), default=0) > 1
        for width in self.widths:
            sub = [r for r in rows if r["width"] == width]
            res = {}
            for name in ("tau_mem", "tau_gen"):
                x = [r["P"] for r in sub]
                y = [np.nan if r[name] is None else r[name] for r in sub]
                e = [np.nan if r[f"{name}_stderr"] is None else r[f"{name}_stderr"] for r in sub]
                b, b_err, c = fit_power_law(x, y, e if weighted else None)
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
        for width in self.widths:
            for level in thresholds:
                level = _validate.in_range("threshold", level, 0.0, 1.0, closed=False)
                means, errs, reached, lower = {}, {}, {}, {}
                for p in self.n_train:
                    taus = np.asarray([crossing_step(r.steps, r.curves["memorized_fraction"], level)
                                       for r in self._of(width, p)], dtype=float)
                    reached[p] = int(np.sum(np.isfinite(taus)))
                    complete = taus.size > 0 and reached[p] == taus.size
                    means[p] = float(taus.mean()) if complete else None
                    lower[p] = float(np.nanmean(taus)) if 0 < reached[p] < taus.size else None
                    errs[p] = float(taus.std(ddof=1) / math.sqrt(taus.size)) if complete and taus.size > 1 else None
                fitted = [p for p in self.n_train if means[p] is not None]
                b, b_err, c = fit_power_law(fitted, np.array([means[p] for p in fitted], dtype=float),
                                            np.array([np.nan if errs[p] is None else errs[p] for p in fitted], dtype=float))
                out.append({"width": width, "threshold": level, "exponent": finite_or_none(b),
                            "exponent_stderr": finite_or_none(b_err), "prefactor": finite_or_none(c),
                            "fitted_P": fitted, "tau_mem": means, "tau_mem_stderr": errs, "reached": reached,
                            "tau_mem_lower": lower})
        return out

    def rows(self) -> list[dict]:
        """Every member's :meth:`MemberCurves.rows`; :meth:`from_rows` inverts it."""
        return [row for r in self.members for row in r.rows()]

    @classmethod
    def from_rows(cls, rows: Sequence[dict], *, widths: Sequence[int], n_train: Sequence[int],
                  dim: int) -> "DenoiserMeasurement":
        """Rebuild the members from the tidy rows of :meth:`rows` (``seed`` per row), ordered by
        width and P as in ``widths`` and ``n_train``; ``reference`` is ``{}`` and ``seconds`` NaN."""
        grouped: dict = {}
        for r in rows:
            grouped.setdefault((int(r["width"]), int(r["P"]), int(r["seed"])), []).append(r)
        order = {w: i for i, w in enumerate(widths)}, {p: i for i, p in enumerate(n_train)}
        members = tuple(
            MemberCurves.from_rows(grouped[key], width=key[0], n_train=key[1], seed=key[2], dim=dim)
            for key in sorted(grouped, key=lambda k: (order[0].get(k[0], k[0]), order[1].get(k[1], k[1]), k[2]))
        )
        return cls(tuple(widths), tuple(n_train), members, {}, float("nan"))


# ----------------------------------------------------------------------------- the measurement


def _members(train: TrainingSet) -> tuple[TrainingSet, jax.Array, jax.Array]:
    """``train`` with a leading member axis, its padded points ``[M, P_max, N]`` and the real
    points per member ``[M]`` (int32)."""
    if not isinstance(train, TrainingSet):
        raise _validate.ConfigError(
            f"train={type(train).__name__} is not a TrainingSet: build one with TrainingSet.from_points(points)"
        )
    if train.chunks.ndim == 3:
        train = jax.tree_util.tree_map(lambda a: a[None], train)
    points = train.chunks.reshape(train.chunks.shape[0], -1, train.dim)[:, : train.n_points]
    return train, points, jnp.sum(train.mask, axis=(1, 2)).astype(jnp.int32)


def check_denoiser_options(*, eval_times, t_eval_min, t_eval_max, eval_batch, n_samples, sample_steps, record_every,
                           n_projections, mem_threshold, gen_tolerance, checkpoint_dir) -> None:
    """Range checks of :func:`measure_denoiser`'s options (one :class:`~diffsim.ConfigError` naming
    the first bad option and its range), for the API and for configs before any work; ``t_eval_max``
    at most the training's ``t_max`` is checked where the training is known."""
    _validate.integer("eval_times", eval_times, minimum=1, maximum=1000)
    _validate.positive("t_eval_max", t_eval_max, upper=50.0)
    _validate.positive("t_eval_min", t_eval_min, upper=t_eval_max)
    _validate.integer("eval_batch", eval_batch, minimum=2, maximum=2**20)
    _validate.integer("n_samples", n_samples, minimum=2, maximum=2**20)
    _validate.integer("sample_steps", sample_steps, minimum=2, maximum=100_000)
    _validate.integer("record_every", record_every, minimum=1, maximum=sample_steps)
    if sample_steps % record_every:
        raise _validate.ConfigError(
            f"record_every={record_every} is out of range: expected a divisor of sample_steps={sample_steps}"
        )
    _validate.integer("n_projections", n_projections, minimum=1, maximum=100_000)
    _validate.in_range("mem_threshold", mem_threshold, 0.0, 1.0, closed=False)
    _validate.in_range("gen_tolerance", gen_tolerance, 0.0, 1.0, closed=False)
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, str):
        raise _validate.ConfigError(f"checkpoint_dir={checkpoint_dir!r} is out of range: expected a folder name or none")


def measure_denoiser(
    key,
    train: TrainingSet,
    *,
    data_model: DataModel,
    networks: Sequence[ModelConfig],
    training: TrainConfig,
    eval_times: int = 8,
    t_eval_min: float = 0.01,
    t_eval_max: float = 2.0,
    eval_batch: int = 256,
    n_samples: int = 256,
    sample_steps: int = 100,
    record_every: int = 5,
    n_projections: int = 64,
    mem_threshold: float = 0.5,
    gen_tolerance: float = 0.1,
    checkpoint_dir: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> DenoiserMeasurement:
    """Train denoisers on the training sets of ``train`` and measure them against the empirical and
    the true score at log-spaced checkpoints (module docstring).

    Args:
      key: PRNG key. It is split in six; the first two subkeys are left unused, so that a study may
        draw its data model and training sets from them. The third trains (member j of width w
        from ``fold_in(fold_in(fold_in(k, w), P_j), s_j)``), the others give the evaluation
        queries, the sampler noise and the reference samples, shared by all members and checkpoints.
      train: the members' training sets: a :class:`TrainingSet` (one member) or one with a leading
        member axis ``[M]`` in a shared ``[P_max, N]`` layout (``jax.vmap(masked_training_set)(points,
        sizes)``). Member j has ``P_j`` real points and seed label ``s_j``, the number of earlier
        members with the same ``P_j``.
      data_model: the data model of the training sets: fresh test points, reference samples, the
        per-coordinate variance, and its exact score where it has one.
      networks: one ensemble per :class:`diffsim.nets.ModelConfig` (its width labels the members).
      training: the :class:`diffsim.nets.TrainConfig` of every member; its ``t_max`` and ``t_min``
        also bound the sampler's log grid.
      eval_times: evaluation times, log-spaced in [t_eval_min, t_eval_max].
      t_eval_min: smallest evaluation time (OU time t).
      t_eval_max: largest evaluation time (OU time t, at most the training's t_max).
      eval_batch: train and test queries per evaluation time.
      n_samples: generated samples per member and checkpoint (and fresh reference points).
      sample_steps: backward SDE steps of the generation, log grid from the training's t_max to t_min.
      record_every: record the trajectories' posterior every this many sampler steps (a divisor
        of sample_steps).
      n_projections: random directions of the sliced Wasserstein distance.
      mem_threshold: memorized fraction of the samples that defines tau_mem.
      gen_tolerance: fraction of the test-loss descent left that defines tau_gen.
      checkpoint_dir: write the training states here at every checkpoint, a folder per width
        (none: no files).
      progress: called with a line of text per training report and per checkpoint evaluation.

    Returns:
      :class:`DenoiserMeasurement`.
    """
    from diffsim.nets.train import train as train_ensemble

    check_denoiser_options(
        eval_times=eval_times, t_eval_min=t_eval_min, t_eval_max=t_eval_max, eval_batch=eval_batch, n_samples=n_samples,
        sample_steps=sample_steps, record_every=record_every, n_projections=n_projections, mem_threshold=mem_threshold,
        gen_tolerance=gen_tolerance, checkpoint_dir=checkpoint_dir)
    _validate.positive("t_eval_max", t_eval_max, upper=training.t_max)
    start = time.time()
    train_sets, points, n_points = _members(train)
    _, _, train_key, eval_key, sample_key, ref_key = jax.random.split(key, 6)
    n = train_sets.dim
    sizes = [int(p) for p in np.asarray(n_points)]
    pairs = [(p, sizes[:j].count(p)) for j, p in enumerate(sizes)]
    spectrum = np.asarray(data_model.covariance_spectrum())
    if spectrum.shape != (n,):
        raise _validate.ConfigError(f"data_model has dimension {spectrum.size}: expected the training sets' N={n}")
    if not networks:
        raise _validate.ConfigError("networks=() is out of range: expected at least one ModelConfig")
    has_exact = has_exact_score(data_model, n)
    data_variance = float(np.mean(spectrum))

    # fixed evaluation data
    k_idx, k_test, k_xi, k_init, k_ref1, k_ref2 = jax.random.split(eval_key, 6)
    times = jnp.asarray(np.geomspace(t_eval_min, t_eval_max, eval_times), jnp.float32)
    shape = (eval_times, eval_batch)
    u = jax.random.uniform(k_idx, shape)
    idx = jnp.minimum((u[None] * n_points[:, None, None]).astype(jnp.int32), n_points[:, None, None] - 1)
    a_train = jax.vmap(lambda pts, i: pts[i])(points, idx)  # [M, T, B, N]
    a_test = data_model.sample(k_test, eval_times * eval_batch).reshape(shape + (n,))
    xi = jax.random.normal(k_xi, shape + (n,))
    x_init = jax.random.normal(k_init, (n_samples, n))
    grid = time_grid(training.t_max, training.t_min, sample_steps, "log")
    sample_times = jnp.asarray(grid, jnp.float32)
    reference = data_model.sample(k_ref1, n_samples)
    reference2 = data_model.sample(k_ref2, n_samples)
    bandwidth = median_distance(reference)
    radius = 10.0 * math.sqrt(n * data_variance)  # 10x the typical norm of a data point
    sample_keys = jax.random.split(sample_key, len(pairs))
    ref_stats = {
        "sliced_wasserstein_true_vs_true": float(sliced_wasserstein(ref_key, reference2, reference, n_projections)),
        "mmd_true_vs_true": float(mmd(reference2, reference, bandwidth)),
        "mmd_bandwidth": float(bandwidth),
        "has_exact_score": has_exact,
        "data_variance": data_variance,
    }

    def evaluate(step, drift):
        t0 = time.time()
        scores = _score_comparison(drift, train_sets, data_model, a_train, a_test, xi, times, has_exact=has_exact)
        gen = _generate(drift, train_sets, sample_keys, x_init, sample_times, reference, radius, bandwidth,
                        record_every=record_every, n_projections=n_projections)
        out = jax.tree_util.tree_map(np.asarray, {**scores, **gen})
        if progress is not None:
            mem = ", ".join(f"P={p}:{f:.2f}" for (p, _), f in zip(pairs, out["memorized_fraction"]))
            progress(f"  eval step {step:>8d} ({time.time() - t0:5.1f}s)  memorized fraction {mem}")
        return out

    members = []
    for mc in networks:
        width = mc.width
        if progress is not None:
            progress(f"width {width}: training {len(pairs)} members (P x seed) for {training.steps} steps")
        keys = jnp.stack([
            jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(train_key, width), p), s) for p, s in pairs
        ])
        ckpt_dir = None if checkpoint_dir is None else f"{checkpoint_dir}/width_{width}"
        result = train_ensemble(mc, training, points, keys, n_points=n_points, on_checkpoint=evaluate,
                                checkpoint_dir=ckpt_dir,
                                progress=(lambda step, loss: progress(f"train step {step}/{training.steps} loss {loss:.4f}"))
                                if progress is not None else False)
        steps = np.asarray([s for s, _ in result.evaluations])
        stacked = {k: np.stack([ev[k] for _, ev in result.evaluations]) for k in result.evaluations[0][1]}
        record_times = np.asarray(grid)[::record_every]
        for j, (p, s) in enumerate(pairs):
            curves = {k: v[:, j] for k, v in stacked.items() if k != "condensed"}
            loss_curve = np.mean(curves["loss_test"], axis=1)
            members.append(MemberCurves(
                width=width, n_train=p, seed=s, dim=n, steps=steps, eval_times=np.asarray(times, dtype=float),
                curves=curves, loss_steps=result.loss_steps, train_loss=result.losses[:, j],
                record_times=record_times, condensed=stacked["condensed"][-1, j],
                tau_gen=descent_step(steps, loss_curve, gen_tolerance),
                tau_mem=crossing_step(steps, curves["memorized_fraction"], mem_threshold),
            ))
    return DenoiserMeasurement(tuple(mc.width for mc in networks), tuple(dict.fromkeys(sizes)), tuple(members),
                               ref_stats, time.time() - start)


@options_of(measure_denoiser, exclude=("data_model", "networks", "training", "progress"), check=check_denoiser_options)
class DenoiserOptions(Options):
    """The options of :func:`measure_denoiser` as a config part (its keyword arguments but the data model, the nets, their training and ``progress``)."""
