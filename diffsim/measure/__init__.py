"""Measurements on any training set: ``measure_*(key, train, *, options) -> typed result``.

Every function takes a PRNG key and a :class:`~diffsim.score.TrainingSet` (built from any ``[P, N]``
array with ``TrainingSet.from_points``) and returns a frozen result whose estimates are
:class:`Estimate` ``(value, stderr)``. Theory comparisons are separate calls (:mod:`diffsim.theory`).
"""

from diffsim.measure._estimate import Estimate, bootstrap_estimate

__all__ = ["Estimate", "bootstrap_estimate"]
