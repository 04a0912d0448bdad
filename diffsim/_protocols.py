"""The contracts the package is built on, as ``typing.Protocol``s (structural: any object with
these methods qualifies, no base class needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import jax
import numpy as np

__all__ = ["DataModel", "ExactDataModel", "Drift", "StudyConfig", "StudyResult", "StudyRun"]


@runtime_checkable
class DataModel(Protocol):
    """A data law: ``sample(key, n) -> [n, N]`` and the eigenvalues of its covariance ``[N]``.
    Models with a closed-form noised law also offer ``score(x, t)`` and ``log_density(x, t)``."""

    def sample(self, key: jax.Array, n: int) -> jax.Array: ...

    def covariance_spectrum(self) -> np.ndarray: ...


@runtime_checkable
class ExactDataModel(DataModel, Protocol):
    """A data law whose noised law has a closed-form score ``score(x [B, N], t) -> [B, N]``."""

    def score(self, x: jax.Array, t: Any) -> jax.Array: ...


@runtime_checkable
class Drift(Protocol):
    """A score for the backward samplers: ``(x [B, N], t scalar or [B]) -> score [B, N]``, or
    ``-> (score, stats)`` with a dict of per-query observables of the same pass."""

    def __call__(self, x: jax.Array, t: jax.Array | float) -> Any: ...


@runtime_checkable
class StudyConfig(Protocol):
    """A frozen study config (one point of a sweep): ``validate()`` raises ConfigError naming the
    parameter and its allowed range, before any heavy work, and returns the config."""

    def validate(self) -> "StudyConfig": ...


@runtime_checkable
class StudyResult(Protocol):
    """A study's result: a tidy table (``rows()``, flat dicts) and one JSON object (``to_json()``)."""

    def rows(self) -> list[dict]: ...

    def to_json(self) -> dict: ...


ConfigT = TypeVar("ConfigT", bound=StudyConfig, contravariant=True)
ResultT = TypeVar("ResultT", bound=StudyResult, covariant=True)


class StudyRun(Protocol[ConfigT, ResultT]):
    """A study's entry point: ``run(config, key=None, *, progress=None) -> result``. ``key`` defaults to
    one derived from the config's seed; ``progress``, a callable taking one text, receives the
    study's own progress (per dimension, per checkpoint...)."""

    def __call__(self, config: ConfigT, key: jax.Array | None = None, *,
                 progress: Callable[[str], Any] | None = None) -> ResultT: ...
