"""The streamed empirical score and its posterior statistics.

Modules, each importing only those above it (``tests/test_imports.py`` checks there is no cycle):

    _accumulator   Accumulator, merge / merge_across (the associative online log-sum-exp), finalize
    _queries       input checks at the API edge, per-query logit coefficients
    _layout        TrainingSet, default_chunk_size, masked_training_set
    _xla, _fused   the two implementations of the pass: chunked scan, Pallas kernel
    empirical      posterior, EmpiricalScore, empirical_score / denoiser / log_density, nearest_two
    sharded        the same on a device mesh (shard_map over points and queries)
"""

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
from diffsim.score._layout import masked_training_set

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
    "masked_training_set",
    "merge",
    "nearest_two",
    "posterior",
    "posterior_dense",
    "score_from_posterior",
]
