"""Measurements on any training set: ``measure_*(key, train, *, options) -> typed result``.

Every function takes a PRNG key and a :class:`~diffsim.score.TrainingSet` (built from any ``[P, N]``
array with ``TrainingSet.from_points``) and returns a frozen result whose estimates are
:class:`Estimate` ``(value, stderr)``. Theory comparisons are separate calls (:mod:`diffsim.theory`).
"""

from diffsim.measure.collapse import CollapseMeasurement, measure_collapse
from diffsim.measure.speciation import SpeciationMeasurement, measure_speciation
from diffsim.observe import Estimate

__all__ = [
    "Estimate",
    "CollapseMeasurement",
    "measure_collapse",
    "SpeciationMeasurement",
    "measure_speciation",
]
