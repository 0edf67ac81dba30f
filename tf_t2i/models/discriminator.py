"""The discriminator D(x, c) after Reed et al. 2016 (matching-aware when trained GAN-CLS)."""

from __future__ import annotations

import keras

from tf_t2i.models.conditions import (
    concat_mask,
    condition_inputs,
    noisy_mask,
    project_conditions,
)
from tf_t2i.models.config import ModelConfig
from tf_t2i.models.kernels import conv2d
from tf_t2i.models.layers import LeakyReLU, MinibatchStddev, batch_norm
from tf_t2i.models.spectral_norm import SpectralConv2D, SpectralDense


def conv_trunk(
    x: keras.KerasTensor,
    config: ModelConfig,
    prefix: str,
    mask: keras.KerasTensor | None = None,
    mask_resolutions: tuple[int, ...] = (),
    normalize: bool = True,
    spectral_norm: bool = False,
) -> keras.KerasTensor:
    """Strided 4x4 convs with leaky ReLU(0.2), batch norm after the first, to base x base.

    Shared by the discriminator (without batch norm) and the style encoder (with it).

    Args:
        x: images [B, image_size, image_size, channels].
        config: the model config (image_size, ndf).
        prefix: layer-name prefix.
        mask: optional mask [B, H, W, 1], concatenated before blocks at mask_resolutions.
        mask_resolutions: input resolutions of the blocks that get the mask.
        normalize: batch norm after every conv but the first.
        spectral_norm: spectrally normalised convs (D with model.spectral_norm).

    Returns:
        [B, base, base, ndf*8]: 4x4x512 at the defaults.
    """
    top = config.ndf * 8
    for block in range(config.num_blocks):
        if mask is not None and x.shape[1] in mask_resolutions:
            x = concat_mask(x, mask, config, f"{prefix}_mask{x.shape[1]}")
        width = top // 2 ** (config.num_blocks - 1 - block)
        x = conv2d(
            config.kernels,
            width,
            4,
            strides=2,
            padding="same",
            use_bias=block == 0,
            spectral_norm=spectral_norm,
            name=f"{prefix}_down{block}",
        )(x)
        if normalize and block > 0:
            x = batch_norm(config, name=f"{prefix}_down{block}_bn")(x)
        # the gradient from the output: grappler can then fuse the conv, bias and activation
        x = LeakyReLU(0.2, name=f"{prefix}_down{block}_lrelu")(x)
        # (B, image_size / 2**(block+1), same, width): 32x32x64, 16x16x128, 8x8x256, 4x4x512
    return x


def build_discriminator(config: ModelConfig) -> keras.Model:
    """Builds D: (image, conditions) -> one logit, as a trunk and a head.

    The trunk sees only the image (and the mask): strided convs to base x base x (ndf*8),
    with the pooled mask concatenated where asked and, with model.minibatch_stddev, the
    batch's feature spread as one more channel. The head tiles the projected condition
    over that grid, concatenates it, then a 1x1 conv and leaky ReLU, and a
    final base x base conv to a single logit; with model.projection it adds the projection
    term. The split lets train_step run the trunk once on the real images for both the
    right and the wrong condition (GAN-CLS).

    Args:
        config: the model config.

    Returns:
        A functional keras.Model taking a dict
            images: float32 [B, image_size, image_size, channels] in [-1, 1]
            plus the condition keys (see conditions.condition_inputs)
        and returning logits float32 [B, 1] (float32 even under mixed precision). Its
        layers "d_trunk" and "d_head" are the two halves (see build_trunk, build_head).
    """
    size = config.image_size
    inputs = {
        "images": keras.Input((size, size, config.channels), name="images"),
        **condition_inputs(config),
    }
    trunk = build_trunk(config)
    head = build_head(config, trunk.output.shape[-1])
    features = trunk({k: inputs[k] for k in trunk.input})
    logits = head({"features": features, **{k: inputs[k] for k in head.input if k in inputs}})
    return keras.Model(inputs, logits, name="discriminator")


def build_classifier(config: ModelConfig, trunk: keras.Model) -> keras.Model:
    """TAC-GAN's auxiliary classifier: D's trunk features -> class logits.

    Args:
        config: the model config (num_classes >= 1).
        trunk: D's trunk, whose output shape the classifier takes.

    Returns:
        A keras.Model: features [B, base, base, F] -> logits float32 [B, num_classes].
    """
    features = keras.Input(trunk.output.shape[1:], name="features")
    x = keras.layers.GlobalAveragePooling2D(name="d_aux_pool")(features)
    # (B, F)
    logits = keras.layers.Dense(config.num_classes, dtype="float32", name="d_aux_logits")(x)
    # (B, num_classes) float32
    return keras.Model(features, logits, name="d_classifier")


def build_trunk(config: ModelConfig) -> keras.Model:
    """D's image path: {"images"[, "masks"]} -> features [B, base, base, F].

    F is ndf*8, plus one channel for a mask at base x base and one for the minibatch spread.
    """
    size = config.image_size
    images = keras.Input((size, size, config.channels), name="images")
    inputs = {
        "images": images,
        **{k: v for k, v in condition_inputs(config).items() if k == "masks"},
    }
    mask = noisy_mask(inputs, config, "d")
    mask_resolutions = tuple(config.discriminator_mask_resolutions())

    # No batch norm in D: with it, D separated fakes within ~100 steps (D(fake) ~0.02) and G
    # collapsed to one caption-independent image on the shapes data; without it D(fake) stays
    # ~0.2-0.4 and the default job's samples follow the captions' colours and backgrounds.
    x = conv_trunk(
        images,
        config,
        "d",
        mask,
        mask_resolutions,
        normalize=False,
        spectral_norm=config.spectral_norm,
    )
    # (B, base, base, ndf*8)
    if mask is not None and config.base_size in mask_resolutions:
        x = concat_mask(x, mask, config, f"d_mask{config.base_size}")
        # (B, base, base, ndf*8 + 1)
    if config.minibatch_stddev:
        x = MinibatchStddev(name="d_minibatch_stddev")(x)
        # (B, base, base, trunk width): the spread is the last channel
    return keras.Model(inputs, x, name="d_trunk")


def projection_term(
    features: keras.KerasTensor, condition: keras.KerasTensor, spectral_norm: bool = False
) -> keras.KerasTensor:
    """Miyato and Koyama's projection term <V phi(c), mean_xy features(x)>.

    The inner product of the image's pooled features with a linear map of the projected
    condition scores the match directly, where the concatenation has to learn it through
    the 1x1 conv; with it, D's verdict on a caption's colour or shape is one dot product.

    Args:
        features: the trunk's output [B, base, base, trunk width].
        condition: the head's projected conditions phi(c) [B, proj_dim * conditions].
        spectral_norm: V spectrally normalised (model.spectral_norm).

    Returns:
        float32 [B, 1], added to the head's logit.

    Reference:
        Miyato and Koyama, "cGANs with Projection Discriminator", ICLR 2018.
    """
    pooled = keras.layers.GlobalAveragePooling2D(name="d_pool")(features)
    # (B, trunk width)
    dense = SpectralDense if spectral_norm else keras.layers.Dense
    embedded = dense(pooled.shape[-1], use_bias=False, name="d_projection")(condition)
    # (B, trunk width)
    return keras.layers.Dot(axes=1, dtype="float32", name="d_projection_dot")([pooled, embedded])


def build_head(config: ModelConfig, trunk_width: int) -> keras.Model:
    """D's matching head: {"features", vector condition keys} -> logits float32 [B, 1].

    Args:
        config: the model config.
        trunk_width: channels of the trunk's features (build_trunk's output).
    """
    base = config.base_size
    mask_at_base = base in config.discriminator_mask_resolutions()
    features = keras.Input((base, base, trunk_width), name="features")
    conditions = {k: v for k, v in condition_inputs(config).items() if k != "masks"}
    x = features
    conv = SpectralConv2D if config.spectral_norm else keras.layers.Conv2D

    condition = project_conditions(conditions, config, "d")
    if condition is not None:
        tiled = keras.layers.Reshape((1, 1, condition.shape[-1]), name="d_c_reshape")(condition)
        tiled = keras.layers.UpSampling2D(base, name="d_c_tile")(tiled)
        x = keras.layers.Concatenate(name="d_x_c")([x, tiled])
        # (B, base, base, trunk width + proj_dim * number of vector conditions)
    if condition is not None or mask_at_base:
        x = conv(config.ndf * 8, 1, use_bias=False, name="d_joint")(x)
        x = keras.layers.LeakyReLU(0.2, name="d_joint_lrelu")(x)
        # (B, base, base, ndf*8)

    x = conv(1, base, padding="valid", name="d_logit")(x)
    # (B, 1, 1, 1)
    logits = keras.layers.Flatten(dtype="float32", name="d_logits")(x)
    # (B, 1) float32
    if config.projection and condition is not None:
        logits = keras.layers.Add(dtype="float32", name="d_logits_projected")(
            [logits, projection_term(features, condition, config.spectral_norm)]
        )
    return keras.Model({"features": features, **conditions}, logits, name="d_head")
