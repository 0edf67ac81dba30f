"""The pair discriminator (model.pair_weight): what it sees, what it learns, what G gets."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import make_batch, tiny_config

from tf_t2i.models.conditional_gan import ConditionalGAN
from tf_t2i.models.config import ModelConfig


def _gan(config, d_lr, g_lr):
    gan = ConditionalGAN(config, seed=0)
    gan.compile(keras.optimizers.Adam(d_lr), keras.optimizers.Adam(g_lr))
    return gan


@pytest.mark.parametrize("pair_input", ["concat", "difference"])
def test_it_learns_real_pairs_from_gs_pairs_with_g_frozen(pair_input):
    config = tiny_config(conditions=["text"], pair_weight=1.0, pair_input=pair_input)
    gan = _gan(config, d_lr=2e-3, g_lr=0.0)
    batch = make_batch(config, batch_size=8)
    # real pairs: an image and its mirror; G's two images share nothing of the kind
    batch["pair_images"] = batch["images"][:, :, ::-1]
    generator_before = [v.numpy() for v in gan.generator.trainable_variables]
    step = tf.function(gan.train_step)
    for _ in range(40):
        logs = step(batch)
    noise = gan.sample_noise(batch)
    fake = gan.generator({"noise": noise, "embeddings": batch["embeddings"]})
    second = gan.generator({"noise": -noise, "embeddings": batch["embeddings"]})
    real_score = tf.sigmoid(gan._discriminate_pair(batch["images"], batch["pair_images"]))
    fake_score = tf.sigmoid(gan._discriminate_pair(fake, second))
    assert float(tf.reduce_min(real_score)) > float(tf.reduce_max(fake_score))
    # from ln 2 + ln 2 = 1.39 at the start (0.33 at best with the real label 0.9)
    assert float(logs["d_pair"]) < 1.0 and float(logs["g_pair"]) > 1.0
    for before, variable in zip(generator_before, gan.generator.trainable_variables, strict=True):
        np.testing.assert_array_equal(before, variable.numpy())


def test_g_learns_from_it_and_it_stays_out_of_gs_update():
    config = tiny_config(conditions=["text"], pair_weight=1.0)
    gan = _gan(config, d_lr=0.0, g_lr=1e-2)
    pair_before = [v.numpy() for v in gan.pair_discriminator.trainable_variables]
    batch = make_batch(config)
    # G's gradient from the pair term alone: nonzero in every G weight it reaches
    noise = gan.sample_noise(batch)
    with tf.GradientTape() as tape:
        fake = gan.generator({"noise": noise, "embeddings": batch["embeddings"]}, training=True)
        second = gan.generator({"noise": -noise, "embeddings": batch["embeddings"]}, training=True)
        term = -tf.reduce_mean(tf.math.log_sigmoid(gan._discriminate_pair(fake, second)))
    grads = tape.gradient(term, gan.generator.trainable_variables)
    variables = gan.generator.trainable_variables
    kernels = [g for g, v in zip(grads, variables, strict=True) if "kernel" in v.name]
    assert kernels and all(float(tf.reduce_max(tf.abs(g))) > 0 for g in kernels)
    gan.train_step(batch)
    for before, variable in zip(
        pair_before, gan.pair_discriminator.trainable_variables, strict=True
    ):
        np.testing.assert_array_equal(before, variable.numpy())
    assert gan.pair_discriminator.input.shape[-1] == 2 * config.channels


def test_weights_and_validation():
    d_weights, g_weights = tiny_config(conditions=["text"], pair_weight=0.5).loss_weights()
    assert d_weights["pair"] == g_weights["pair"] == 0.5
    d_weights, g_weights = tiny_config(conditions=["text"]).loss_weights()
    assert "pair" not in d_weights and "pair" not in g_weights
    assert ConditionalGAN(tiny_config(conditions=["text"])).pair_discriminator is None
    from tf_t2i.errors import T2IError

    with pytest.raises(T2IError, match="model.pair_weight: must be >= 0"):
        ModelConfig(pair_weight=-1.0).validate()
    with pytest.raises(T2IError, match="model.pair_input: 'sum' is not one of concat, difference"):
        ModelConfig(pair_input="sum").validate()
    difference = ConditionalGAN(tiny_config(pair_weight=1.0, pair_input="difference"))
    assert difference.pair_discriminator.input.shape[-1] == 3
    images = tf.random.uniform([2, 32, 32, 3], -1, 1)
    swapped = difference._discriminate_pair(tf.reverse(images, [0]), images)  # symmetric
    np.testing.assert_allclose(
        difference._discriminate_pair(images, tf.reverse(images, [0])), swapped, rtol=1e-5
    )
