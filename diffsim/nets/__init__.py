"""Small trained denoisers (flax.nnx) and their denoising-score-matching training (optax).

THEORY.md sections 10-11: a network trained on P points sits between the empirical score (which
minimises the training loss) and the true score; :mod:`diffsim.studies.denoiser` measures where.
"""

from diffsim.nets.checkpoint import checkpoint_path, checkpoint_steps, load_checkpoint, save_checkpoint
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
    TrainResult,
    TrainState,
    dsm_loss,
    evaluation_score,
    init_ensemble,
    noise_prediction_error,
    sample_times,
    train,
    train_steps,
)

__all__ = [
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
