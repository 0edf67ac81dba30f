"""Differentiable augmentation of the images D sees (Zhao et al. 2020, "DiffAugment").

A discriminator trained for hundreds of epochs on a small data set (the 1,438 training
digits) memorises its real images, and G then learns from a D that no longer
generalises. DiffAugment applies the same random, differentiable transforms to every
image D sees, real and generated, while training: D cannot memorise the exact real
images, and G's gradient flows back through the transform. Inference is untouched.

Policies, each applied to every image with its own random draw:
  color        brightness +U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)
  translation  shift by up to 1/8 of the side in each direction, the border filled with
               the background value -1 (black in [-1, 1])
  cutout       one square of half the side, at a random place, set to 0

Images in and out: float32 [B, H, W, C] in about [-1, 1] (color can leave the range).

Reference:
    Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_t2i.models.config import AUGMENT_POLICIES as POLICIES

TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _uniform(shape, low, high, seed_generator):
    return keras.random.uniform(shape, low, high, seed=seed_generator)


def color(images, seed_generator):
    """Random brightness, saturation and contrast per image (saturation only for RGB)."""
    batch = tf.shape(images)[0]
    images = images + _uniform([batch, 1, 1, 1], -0.5, 0.5, seed_generator)
    if images.shape[-1] > 1:
        grey = tf.reduce_mean(images, axis=-1, keepdims=True)
        images = grey + (images - grey) * _uniform([batch, 1, 1, 1], 0.0, 2.0, seed_generator)
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return mean + (images - mean) * _uniform([batch, 1, 1, 1], 0.5, 1.5, seed_generator)


def _shift_indices(size, shifts):
    """Source index of each output position after a shift, and whether it is inside.

    Args:
        size: the side (a Python int).
        shifts: int32 [B], the shift of each image (output i reads input i - shift).

    Returns:
        (indices int32 [B, size] clipped into range, inside bool [B, size]).
    """
    source = tf.range(size)[None, :] - shifts[:, None]
    inside = (source >= 0) & (source < size)
    return tf.clip_by_value(source, 0, size - 1), inside


def translation(images, seed_generator, ratio: float = TRANSLATION_RATIO):
    """Shifts each image by up to `ratio` of its side, filling the border with -1."""
    batch = tf.shape(images)[0]
    rows, cols = images.shape[1], images.shape[2]
    shifted = images
    masks = []
    for axis, size in ((1, rows), (2, cols)):
        limit = int(size * ratio + 0.5)
        shifts = keras.random.randint([batch], -limit, limit + 1, seed=seed_generator)
        indices, inside = _shift_indices(size, tf.cast(shifts, tf.int32))
        shifted = tf.gather(shifted, indices, axis=axis, batch_dims=1)
        shape = [-1, size, 1, 1] if axis == 1 else [-1, 1, size, 1]
        masks.append(tf.reshape(inside, shape))
    inside = tf.cast(masks[0] & masks[1], images.dtype)  # [B, H, W, 1]
    return shifted * inside - (1.0 - inside)


def cutout(images, seed_generator, ratio: float = CUTOUT_RATIO):
    """Sets one square of `ratio` of the side, at a random place per image, to 0."""
    batch = tf.shape(images)[0]
    rows, cols = images.shape[1], images.shape[2]
    keep = []
    for size, shape in ((rows, [-1, rows, 1, 1]), (cols, [-1, 1, cols, 1])):
        width = int(size * ratio + 0.5)
        # the square's first index, from -width/2 so that it can overhang the border
        start = keras.random.randint([batch], -(width // 2), size - width // 2, seed=seed_generator)
        position = tf.range(size)[None, :] - tf.cast(start, tf.int32)[:, None]
        keep.append(tf.reshape((position < 0) | (position >= width), shape))
    return images * tf.cast(keep[0] | keep[1], images.dtype)


_TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(images, policies, seed_generator):
    """Applies each policy in turn (in the order of POLICIES) to a batch of images.

    Args:
        images: float32 [B, H, W, C], H and W known.
        policies: names from POLICIES; empty = identity.
        seed_generator: a keras.random.SeedGenerator.

    Returns:
        float32 [B, H, W, C], differentiable with respect to `images`.
    """
    for name in POLICIES:
        if name in policies:
            images = _TRANSFORMS[name](images, seed_generator)
    return images


def add_instance_noise(images, config, step, seed_generator):
    """Adds N(0, sigma^2) to D's inputs (model.instance_noise), decaying linearly to 0 over
    model.instance_noise_decay_steps when that is set.

    Args:
        images: float32 [B, H, W, C], what D is about to see.
        config: the ModelConfig.
        step: int tensor, the training step.
        seed_generator: keras.random.SeedGenerator.

    Returns:
        The images, noised while the noise is on.
    """
    if config.instance_noise <= 0:
        return images
    sigma = tf.constant(config.instance_noise, tf.float32)
    if config.instance_noise_decay_steps > 0:
        progress = tf.cast(step, tf.float32) / float(config.instance_noise_decay_steps)
        sigma *= tf.maximum(0.0, 1.0 - progress)
    noise = keras.random.normal(tf.shape(images), seed=seed_generator)
    return images + sigma * noise
