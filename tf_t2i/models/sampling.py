"""Drawing images from a generator: the body of ConditionalGAN.generate."""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_t2i.errors import T2IError
from tf_t2i.models.config import ModelConfig


def sample_noise(shape, truncation: float = 0.0, seed: int | None = None):
    """The noise a model draws for itself (model.truncation), in the graph.

    Args:
        shape: [N, Z] (a list or an int32 tensor).
        truncation: 0 = N(0, 1); s > 0 = N(0, 1) redrawn beyond +-2 (tf.random's
            truncated normal, config.TRUNCATION_BOUND), times s.
        seed: optional int making the noise deterministic.

    Returns:
        float32 [N, Z].
    """
    if not truncation:
        if seed is None:
            return tf.random.normal(shape)
        return tf.random.stateless_normal(shape, seed=[seed, 0])
    if seed is None:
        noise = tf.random.truncated_normal(shape)
    else:
        noise = tf.random.stateless_truncated_normal(shape, seed=[seed, 0])
    return truncation * noise


def draw(generator: keras.Model, config: ModelConfig, conditions, noise, seed, num_images):
    """G(z, conditions) in inference mode; see ConditionalGAN.generate for the arguments.

    Returns:
        float32 [N, H, W, C] in [-1, 1].
    """
    inputs = {}
    for key in config.condition_keys:
        if key not in conditions:
            raise T2IError(f"generate: condition '{key}' is required by this model")
        dtype = tf.int64 if key == "labels" else tf.float32
        inputs[key] = tf.convert_to_tensor(conditions[key], dtype)
    if noise is None:
        if inputs:
            count = tf.shape(next(iter(inputs.values())))[0]
        elif num_images is not None:
            count = num_images
        else:
            raise T2IError("generate: pass noise or num_images for an unconditional model")
        noise = sample_noise(tf.stack([count, config.z_dim]), config.truncation, seed)
    inputs["noise"] = tf.convert_to_tensor(noise, tf.float32)
    return tf.cast(generator(inputs, training=False), tf.float32)
