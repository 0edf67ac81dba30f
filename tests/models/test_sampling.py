"""The noise a model draws for itself: N(0, 1), or truncated at +-2 and scaled (model.truncation)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import EMBEDDING_DIM, tiny_config

from tf_t2i.models.build import build_gan
from tf_t2i.models.config import TRUNCATION_BOUND
from tf_t2i.models.sampling import draw, sample_noise


class NoiseOut:
    """A stand-in generator whose output is its noise input, so draw() shows what it drew."""

    def __call__(self, inputs, training=False):
        return inputs["noise"]


@pytest.mark.parametrize("seed", [None, 3])
def test_truncated_noise_stays_within_the_bound_times_the_scale(seed):
    plain = sample_noise([500, 8], 0.0, seed).numpy()
    narrow = sample_noise([500, 8], 0.5, seed).numpy()
    assert np.abs(plain).max() > TRUNCATION_BOUND  # 4000 N(0, 1) draws: some beyond 2
    assert np.abs(narrow).max() <= TRUNCATION_BOUND * 0.5
    assert np.abs(narrow).max() > 0.5  # scaled truncated N(0, 1), not shrunk further
    assert narrow.std() == pytest.approx(0.5 * 0.88, rel=0.05)  # truncnorm(-2, 2) std: 0.88


def test_seeded_noise_is_reproducible_and_differs_from_plain():
    np.testing.assert_array_equal(sample_noise([4, 8], 0.7, 1), sample_noise([4, 8], 0.7, 1))
    expected = 0.7 * tf.random.stateless_truncated_normal([4, 8], seed=[1, 0])
    np.testing.assert_array_equal(sample_noise([4, 8], 0.7, 1), expected)
    assert not np.allclose(sample_noise([4, 8], 0.7, 1), sample_noise([4, 8], 0.0, 1))


@pytest.mark.parametrize("seed", [None, 5])
def test_draw_samples_at_the_model_truncation(seed):
    conditions = {"embeddings": np.zeros([500, EMBEDDING_DIM], np.float32)}
    plain = draw(NoiseOut(), tiny_config(), conditions, None, seed, None).numpy()
    narrow = draw(NoiseOut(), tiny_config(truncation=0.3), conditions, None, seed, None).numpy()
    assert plain.shape == narrow.shape == (500, 8)
    assert np.abs(plain).max() > TRUNCATION_BOUND
    assert 0.3 < np.abs(narrow).max() <= TRUNCATION_BOUND * 0.3
    given = np.full([500, 8], 5.0, np.float32)  # explicit noise is used as it is
    np.testing.assert_array_equal(
        draw(NoiseOut(), tiny_config(truncation=0.3), conditions, given, seed, None), given
    )


def test_generate_uses_the_model_truncation_and_training_does_not():
    config = tiny_config(conditions=["text"], truncation=0.5)
    gan = build_gan(config, seed=0)
    conditions = {"embeddings": np.ones([3, EMBEDDING_DIM], np.float32)}
    truncated = 0.5 * tf.random.stateless_truncated_normal([3, 8], seed=[1, 0])
    plain = tf.random.stateless_normal([3, 8], seed=[1, 0])
    images = gan.generate(conditions, seed=1).numpy()
    np.testing.assert_array_equal(images, gan.generate(conditions, noise=truncated))
    assert not np.array_equal(images, gan.generate(conditions, noise=plain))
    gan.model_config = dataclasses.replace(config, truncation=0.0)
    np.testing.assert_array_equal(
        gan.generate(conditions, seed=1), gan.generate(conditions, noise=plain)
    )


def test_training_noise_stays_standard_normal():
    gan = build_gan(tiny_config(conditions=["text"], truncation=0.1), seed=0)
    noise = gan.sample_noise({"images": tf.zeros([500, 32, 32, 3])}).numpy()  # train_step's z
    assert np.abs(noise).max() > TRUNCATION_BOUND and noise.std() == pytest.approx(1.0, rel=0.1)
