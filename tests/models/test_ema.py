"""G_ema: the moving average of G's weights that generate() and export draw from."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_batch, tiny_config

from tf_t2i.errors import T2IError
from tf_t2i.models.build import build_gan


def _values(weights):
    return [w.numpy().copy() for w in weights]


def _assert_averaged(gan, ema_before, g_after, rate):
    """Every G_ema weight moved by `rate` of the way towards G's updated weight."""
    names = [w.path for w in gan.generator_ema.weights]
    for name, before, after, average in zip(
        names, ema_before, g_after, gan.generator_ema.weights, strict=True
    ):
        expected = before + rate * (after - before)
        np.testing.assert_allclose(average.numpy(), expected, rtol=1e-5, atol=1e-7, err_msg=name)


def test_ema_starts_at_g_and_follows_it_with_the_warm_up_rate():
    config = tiny_config(conditions=["text"], ema_decay=0.999)
    gan = build_gan(config, seed=0)
    for average, weight in zip(gan.generator_ema.weights, gan.generator.weights, strict=True):
        np.testing.assert_array_equal(average.numpy(), weight.numpy())
    step = tf.function(gan.train_step)
    batch = make_batch(config)
    for t in range(3):
        ema_before = _values(gan.generator_ema.weights)
        step(batch)
        # warm-up: d_t = min(0.999, (1 + t) / (10 + t)), rate = 1 - d_t
        _assert_averaged(gan, ema_before, _values(gan.generator.weights), 1 - (1 + t) / (10 + t))
    # trainable weights and batch-norm statistics alike now lag behind G
    lagging = [
        not np.allclose(a.numpy(), w.numpy())
        for a, w in zip(gan.generator_ema.weights, gan.generator.weights, strict=True)
    ]
    assert all(lagging)


def test_ema_uses_the_configured_decay_once_warmed_up():
    config = tiny_config(conditions=["text"], ema_decay=0.5)
    gan = build_gan(config, seed=0)
    gan.step.assign(100)  # (1 + t) / (10 + t) > 0.5: the configured decay applies
    ema_before = _values(gan.generator_ema.weights)
    gan.train_step(make_batch(config))
    _assert_averaged(gan, ema_before, _values(gan.generator.weights), 0.5)


def test_ema_moves_only_when_g_does():
    config = tiny_config(conditions=["text"], d_steps=2, ema_decay=0.9)
    gan = build_gan(config, seed=0)
    step = tf.function(gan.train_step)
    batch = make_batch(config)
    ema_before = _values(gan.generator_ema.weights)
    step(batch)  # D only
    for before, average in zip(ema_before, gan.generator_ema.weights, strict=True):
        np.testing.assert_array_equal(before, average.numpy())
    step(batch)  # D and G (at t = 1)
    _assert_averaged(gan, ema_before, _values(gan.generator.weights), 1 - 2 / 11)


def test_generate_draws_with_ema_unless_asked_not_to():
    config = tiny_config(conditions=["text"], ema_decay=0.9)
    gan = build_gan(config, seed=0)
    batch = make_batch(config, with_noise=True)
    for _ in range(3):
        gan.train_step(batch)
    inputs = {"noise": batch["noise"], "embeddings": batch["embeddings"]}
    conditions = {"embeddings": batch["embeddings"]}
    drawn = gan.generate(conditions, noise=batch["noise"]).numpy()
    own = gan.generate(conditions, noise=batch["noise"], use_ema=False).numpy()
    np.testing.assert_allclose(drawn, gan.generator_ema(inputs, training=False), atol=1e-6)
    np.testing.assert_allclose(own, gan.generator(inputs, training=False), atol=1e-6)
    assert np.abs(drawn - own).max() > 1e-4
    assert gan.inference_generator is gan.generator_ema


def test_ema_off_draws_with_g():
    gan = build_gan(tiny_config(conditions=["text"]), seed=0)
    assert gan.generator_ema is None and gan.inference_generator is gan.generator


@pytest.mark.parametrize("decay", [-0.1, 1.0])
def test_bad_ema_decay_is_named(decay):
    with pytest.raises(T2IError, match="model.ema_decay"):
        tiny_config(ema_decay=decay).validate()
