"""Random-energy-model statistics of the posterior weights on any training set (THEORY.md section 5).

At each time ``t`` queries are posed to the streamed posterior of the training set:

* ``fresh``: ``x = m_t a_0 + sqrt(Delta_t) xi`` with ``a_0`` a held-out data point (given as an array or
  a sampler; skipped when none is given);
* ``train``: ``x = m_t a_mu + sqrt(Delta_t) xi``, ``mu`` uniform (law ``p_t^e``).

Per (kind, t): mean, standard error and deciles of ``Y2 = sum w^2``; mean max weight; mean total
entropy ``-sum w log w``; mean ``(1/N) log Z``, ``Z = sum_mu exp(-E_mu)``,
``E_mu = |x - m_t a_mu|^2 / (2 Delta_t)``. The predictions are :func:`diffsim.theory.rem.rem_theory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import jax
import numpy as np
from numpy.typing import ArrayLike

from diffsim import _validate
from diffsim.measure._queries import Fresh, fresh_queries, noised_training_queries, query_statistics
from diffsim.score import TrainingSet
from diffsim.specs import Options, options_of

__all__ = ["QUERY_KINDS", "RemCurves", "RemMeasurement", "RemOptions", "check_rem_options", "measure_rem"]

QUERY_KINDS = ("fresh", "train")


@dataclass(frozen=True)
class RemCurves:
    """Statistics of one query kind at ``times`` ``[T]``, each ``[T]``; ``y2_deciles`` ``[T, 9]``."""

    kind: str
    times: np.ndarray
    mean_y2: np.ndarray
    y2_stderr: np.ndarray
    y2_deciles: np.ndarray
    mean_max_weight: np.ndarray
    mean_entropy: np.ndarray
    mean_log_z: np.ndarray  # (1/N) log Z
    log_z_stderr: np.ndarray


@dataclass(frozen=True)
class RemMeasurement:
    """``curves``: ``{kind: RemCurves}`` for ``train`` and (with held-out points) ``fresh``."""

    n_points: int
    dim: int
    curves: dict


def _summaries(kind: str, times: np.ndarray, stats: dict, n_queries: int, dim: int) -> RemCurves:
    shape = (times.size, n_queries)
    y2 = np.asarray(stats["y2"], dtype=np.float64).reshape(shape)
    log_z = np.asarray(stats["log_z"], dtype=np.float64).reshape(shape) / dim
    return RemCurves(
        kind=kind, times=times,
        mean_y2=y2.mean(1),
        y2_stderr=y2.std(1, ddof=1) / math.sqrt(n_queries),
        y2_deciles=np.quantile(y2, np.linspace(0.1, 0.9, 9), axis=1).T,
        mean_max_weight=np.asarray(stats["max_weight"], dtype=np.float64).reshape(shape).mean(1),
        mean_entropy=np.asarray(stats["entropy"], dtype=np.float64).reshape(shape).mean(1),
        mean_log_z=log_z.mean(1),
        log_z_stderr=log_z.std(1, ddof=1) / math.sqrt(n_queries),
    )


def check_rem_options(*, times, n_queries) -> None:
    """Range checks of :func:`measure_rem`'s options (a :class:`~diffsim.ConfigError` naming the
    first bad one): a non-empty list of times in (0, 20], at least 8 queries (for the deciles)."""
    if len(times) == 0:
        raise _validate.ConfigError("times=() is out of range: expected a non-empty list")
    for t in times:
        _validate.positive("times", t, upper=20.0)
    _validate.integer("n_queries", n_queries, minimum=8)


def measure_rem(key: jax.Array, train: TrainingSet, *, times: ArrayLike, n_queries: int = 1024,
                fresh: Fresh | None = None, progress: Callable[[str], Any] | None = None) -> RemMeasurement:
    """REM statistics of ``n_queries`` queries per time and kind.

    Args:
        key: PRNG key; fresh queries use ``fold_in(key, 10)``, training queries ``fold_in(key, 11)``.
        train: the training set (``TrainingSet.from_points`` of any ``[P, N]`` array).
        times: times of the measurement (OU time t, in (0, 20]).
        n_queries: queries per time and kind, at least 8 (fresh points of the data model, and points noised from
            the training set).
        fresh: held-out points ``[M, N]`` (``M >= T * n_queries``), a sampler ``(key, n) -> [n, N]``,
            or ``None`` to measure the training queries only.
        progress: optional callable receiving ``"<kind> queries"`` after each kind.

    Returns:
        :class:`RemMeasurement` with one :class:`RemCurves` per kind measured.
    """
    check_rem_options(times=times, n_queries=n_queries)
    times = np.asarray(times, dtype=np.float64)
    curves = {}
    for i, kind in enumerate(QUERY_KINDS):
        if kind == "fresh" and fresh is None:
            continue
        qkey = jax.random.fold_in(key, 10 + i)
        if kind == "fresh":
            assert fresh is not None  # skipped above
            queries = fresh_queries(qkey, fresh, times, n_queries)
        else:
            queries = noised_training_queries(qkey, train, times, n_queries)
        curves[kind] = _summaries(kind, times, query_statistics(queries, train), n_queries, train.dim)
        if progress is not None:
            progress(f"{kind} queries")
    return RemMeasurement(train.n_points, train.dim, curves)


@options_of(measure_rem, exclude=("fresh", "progress"), check=check_rem_options,
            defaults={"times": (0.3, 0.45, 0.6, 0.75, 1.0, 1.4)})
class RemOptions(Options):
    """The options of :func:`measure_rem` as a config part (the times and the queries per time)."""
