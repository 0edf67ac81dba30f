"""build_gan's optimizers and the configurable tricks (instance noise, LR decay)."""

import keras
import numpy as np
import tensorflow as tf
from conftest import make_batch, tiny_config

from tf_t2i.models.augment import add_instance_noise
from tf_t2i.models.build import build_gan


def test_optimizers_follow_the_config():
    config = tiny_config(g_lr=1e-3, d_lr=3e-4, beta_1=0.4, lr_decay_steps=10, lr_decay_rate=0.5)
    gan = build_gan(config)
    assert isinstance(gan.g_optimizer, keras.optimizers.Adam)
    assert gan.d_optimizer.beta_1 == 0.4
    schedule = gan.g_optimizer.learning_rate  # current value of the staircase decay
    np.testing.assert_allclose(float(schedule), 1e-3)
    gan.g_optimizer.iterations.assign(25)
    np.testing.assert_allclose(float(gan.g_optimizer.learning_rate), 1e-3 * 0.25, rtol=1e-6)
    np.testing.assert_allclose(float(gan.d_optimizer.learning_rate), 3e-4)
    assert gan.s_optimizer is None and gan.style_encoder is None


def test_instance_noise_decays_linearly_to_zero():
    config = tiny_config(instance_noise=0.5, instance_noise_decay_steps=4)
    gan = build_gan(config, seed=0)
    images = make_batch(config, batch_size=64)["images"]
    spreads = []
    for step in (0, 2, 4, 10):
        gan.step.assign(step)
        spreads.append(
            float(
                tf.math.reduce_std(
                    add_instance_noise(images, config, gan.step, gan.seed_generator) - images
                )
            )
        )
    np.testing.assert_allclose(spreads[:2], [0.5, 0.25], rtol=0.05)
    assert spreads[2:] == [0.0, 0.0]
