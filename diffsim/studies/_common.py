"""Pieces shared by the studies: for the hidden-manifold studies (rem, traps, generalization) the
data models they accept, their data checks and the training set with its theory spectrum; for the
studies that pass on only some fields of a shared part (``net``, ``train``) the check that the rest
keep the study's defaults, and their paths."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

import jax

from diffsim import _validate
from diffsim.score import TrainingSet
from diffsim.specs import DataSpec, config_json
from diffsim.theory.spectrum import Spectrum

__all__ = ["LANDSCAPE_DATA", "LandscapeData", "LandscapeResult", "validate_data", "build", "config_json",
           "check_passed_on", "not_passed_on"]

LandscapeData = Literal["gaussian", "hmm"]
"""Data models with a closed-form spectrum for the landscape studies: isotropic Gaussian or HMM."""
LANDSCAPE_DATA: tuple[LandscapeData, ...] = get_args(LandscapeData)


@dataclass(frozen=True)
class LandscapeResult:
    """One point of a landscape study (rem, traps): its config, the measurement, and the theory with
    the ``N -> inf`` spectrum at ``alpha`` (``theory``) and with the draw's finite-N spectrum at
    ``log(P)/N`` (``theory_spectrum``)."""

    config: Any
    measurement: Any
    theory: dict
    theory_spectrum: dict

    @property
    def n(self) -> int:
        return self.config.data.dim

    @property
    def p(self) -> int:
        return self.measurement.n_points


def validate_data(spec: DataSpec, models: tuple[str, ...] = LANDSCAPE_DATA) -> None:
    """The checks a landscape study adds to :meth:`DataSpec.validate`: one of ``models``, unit
    variance and ``P`` from the load (the theory is at ``alpha`` for unit-variance data), N in [2, 1e5]."""
    _validate.choice("data.model", spec.model, models)
    if spec.sigma != 1.0:
        raise _validate.ConfigError(f"data.sigma={spec.sigma!r} is out of range: expected 1.0 (the theory is for unit variance)")
    if spec.n_train is not None:
        raise _validate.ConfigError(f"data.n_train={spec.n_train!r} is out of range: expected none (P is set by data.alpha)")
    _validate.integer("data.dim", spec.dim, minimum=2, maximum=100_000)


def build(spec: DataSpec, key):
    """``(model, train, spectrum, alpha_n)``: the data model (HMM features from ``fold_in(key, 0)``),
    a training set of ``P = round(exp(alpha N))`` points (``fold_in(key, 1)``), the exact finite-N
    covariance spectrum and the realised load ``alpha_n = log(P) / N``."""
    model = spec.make(jax.random.fold_in(key, 0))
    train = TrainingSet.from_points(model.sample(jax.random.fold_in(key, 1), spec.n_points))
    spectrum = Spectrum.from_eigenvalues(model.covariance_spectrum())
    return model, train, spectrum, spec.load


def _part_fields(config_type: type, part: str):
    """``(default part, its field names)`` of the part field ``part`` of a study config type."""
    default = next(f.default for f in dataclasses.fields(config_type) if f.name == part)
    assert dataclasses.is_dataclass(default), f"{config_type.__name__}.{part} is not a part"
    return default, [f.name for f in dataclasses.fields(default)]


def not_passed_on(config_type: type, passed_on: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The paths of the fields of the parts in ``passed_on`` (part -> the field names the study
    passes on) that the study does not pass on (``net.embed_dim``, ...): fixed at its defaults."""
    return tuple(f"{part}.{name}" for part, used in passed_on.items()
                 for name in _part_fields(config_type, part)[1] if name not in used)


def check_passed_on(config, passed_on: dict[str, tuple[str, ...]]) -> None:
    """Refuse a field of a part that the study does not pass on (:func:`not_passed_on`) set to
    another value than the study's default: it would be ignored."""
    for path in not_passed_on(type(config), passed_on):
        part, _, name = path.partition(".")
        value, default = getattr(getattr(config, part), name), getattr(_part_fields(type(config), part)[0], name)
        if value != default:
            raise _validate.ConfigError(f"{path}={value!r} is out of range: expected {default!r} (the study does not use it)")
