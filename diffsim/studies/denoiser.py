"""Trained denoisers between the empirical and the true score (THEORY.md sections 10-12).

One point: for each network width and each training-set size P (and ``n_seeds`` seeds) a denoiser
trained by DSM, all (P, seed) members of one width in one ``vmap``, measured at log-spaced
checkpoints by :func:`diffsim.measure.denoiser.measure_denoiser` (score errors against the empirical
and the true score, DSM losses, generated samples; ``tau_mem`` and ``tau_gen`` as in
:data:`DEFINITIONS`). Theory: the collapse time t_C of the empirical-score dynamics per P.

Members with different P share one padded ``[P_max, N]`` layout: member j draws only its first
``P_j`` rows and its training set masks the rest (:func:`diffsim.score.masked_training_set`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from diffsim import _validate, data
from diffsim.data import DataName, Nonlinearity
from diffsim.measure.denoiser import DEFINITIONS, DenoiserMeasurement, MemberCurves, measure_denoiser
from diffsim.nets.models import Architecture, Parameterisation
from diffsim.nets.train import Optimizer, TimeLaw, Weighting
from diffsim.observe import finite_or_none
from diffsim.progress import Progress
from diffsim.score import masked_training_set
from diffsim.studies._common import config_json, measure_options
from diffsim.theory.collapse import collapse_time
from diffsim.theory.spectrum import Spectrum
from diffsim.studies._registry import register_study

__all__ = ["DEFINITIONS", "RENAMED_QUANTITIES", "DenoiserConfig", "MemberCurves", "DenoiserResult", "run_denoiser"]

RENAMED_QUANTITIES = {"t_collapse_theory": "theory/t_collapse", "memorization": "memorized_fraction"}
"""Old quantity name -> new, for tables written before the renames (:meth:`DenoiserResult.from_rows`)."""


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


@dataclass(frozen=True)
class DenoiserResult:
    """Result of :func:`run_denoiser`: the config, the measurement (every member's curves, its
    summary and fits) and the theory (collapse time t_C per P)."""

    config: DenoiserConfig
    measurement: DenoiserMeasurement
    theory: dict
    definitions: dict = field(default_factory=lambda: dict(DEFINITIONS))

    @property
    def members(self) -> tuple[MemberCurves, ...]:
        return self.measurement.members

    def summary(self) -> list[dict]:
        """:meth:`DenoiserMeasurement.summary`, each row with the theory collapse time ``theory/t_collapse``."""
        return [{**row, "theory/t_collapse": self.theory["t_collapse"].get(row["P"])} for row in self.measurement.summary()]

    def fits(self) -> dict:
        return self.measurement.fits()

    def tau_mem_scaling(self, thresholds=(0.25, 0.5, 0.75)) -> list[dict]:
        return self.measurement.tau_mem_scaling(thresholds)

    def rows(self) -> list[dict]:
        """Tidy table: :meth:`DenoiserMeasurement.rows` (one row per (width, P, seed, step,
        quantity[, t]) of every curve, one per member for ``tau_gen`` and ``tau_mem``, step None) and
        one row per P for ``theory/t_collapse`` (width, seed and step None). :meth:`from_rows` inverts it."""
        return self.measurement.rows() + [
            {"width": None, "P": p, "seed": None, "step": None, "quantity": "theory/t_collapse", "t": None,
             "value": finite_or_none(t_c)} for p, t_c in self.theory["t_collapse"].items()]

    @classmethod
    def from_rows(cls, config, rows) -> "DenoiserResult":
        """Rebuild a result from the tidy rows of :meth:`rows`, so that the summary, the fits and the
        figures of :mod:`diffsim.plot.nets` work on a results table.

        ``config`` is the :class:`DenoiserConfig` (or its dict, e.g. ``Results.cell_config(cell)``;
        unknown keys are dropped). ``rows`` are the dicts of :meth:`rows`, or the rows of one
        ``(cell, seed)`` unit of a sweep table (the member's seed as ``study_seed``); rows of several
        units raise ValueError. What the rows do not hold stays empty (:meth:`DenoiserMeasurement.from_rows`;
        ``t_collapse`` is None for a P without a ``theory/t_collapse`` row). Old quantity names are
        read as :data:`RENAMED_QUANTITIES`.
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
        t_collapse, curves = {p: None for p in config.n_train}, []
        for r in rows:
            name = RENAMED_QUANTITIES.get(r["quantity"], r["quantity"])
            if name == "theory/t_collapse":
                t_collapse[int(r["P"])] = r["value"]
            else:
                curves.append({**r, "quantity": name, "seed": r["study_seed"] if "study_seed" in r else r["seed"]})
        measurement = DenoiserMeasurement.from_rows(curves, widths=config.widths, n_train=config.n_train, dim=config.dim)
        return cls(config, measurement, {"t_collapse": t_collapse})

    def to_json(self) -> dict:
        """One JSON object: config, definitions, theory, reference distances, summary rows, fits and
        every member's curves."""
        m = self.measurement
        return {"config": config_json(self.config), "definitions": self.definitions,
                "theory": {"t_collapse": {str(k): v for k, v in self.theory["t_collapse"].items()}},
                "reference": m.reference, "seconds": m.seconds, "rows": self.summary(), "fits": self.fits(),
                "members": [r.to_json() for r in m.members]}


@register_study("denoiser", DenoiserConfig,
                description="trained denoisers vs empirical and true scores; tau_gen, tau_mem over P")
def run_denoiser(config: DenoiserConfig, key=None, *, progress=None) -> DenoiserResult:
    """Run the study (module docstring); ``key`` defaults to ``PRNGKey(config.seed)``.

    ``progress``: True for lines on stderr (training losses and one line per checkpoint
    evaluation, through :class:`diffsim.progress.Progress`), or a callable receiving those texts
    (the sweep runner's and the command's).

    Keys: of ``split(key, 6)``, the data model (HMM features) from the first; seed s's training set
    (the first P of one ``[P_max, N]`` draw, so the sets are nested in P) from ``fold_in(second, s)``;
    the measurement gets ``key`` (:func:`~diffsim.measure.denoiser.measure_denoiser`).
    """
    config.validate()
    report = progress if callable(progress) else (Progress("denoiser").within() if progress else None)
    key = jax.random.PRNGKey(config.seed) if key is None else key
    model_key, data_key = jax.random.split(key, 6)[:2]
    model = data.make(config.data, config.dim, sigma=config.sigma, mtilde=config.mtilde,
                      alpha_d=config.alpha_d, nonlinearity=config.nonlinearity, key=model_key)
    pairs = [(p, s) for p in config.n_train for s in range(config.n_seeds)]  # members: P-major, then seed
    per_seed = jnp.stack([model.sample(jax.random.fold_in(data_key, s), max(config.n_train))
                          for s in range(config.n_seeds)])
    train = jax.vmap(masked_training_set)(per_seed[jnp.asarray([s for _, s in pairs])],
                                          jnp.asarray([p for p, _ in pairs], jnp.int32))
    variance = float(np.mean(model.covariance_spectrum()))
    networks = [dataclasses.replace(config.model_config(w), data_variance=variance) for w in config.widths]
    measurement = measure_denoiser(key, train, data_model=model, networks=networks, training=config.train_config(),
                                   progress=report, **measure_options(measure_denoiser, config))
    spec = Spectrum.from_eigenvalues(np.maximum(model.covariance_spectrum(), 0.0))
    t_collapse = {p: float(collapse_time(math.log(p) / config.dim, spec)) for p in config.n_train}
    return DenoiserResult(config, measurement, {"t_collapse": t_collapse})
