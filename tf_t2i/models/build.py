"""build_gan: a ConditionalGAN with its optimizers, ready for fit()."""

from __future__ import annotations

import keras

from tf_t2i.models.conditional_gan import ConditionalGAN
from tf_t2i.models.config import ModelConfig
from tf_t2i.models.kernels import adam


def _adam(learning_rate: float, config: ModelConfig, name: str) -> keras.optimizers.Optimizer:
    """Adam (FusedAdam with the CPU kernels) with Reed's beta_1, the optional step decay, and loss scaling under float16."""
    if config.lr_decay_steps > 0:
        # Reed halves the learning rate at fixed intervals: a staircase exponential decay.
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, config.lr_decay_steps, config.lr_decay_rate, staircase=True
        )
    optimizer = adam(config.kernels, learning_rate, beta_1=config.beta_1, name=name)
    if keras.mixed_precision.dtype_policy().name == "mixed_float16":
        # One loss scale per optimizer: D's and G's gradients overflow independently.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
    return optimizer


def build_gan(config: ModelConfig, seed: int | None = None) -> ConditionalGAN:
    """Builds and compiles a ConditionalGAN.

    Set the mixed precision policy first and call this inside `strategy.scope()` when
    distributing: the networks and optimizer variables are created here.

    Args:
        config: the model config.
        seed: optional seed of the noise sampled in train_step.

    Returns:
        A built, compiled ConditionalGAN: Adam optimizers (g_lr, d_lr, s_lr, beta_1), each
        wrapped in a LossScaleOptimizer under mixed_float16.
    """
    gan = ConditionalGAN(config, seed=seed)
    gan.compile(
        d_optimizer=_adam(config.d_lr, config, "d_adam"),
        g_optimizer=_adam(config.g_lr, config, "g_adam"),
        s_optimizer=_adam(config.s_lr, config, "s_adam") if config.style_encoder else None,
    )
    return gan
