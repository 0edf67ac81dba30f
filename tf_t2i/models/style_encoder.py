"""The style encoder S(x) -> z of Reed et al. 2016, sec. 4.4."""

from __future__ import annotations

import keras

from tf_t2i.models.config import ModelConfig
from tf_t2i.models.discriminator import conv_trunk


def build_style_encoder(config: ModelConfig) -> keras.Model:
    """Builds S: image -> the noise z that G would need to draw it (its "style").

    The same strided conv trunk as D, then a dense layer to z_dim. It is trained after the
    GAN with G frozen, on ||z - S(G(z, c))||^2 (ConditionalGAN.train_style_encoder_step);
    style transfer is then G(S(x), c).

    Args:
        config: the model config (image_size, channels, ndf, z_dim).

    Returns:
        A functional keras.Model: images float32 [B, H, W, C] in [-1, 1] -> z float32 [B, z_dim].
    """
    size = config.image_size
    images = keras.Input((size, size, config.channels), name="images")
    x = conv_trunk(images, config, "s")
    # (B, base, base, ndf*8)
    x = keras.layers.Flatten(name="s_flatten")(x)
    z = keras.layers.Dense(config.z_dim, dtype="float32", name="s_z")(x)
    # (B, z_dim) float32
    return keras.Model(images, z, name="style_encoder")
