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

from diffsim import _validate
from diffsim.measure.denoiser import DEFINITIONS, DenoiserMeasurement, DenoiserOptions, MemberCurves, measure_denoiser
from diffsim.nets.models import ModelConfig
from diffsim.nets.train import TrainConfig
from diffsim.observe import finite_or_none
from diffsim.progress import Progress
from diffsim.score import masked_training_set
from diffsim.specs import DataSpec, build, config_json, leaves, validate_parts
from diffsim.theory.collapse import collapse_time
from diffsim.theory.spectrum import Spectrum
from diffsim.studies._registry import register_study

__all__ = ["DEFINITIONS", "DenoiserConfig", "MemberCurves", "DenoiserResult", "run_denoiser"]


@dataclass(frozen=True)
class DenoiserConfig:
    """Parameters of the denoiser study (keyword options; :meth:`validate` checks them).

    The data, the grid (``n_train`` x ``widths`` x ``n_seeds``), the network and its training, and
    the evaluation (:func:`~diffsim.measure.denoiser.measure_denoiser`'s options: ``eval_times``
    log-spaced t with ``eval_batch`` queries each, ``n_samples`` generated points on a
    ``sample_steps`` log grid from ``train.t_max`` to ``train.t_min``, ``mem_threshold`` and
    ``gen_tolerance`` of the tau definitions). The defaults (N = 8 mixture, width 128) show tau_mem
    growing about linearly over P = 4..32 in ~2 CPU-minutes.

    Attributes:
        data: data model (gaussian, mixture or hmm), N and its parameters (the training-set sizes
            are n_train, not data.alpha or data.n_train).
        n_train: training-set sizes P (increasing); all sizes of one width train together.
        widths: network widths, one ensemble each.
        n_seeds: seeds per P (training set, initialisation, minibatches), trained together.
        net: the network (its width is each of widths, its data_variance the data model's; parameterisation
            eps starts at s = 0, so tau_gen is measured from an uninformed start).
        train: DSM training (t_min, t_max: also the range of the generation's log grid).
        measure: the options of measure_denoiser (evaluation times and queries, generation, taus,
            checkpoint files).
        seed: random seed.
    """

    data: DataSpec = DataSpec(model="mixture", dim=8)
    n_train: tuple[int, ...] = (4, 8, 16, 32)
    widths: tuple[int, ...] = (128,)
    n_seeds: int = 1
    net: ModelConfig = ModelConfig(parameterisation="eps")
    train: TrainConfig = TrainConfig(steps=8000, batch_size=64, learning_rate=3e-3, steps_per_dispatch=25,
                                     n_checkpoints=16)
    measure: DenoiserOptions = DenoiserOptions()
    seed: int = 0

    def validate(self) -> "DenoiserConfig":
        validate_parts(self)
        d, opts = self.data, self.measure
        _validate.integer("data.dim", d.dim, minimum=1, maximum=100_000)
        if d.n_train is not None:
            raise _validate.ConfigError(f"data.n_train={d.n_train!r} is out of range: expected none (P is set by n_train)")
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
        for w in self.widths:
            try:
                self.model_config(w).validate(d.dim)
            except _validate.ConfigError as err:
                raise _validate.ConfigError(f"net.{err}") from None
        _validate.positive("measure.t_eval_max", opts.t_eval_max, upper=self.train.t_max)
        members = len(self.n_train) * self.n_seeds
        _validate.memory(
            "the padded training sets and evaluation batches",
            4.0 * members * d.dim * (max(self.n_train) * 3 + 4 * opts.eval_times * opts.eval_batch + 4 * opts.n_samples),
            knobs={"data.dim": d.dim, "n_train": max(self.n_train), "n_seeds": self.n_seeds,
                   "measure.n_samples": opts.n_samples, "measure.eval_batch": opts.eval_batch},
        )
        return self

    def model_config(self, width: int) -> ModelConfig:
        """The :class:`diffsim.nets.ModelConfig` of one width (``net`` at that width)."""
        return dataclasses.replace(self.net, width=width)


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

        ``config`` is the :class:`DenoiserConfig` (or its dict, nested as ``Results.cell_config(cell)``
        or by dotted paths; unknown paths are dropped). ``rows`` are the dicts of :meth:`rows`, or the rows of one
        ``(cell, seed)`` unit of a sweep table (the member's seed as ``study_seed``); rows of several
        units raise ValueError. What the rows do not hold stays empty (:meth:`DenoiserMeasurement.from_rows`;
        ``t_collapse`` is None for a P without a ``theory/t_collapse`` row).
        """
        if isinstance(config, dict):
            config = _config_from_dict(config)
        rows = list(rows)
        units = {(r.get("cell"), r.get("seed") if "study_seed" in r else None) for r in rows}
        if len(units) > 1:
            raise ValueError(f"rows of {len(units)} sweep units (cell, seed): pass the rows of one unit, "
                             "e.g. table.where(cell=c, seed=s).rows")
        t_collapse, curves = {p: None for p in config.n_train}, []
        for r in rows:
            if r["quantity"] == "theory/t_collapse":
                t_collapse[int(r["P"])] = r["value"]
            else:
                curves.append({**r, "seed": r["study_seed"] if "study_seed" in r else r["seed"]})
        measurement = DenoiserMeasurement.from_rows(curves, widths=config.widths, n_train=config.n_train,
                                                    dim=config.data.dim)
        return cls(config, measurement, {"t_collapse": t_collapse})

    def to_json(self) -> dict:
        """One JSON object: config, definitions, theory, reference distances, summary rows, fits and
        every member's curves."""
        m = self.measurement
        return {"config": config_json(self.config), "definitions": self.definitions,
                "theory": {"t_collapse": {str(k): v for k, v in self.theory["t_collapse"].items()}},
                "reference": m.reference, "seconds": m.seconds, "rows": self.summary(), "fits": self.fits(),
                "members": [r.to_json() for r in m.members]}


def _config_from_dict(values: dict) -> DenoiserConfig:
    """The :class:`DenoiserConfig` of a nested dict (``dataclasses.asdict``, a results cell's config)
    or a ``{path: value}`` dict; lists as tuples, unknown paths dropped."""
    def paths(table: dict, prefix: str = "") -> dict:
        out: dict = {}
        for key, value in table.items():
            out.update(paths(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
        return out

    known = {leaf.path for leaf in leaves(DenoiserConfig)}
    return build(DenoiserConfig, {k: tuple(v) if isinstance(v, list) else v for k, v in paths(values).items() if k in known})


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
    model = config.data.make(model_key)
    pairs = [(p, s) for p in config.n_train for s in range(config.n_seeds)]  # members: P-major, then seed
    per_seed = jnp.stack([model.sample(jax.random.fold_in(data_key, s), max(config.n_train))
                          for s in range(config.n_seeds)])
    train = jax.vmap(masked_training_set)(per_seed[jnp.asarray([s for _, s in pairs])],
                                          jnp.asarray([p for p, _ in pairs], jnp.int32))
    variance = float(np.mean(model.covariance_spectrum()))
    networks = [dataclasses.replace(config.model_config(w), data_variance=variance) for w in config.widths]
    measurement = measure_denoiser(key, train, data_model=model, networks=networks, training=config.train,
                                   progress=report, **config.measure.as_kwargs())
    spec = Spectrum.from_eigenvalues(np.maximum(model.covariance_spectrum(), 0.0))
    t_collapse = {p: float(collapse_time(math.log(p) / config.data.dim, spec)) for p in config.n_train}
    return DenoiserResult(config, measurement, {"t_collapse": t_collapse})
