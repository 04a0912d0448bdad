"""Pieces shared by the hidden-manifold studies (rem, traps, generalization): the data models they
accept, their data checks and the training set with its theory spectrum."""

from __future__ import annotations

from typing import Literal, get_args

import jax

from diffsim import _validate
from diffsim.score import TrainingSet
from diffsim.specs import DataSpec, config_json
from diffsim.theory.spectrum import Spectrum

__all__ = ["LANDSCAPE_DATA", "LandscapeData", "validate_data", "build", "config_json"]

LandscapeData = Literal["gaussian", "hmm"]
"""Data models with a closed-form spectrum for the landscape studies: isotropic Gaussian or HMM."""
LANDSCAPE_DATA: tuple[LandscapeData, ...] = get_args(LandscapeData)


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

