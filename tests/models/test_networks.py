"""Generator, discriminator and style encoder: shapes, dtypes and ranges at every size."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import COMBINATIONS, make_batch, tiny_config

from tf_t2i.models.discriminator import build_discriminator
from tf_t2i.models.generator import build_generator
from tf_t2i.models.layers import rotate_images
from tf_t2i.models.style_encoder import build_style_encoder


def _inputs(config, batch, first_key, first_value):
    return {first_key: first_value, **{k: batch[k] for k in config.condition_keys}}


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 3), (128, 1)])
def test_shapes_at_every_image_size(size, channels):
    config = tiny_config(image_size=size, channels=channels, ngf=2, ndf=2, style_encoder=True)
    batch = make_batch(config, batch_size=2, with_noise=True)
    images = build_generator(config)(_inputs(config, batch, "noise", batch["noise"]))
    assert images.shape == (2, size, size, channels) and images.dtype == tf.float32
    logits = build_discriminator(config)(_inputs(config, batch, "images", images))
    assert logits.shape == (2, 1) and logits.dtype == tf.float32
    z = build_style_encoder(config)(images)
    assert z.shape == (2, config.z_dim)


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_every_combination_shapes_and_ranges(name):
    keras.utils.set_random_seed(0)  # the weights, so the tanh check does not hang on luck
    config = tiny_config(image_size=28, channels=1, **COMBINATIONS[name])
    batch = make_batch(config, batch_size=3, with_noise=True)
    generator = build_generator(config)
    assert set(generator.input) == {"noise", *config.condition_keys}
    images = generator(_inputs(config, batch, "noise", batch["noise"] * 10.0)).numpy()
    assert images.shape == (3, 28, 28, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert np.abs(images).max() > 0.5  # tanh really reached, not a constant output
    logits = build_discriminator(config)(_inputs(config, batch, "images", batch["images"]))
    assert logits.shape == (3, 1) and np.all(np.isfinite(logits.numpy()))


def test_generator_output_depends_on_each_condition():
    config = tiny_config(conditions=["text", "class", "mask"], mask_resolutions=[8])
    batch = make_batch(config, batch_size=2, with_noise=True)
    generator = build_generator(config)
    inputs = _inputs(config, batch, "noise", batch["noise"])
    reference = generator(inputs).numpy()
    for key in config.condition_keys:
        changed = dict(inputs, **{key: batch[f"wrong_{key}"] if key != "masks" else 1 - batch[key]})
        assert not np.allclose(generator(changed).numpy(), reference), key


def test_style_rotation_turns_gs_image_by_an_angle_of_z_alone():
    config = tiny_config(style_rotation=0.25)
    generator = build_generator(config)
    assert "g_rotate" not in [layer.name for layer in build_generator(tiny_config()).layers]
    batch = make_batch(config, batch_size=3, with_noise=True)
    inputs = _inputs(config, batch, "noise", batch["noise"])
    drawing = keras.Model(generator.input, generator.get_layer("g_tanh").output)
    drawn = drawing(inputs)
    layer = generator.get_layer("g_rotate")
    angles = 0.25 * tf.tanh(batch["noise"] @ layer.kernel + layer.bias)[:, 0]
    np.testing.assert_allclose(generator(inputs), rotate_images(drawn, angles), atol=1e-5)
    assert np.ptp(angles.numpy()) > 0.01
    # the caption does not move the angle: another caption, the same z, the same turn
    other = dict(inputs, embeddings=batch["wrong_embeddings"])
    other_drawn = drawing(other)
    np.testing.assert_allclose(generator(other), rotate_images(other_drawn, angles), atol=1e-5)


def test_reed_widths_at_the_defaults():
    config = tiny_config(image_size=64, ngf=64, ndf=64, embedding_dim=512, proj_dim=128)
    generator, discriminator = build_generator(config), build_discriminator(config)
    assert generator.get_layer("g_reshape").output.shape == (None, 4, 4, 512)
    assert [generator.get_layer(f"g_up{i}").output.shape[-1] for i in range(3)] == [256, 128, 64]
    trunk, head = discriminator.get_layer("d_trunk"), discriminator.get_layer("d_head")
    assert trunk.get_layer("d_down3").output.shape == (None, 4, 4, 512)
    assert head.get_layer("d_x_c").output.shape == (None, 4, 4, 512 + 128)


def test_projection_head_adds_the_inner_product():
    config = tiny_config(projection=True, minibatch_stddev=True)
    batch = make_batch(config, batch_size=3)
    discriminator = build_discriminator(config)
    trunk, head = discriminator.get_layer("d_trunk"), discriminator.get_layer("d_head")
    features = trunk({"images": batch["images"]})
    assert features.shape[-1] == config.ndf * 8 + 1  # the minibatch spread channel
    inputs = {"features": features, "embeddings": batch["embeddings"]}
    parts = keras.Model(
        head.input,
        [
            head.get_layer("d_logits").output,
            head.get_layer("d_conditions_bn").output,
            head.get_layer("d_pool").output,
        ],
    )
    concat_logits, condition, pooled = (t.numpy() for t in parts(inputs))
    kernel = head.get_layer("d_projection").kernel.numpy()
    expected = concat_logits[:, 0] + np.sum((condition @ kernel) * pooled, axis=1)
    np.testing.assert_allclose(head(inputs).numpy()[:, 0], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pooled, features.numpy().mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
