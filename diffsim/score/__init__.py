"""Score functions: the streamed empirical score, exact scores of data models, combinators."""

from diffsim.score.empirical import (
    Accumulator,
    EmpiricalScore,
    Kernel,
    Posterior,
    TrainingSet,
    default_chunk_size,
    empirical_denoiser,
    empirical_log_density,
    empirical_score,
    log_density_from_posterior,
    merge,
    nearest_two,
    posterior,
    posterior_dense,
    score_from_posterior,
)

__all__ = [
    "Accumulator",
    "EmpiricalScore",
    "Kernel",
    "Posterior",
    "TrainingSet",
    "default_chunk_size",
    "empirical_denoiser",
    "empirical_log_density",
    "empirical_score",
    "log_density_from_posterior",
    "merge",
    "nearest_two",
    "posterior",
    "posterior_dense",
    "score_from_posterior",
]
