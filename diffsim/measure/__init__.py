"""Measurements on any training set: ``measure_*(key, train, *, options) -> typed result``.

Every function takes a PRNG key and a :class:`~diffsim.score.TrainingSet` (built from any ``[P, N]``
array with ``TrainingSet.from_points``) and returns a frozen result whose estimates are
:class:`Estimate` ``(value, stderr)``. Theory comparisons are separate calls (:mod:`diffsim.theory`).
"""

from diffsim.measure.collapse import CollapseMeasurement, measure_collapse
from diffsim.measure.collapse_queries import CollapseQueriesMeasurement, measure_collapse_queries
from diffsim.measure.denoiser import DenoiserMeasurement, MemberCurves, measure_denoiser
from diffsim.measure.generalization import GeneralizationMeasurement, measure_generalization
from diffsim.measure.geometry import (
    GeometryMeasurement,
    LinearityMeasurement,
    SwapMeasurement,
    WindowSwap,
    measure_geometry,
    measure_linearity,
    measure_memorization,
    swap_windows,
    window_swap,
)
from diffsim.measure.geometry_nets import (
    MitigationMeasurement,
    NetSwapMeasurement,
    SwapOutcome,
    calm_ends,
    measure_mitigation,
    measure_net_swap,
)
from diffsim.measure.guidance import GuidanceCell, GuidanceMeasurement, measure_guidance
from diffsim.measure.pruning import PruningMeasurement, measure_pruning
from diffsim.measure.rem import RemCurves, RemMeasurement, measure_rem
from diffsim.measure.separation import LossGap, measure_loss_gap
from diffsim.measure.separation_size import SizeMeasurement, measure_size
from diffsim.measure.speciation import SpeciationMeasurement, measure_speciation
from diffsim.measure.traps import TrapsMeasurement, measure_traps
from diffsim.observe import Estimate

__all__ = [
    "Estimate",
    "CollapseMeasurement",
    "measure_collapse",
    "CollapseQueriesMeasurement",
    "measure_collapse_queries",
    "DenoiserMeasurement",
    "MemberCurves",
    "measure_denoiser",
    "GeneralizationMeasurement",
    "measure_generalization",
    "GeometryMeasurement",
    "measure_geometry",
    "SwapMeasurement",
    "WindowSwap",
    "window_swap",
    "measure_memorization",
    "swap_windows",
    "NetSwapMeasurement",
    "SwapOutcome",
    "measure_net_swap",
    "calm_ends",
    "MitigationMeasurement",
    "measure_mitigation",
    "GuidanceCell",
    "GuidanceMeasurement",
    "measure_guidance",
    "RemCurves",
    "RemMeasurement",
    "measure_rem",
    "LossGap",
    "measure_loss_gap",
    "SizeMeasurement",
    "measure_size",
    "PruningMeasurement",
    "measure_pruning",
    "SpeciationMeasurement",
    "measure_speciation",
    "TrapsMeasurement",
    "measure_traps",
]
