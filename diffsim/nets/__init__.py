"""Small trained denoisers (flax.nnx) and their denoising-score-matching training (optax).

THEORY.md sections 10-11: a network trained on P points sits between the empirical score (which
minimises the training loss) and the true score; :mod:`diffsim.studies.denoiser` measures where.

Every network trains through one loop, :func:`fit` (any :class:`Objective`, any optax transform);
:func:`train` is its DSM ensemble front end, configured by :class:`TrainConfig`.
"""

from diffsim.nets.checkpoint import checkpoint_path, checkpoint_steps, load_checkpoint, save_checkpoint
from diffsim.nets.loop import FitResult, Objective, TrainState, fit, fit_steps
from diffsim.nets.models import (
    ARCHITECTURES,
    PARAMETERISATIONS,
    HeadMask,
    LearnedScore,
    ModelConfig,
    ResidualMLP,
    TransformerDenoiser,
    build_model,
    learned_score,
    time_embedding,
)
from diffsim.nets.train import (
    OPTIMIZERS,
    TIME_LAWS,
    WEIGHTINGS,
    TrainConfig,
    DSM,
    TrainResult,
    dsm_loss,
    evaluation_score,
    init_ensemble,
    make_optimizer,
    noise_prediction_error,
    optimizer,
    sample_times,
    train,
    train_steps,
)

__all__ = [
    "fit",
    "fit_steps",
    "FitResult",
    "Objective",
    "DSM",
    "optimizer",
    "make_optimizer",
    "OPTIMIZERS",
    "TIME_LAWS",
    "WEIGHTINGS",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "dsm_loss",
    "evaluation_score",
    "init_ensemble",
    "noise_prediction_error",
    "sample_times",
    "train",
    "train_steps",
    "checkpoint_path",
    "checkpoint_steps",
    "load_checkpoint",
    "save_checkpoint",
    "ARCHITECTURES",
    "PARAMETERISATIONS",
    "HeadMask",
    "LearnedScore",
    "ModelConfig",
    "ResidualMLP",
    "TransformerDenoiser",
    "build_model",
    "learned_score",
    "time_embedding",
]
