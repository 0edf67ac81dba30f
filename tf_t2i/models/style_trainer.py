"""StyleEncoderTrainer: fit() the style encoder of a trained ConditionalGAN."""

from __future__ import annotations

import keras

from tf_t2i.models.conditional_gan import ConditionalGAN
from tf_t2i.models.kernels import jit_compile


class StyleEncoderTrainer(keras.Model):
    """Runs ConditionalGAN.train_style_encoder_step under keras.Model.fit.

    The GAN's generator stays frozen; only `gan.style_encoder` learns (with
    `gan.s_optimizer`). Logs `s_loss`.

    Args:
        gan: a compiled ConditionalGAN built with `style_encoder=True`.
        **kwargs: passed to keras.Model.

    Example:
        >>> trainer = StyleEncoderTrainer(gan)
        >>> trainer.compile()
        >>> trainer.fit(make_dataset(data_dir, batch_size=64), epochs=1, steps_per_epoch=500)
    """

    def __init__(self, gan: ConditionalGAN, **kwargs):
        super().__init__(**kwargs)
        self.gan = gan
        self.built = True

    def compile(self, **kwargs):
        """Compiles without an optimizer of its own (it uses gan.s_optimizer)."""
        kwargs.setdefault("jit_compile", jit_compile(self.gan.model_config.kernels))
        super().compile(optimizer=None, **kwargs)

    @property
    def metrics(self):
        return [self.gan.s_loss_tracker]

    def train_step(self, batch):
        return self.gan.train_style_encoder_step(batch)
