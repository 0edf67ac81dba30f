"""Training the style encoder S of Reed et al. sec. 4.4, after the GAN, with G frozen.

`style_encoder_step` is one update; `StyleEncoderTrainer` runs it under keras.Model.fit.
`t2i fit` runs it in its own loop (ConditionalGAN.train_style_encoder_step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import tensorflow as tf

from tf_t2i import losses
from tf_t2i.errors import T2IError
from tf_t2i.models.conditions import right_conditions
from tf_t2i.models.kernels import jit_compile

if TYPE_CHECKING:
    from tf_t2i.models.conditional_gan import ConditionalGAN


def style_encoder_step(gan: ConditionalGAN, batch: dict) -> dict:
    """One update of S on ||z - S(G(z, c))||^2 (+ the reconstruction term) with G frozen.

    With `model.style_reconstruction_weight` w > 0, S also learns to redraw real images:
    + w * mean |G(S(x), c_x) - x|, so that S(x) carries a real image's style.

    Args:
        gan: a compiled ConditionalGAN with a style encoder and an s_optimizer.
        batch: the input pipeline's dict (the condition keys, `images`; optional `noise`).

    Returns:
        dict {"s_loss": the tracker's running mean}.
    """
    if gan.style_encoder is None:
        raise T2IError("model.style_encoder is off: there is no style encoder to train")
    noise = gan.sample_noise(batch)  # z
    # S inverts the generator that transfer_style draws with (G_ema when it is on).
    generator = gan.inference_generator
    conditions = right_conditions(gan.model_config, batch)
    fake = generator({"noise": noise, **conditions}, training=False)
    weights = {"style": 1.0, "reconstruction": gan.model_config.style_reconstruction_weight}
    with tf.GradientTape() as tape:
        terms = {"style": losses.style_encoder_loss(noise, gan.style_encoder(fake, training=True))}
        if weights["reconstruction"] > 0:  # G(S(x), c_x) should redraw the real x
            images = batch["images"]
            style = gan.style_encoder(images, training=True)
            redrawn = generator({"noise": style, **conditions}, training=False)
            terms["reconstruction"] = losses.reconstruction_loss(images, redrawn)
        per_example = losses.weighted_sum(terms, weights)
        scaled_loss = gan.s_optimizer.scale_loss(losses.global_mean(per_example))
    gan.apply_loss(tape, scaled_loss, gan.style_encoder.trainable_variables, gan.s_optimizer)
    gan.s_loss_tracker.update_state(tf.reduce_mean(per_example))
    return {"s_loss": gan.s_loss_tracker.result()}


class StyleEncoderTrainer(keras.Model):
    """Runs `style_encoder_step` under keras.Model.fit.

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
        return style_encoder_step(self.gan, batch)
