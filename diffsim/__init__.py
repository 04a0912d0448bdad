"""diffsim: the statistical physics of memorization in diffusion models, in JAX.

The flat namespace a researcher starts from::

    import diffsim as ds
    train = ds.TrainingSet.from_points(points)            # any [P, N] array
    res = ds.measure_collapse(jax.random.key(0), train, n_trajectories=512)
    res.estimates["clones"]                               # Estimate(value=..., stderr=...)
    ds.theory.collapse_time(res.load, ds.theory.Spectrum.from_points(points))

Submodules: :mod:`diffsim.process` (forward process and clocks), :mod:`diffsim.data` (data
models), :mod:`diffsim.score` (streamed empirical score), :mod:`diffsim.sample` (the backward
sampling driver), :mod:`diffsim.solvers` (its solvers: ``ds.sample(key, drift, x, times,
solver=ds.Heun())``), :mod:`diffsim.observe` (estimators), :mod:`diffsim.measure` (measurements on
any training set), :mod:`diffsim.theory` (closed forms), :mod:`diffsim.studies` (config -> table).
"""

from diffsim._version import __version__

from diffsim import data, measure, observe, process, solvers, theory
from diffsim._protocols import DataModel, Drift, StudyConfig, StudyResult
from diffsim._validate import ConfigError
from diffsim.data import GaussianMixture, GaussianSpectrum, HiddenManifold, IsotropicGaussian, TwoClusterMixture
from diffsim.measure import (
    CollapseMeasurement,
    CollapseQueriesMeasurement,
    DenoiserMeasurement,
    GeneralizationMeasurement,
    MitigationMeasurement,
    NetSwapMeasurement,
    RemMeasurement,
    SpeciationMeasurement,
    TrapsMeasurement,
    measure_collapse,
    measure_collapse_queries,
    measure_denoiser,
    measure_generalization,
    measure_geometry,
    measure_guidance,
    measure_linearity,
    measure_loss_gap,
    measure_memorization,
    measure_mitigation,
    measure_net_swap,
    measure_pruning,
    measure_rem,
    measure_size,
    measure_speciation,
    measure_traps,
    window_swap,
)
from diffsim.observe import Estimate, memorization_fraction, memorized
from diffsim.process import sigma_from_t, t_from_sigma, time_grid
from diffsim.results import Results, load_results
from diffsim.sample import Trajectories, sample
from diffsim.solvers import DDIM, SOLVERS, EulerMaruyama, Heun, Solver, solver
from diffsim.score import (
    EmpiricalScore,
    TrainingSet,
    empirical_denoiser,
    empirical_log_density,
    empirical_score,
    posterior,
)

__all__ = [
    "__version__",
    "ConfigError",
    # modules
    "data", "measure", "observe", "process", "solvers", "theory",
    # contracts
    "DataModel", "Drift", "StudyConfig", "StudyResult",
    # data models
    "IsotropicGaussian", "GaussianSpectrum", "TwoClusterMixture", "GaussianMixture", "HiddenManifold",
    # score and sampling
    "TrainingSet", "EmpiricalScore", "posterior", "empirical_score", "empirical_denoiser", "empirical_log_density",
    "sample", "Trajectories", "Solver", "EulerMaruyama", "Heun", "DDIM", "SOLVERS", "solver",
    "time_grid", "sigma_from_t", "t_from_sigma",
    # measurements
    "Estimate", "measure_collapse", "CollapseMeasurement", "measure_speciation", "SpeciationMeasurement",
    "measure_rem", "RemMeasurement", "measure_traps", "TrapsMeasurement", "measure_generalization",
    "GeneralizationMeasurement", "measure_collapse_queries", "CollapseQueriesMeasurement", "measure_geometry",
    "measure_memorization", "window_swap", "measure_guidance", "measure_loss_gap", "measure_linearity",
    "measure_net_swap", "NetSwapMeasurement", "measure_mitigation", "MitigationMeasurement",
    "measure_denoiser", "DenoiserMeasurement",
    "measure_size", "measure_pruning",
    "memorized", "memorization_fraction",
    # result tables
    "load_results", "Results",
]
