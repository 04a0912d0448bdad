"""The typed result of every measurement: a value with its standard error."""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import numpy as np

__all__ = ["Estimate", "bootstrap_estimate"]


class Estimate(NamedTuple):
    """A measured number and its standard error (bootstrap or Monte-Carlo; NaN when unknown).

    A ``NamedTuple``: ``value, stderr = estimate`` unpacks it, and ``Estimate(*pair)`` builds one.
    """

    value: float
    stderr: float

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.stderr:.2g}"

    def within(self, target: float, n_sigma: float = 3.0, floor: float = 0.0) -> bool:
        """True when ``|value - target| <= n_sigma * stderr + floor``."""
        return bool(abs(self.value - target) <= n_sigma * self.stderr + floor)

    @classmethod
    def of_mean(cls, samples) -> "Estimate":
        """Mean of iid samples with its standard error ``std / sqrt(n)`` (NaN-free samples only)."""
        x = np.asarray(samples).ravel()
        x = x[np.isfinite(x)]  # kept in its own dtype: a float32 mean is reproduced bit for bit
        if x.size == 0:
            return cls(float("nan"), float("nan"))
        err = float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
        return cls(float(np.mean(x)), err)


def bootstrap_estimate(key, statistic: Callable, *arrays, axis: int = -1, n_boot: int = 200) -> Estimate:
    """:class:`Estimate` of ``statistic(*arrays)`` with the bootstrap standard error of resampling
    ``arrays`` jointly along ``axis`` (trajectories, queries, clone pairs). ``statistic`` must be a
    JAX function (it is vmapped over the resamples); NaN resamples are left out of the error."""
    size = arrays[0].shape[axis]
    idx = jax.random.randint(key, (n_boot, size), 0, size)

    def one(i):
        return statistic(*(jax.numpy.take(a, i, axis=axis) for a in arrays))

    reps = np.asarray(jax.vmap(one)(idx))
    value = float(statistic(*arrays))
    finite = reps[np.isfinite(reps)]
    stderr = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
    return Estimate(value, stderr)
