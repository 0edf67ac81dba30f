"""The generator G(z, c) after Reed et al. 2016 (a conditional DCGAN generator)."""

from __future__ import annotations

import keras

from tf_t2i.models.conditions import (
    concat_mask,
    condition_inputs,
    noisy_mask,
    project_conditions,
)
from tf_t2i.models.config import ModelConfig
from tf_t2i.models.kernels import conv2d_transpose, noise_rotation
from tf_t2i.models.layers import batch_norm


def build_generator(config: ModelConfig, name: str = "generator") -> keras.Model:
    """Builds G: noise and conditions -> images.

    z and the projected condition are concatenated, mapped to a base x base x (ngf*8)
    block (base = 4, or 7 for 28x28), then up-sampled 2x per block (transposed conv 4x4,
    batch norm, ReLU) with halving width, ending in a tanh at the image size. With the mask
    condition, the mask is average-pooled and concatenated before the chosen blocks. With
    style_rotation, the image is then turned by an angle that z alone sets (NoiseRotation).

    Args:
        config: the model config.
        name: the model's name.

    Returns:
        A functional keras.Model taking a dict
            noise: float32 [B, z_dim] ~ N(0, 1)
            plus the condition keys (see conditions.condition_inputs)
        and returning images float32 [B, image_size, image_size, channels] in [-1, 1]
        (float32 even under a mixed precision policy).

    Example:
        >>> g = build_generator(ModelConfig(image_size=32, ngf=8, embedding_dim=16))
        >>> g({"noise": tf.zeros([2, 100]), "embeddings": tf.zeros([2, 16])}).shape
        TensorShape([2, 32, 32, 3])
    """
    noise = keras.Input((config.z_dim,), name="noise")
    inputs = {"noise": noise, **condition_inputs(config)}
    mask = noisy_mask(inputs, config, "g")
    mask_resolutions = config.generator_mask_resolutions()
    condition = project_conditions(inputs, config, "g")
    x = noise if condition is None else keras.layers.Concatenate(name="g_z_c")([noise, condition])
    # (B, z_dim + proj_dim * number of vector conditions)

    base, width = config.base_size, config.ngf * 8
    x = keras.layers.Dense(base * base * width, use_bias=False, name="g_fc")(x)
    x = keras.layers.Reshape((base, base, width), name="g_reshape")(x)
    x = batch_norm(config, name="g_fc_bn")(x)
    x = keras.layers.ReLU(name="g_fc_relu")(x)
    # (B, base, base, ngf*8): 4x4x512 at the defaults

    for block in range(config.num_blocks):
        if x.shape[1] in mask_resolutions:
            x = concat_mask(x, mask, config, f"g_mask{x.shape[1]}")
        if block == config.num_blocks - 1:
            x = conv2d_transpose(
                config.kernels, config.channels, 4, strides=2, padding="same", name="g_to_image"
            )(x)
            # (B, image_size, image_size, channels)
            break
        x = conv2d_transpose(
            config.kernels,
            width // 2 ** (block + 1),
            4,
            strides=2,
            padding="same",
            use_bias=False,
            name=f"g_up{block}",
        )(x)
        x = batch_norm(config, name=f"g_up{block}_bn")(x)
        x = keras.layers.ReLU(name=f"g_up{block}_relu")(x)
        # (B, base * 2**(block+1), same, ngf*8 / 2**(block+1)): 8x8x256, 16x16x128, 32x32x64

    images = keras.layers.Activation("tanh", dtype="float32", name="g_tanh")(x)
    # (B, image_size, image_size, channels) float32 in [-1, 1]
    if config.style_rotation > 0:  # turned by an angle that z alone sets
        images = noise_rotation(
            config.kernels, config.style_rotation, dtype="float32", name="g_rotate"
        )([images, noise])
    return keras.Model(inputs, images, name=name)
