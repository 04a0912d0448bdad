"""Pieces shared by the hidden-manifold studies (rem, traps, generalization): data-model choice,
training sets, theory spectra, JSON of frozen configs."""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import asdict
from typing import Callable, Literal, get_args

import jax

from diffsim import _validate, data
from diffsim.data.hmm import NONLINEARITIES
from diffsim.score import TrainingSet
from diffsim.theory.spectrum import Spectrum

__all__ = ["LANDSCAPE_DATA", "LandscapeData", "validate_data", "build", "config_json", "measure_options", "n_points"]

LandscapeData = Literal["gaussian", "hmm"]
"""Data models with a closed-form spectrum for the landscape studies: isotropic Gaussian or HMM."""
LANDSCAPE_DATA: tuple[LandscapeData, ...] = get_args(LandscapeData)


def validate_data(name: str, alpha_d: float, nonlinearity: str) -> None:
    _validate.choice("data", name, LANDSCAPE_DATA)
    _validate.positive("alpha_d", alpha_d, upper=1.0)
    _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)


n_points = data.points_at_load


def build(name: str, n: int, alpha: float, alpha_d: float, nonlinearity: str, key):
    """``(model, train, spectrum, alpha_n)`` for dimension N: the data model (HMM features from
    ``fold_in(key, 0)``), a training set of ``P = round(exp(alpha N))`` points (``fold_in(key, 1)``),
    the exact finite-N covariance spectrum and the realised load ``alpha_n = log(P) / N``."""
    model = data.make(name, n, alpha_d=alpha_d, nonlinearity=nonlinearity, key=jax.random.fold_in(key, 0))
    p = n_points(alpha, n)
    train = TrainingSet.from_points(model.sample(jax.random.fold_in(key, 1), p))
    spectrum = Spectrum.from_eigenvalues(model.covariance_spectrum())
    return model, train, spectrum, math.log(p) / n


def config_json(config) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def measure_options(measure: Callable, config) -> dict:
    """The keyword arguments of ``measure`` that ``config`` sets: its fields named like them."""
    fields = {f.name for f in dataclasses.fields(config)}
    return {name: getattr(config, name) for name in inspect.signature(measure).parameters if name in fields}
