"""Spectral normalisation of D (model.spectral_norm): sigma, u's updates, the gradient,
both kernel settings, and a fit that resumes exactly."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_batch, tiny_config

from tf_t2i.models.build import build_gan
from tf_t2i.models.discriminator import build_discriminator
from tf_t2i.models.spectral_norm import SpectralConv2D, spectral_normalize


def _top_singular_value(kernel) -> float:
    matrix = np.reshape(np.asarray(kernel), [-1, kernel.shape[-1]])
    return float(np.linalg.svd(matrix, compute_uv=False)[0])


def test_power_iteration_finds_the_largest_singular_value():
    rng = np.random.default_rng(0)
    kernel = tf.constant(rng.normal(size=(4, 4, 6, 10)), tf.float32)
    u = tf.constant(rng.normal(size=(1, 10)), tf.float32)
    first, _ = spectral_normalize(kernel, u)
    for _ in range(50):
        normalized, u = spectral_normalize(kernel, u)
    assert _top_singular_value(normalized) == pytest.approx(1.0, abs=1e-4)
    # one step from a random u underestimates sigma, so the first kernel is too large
    assert _top_singular_value(first) > 1.01


def test_the_gradient_ignores_the_kernels_scale():
    # With u and v held, W / sigma(W) does not change when W is scaled, so the gradient of
    # anything computed from it is orthogonal to W: <dL/dW, W> = 0. A plain kernel's is not.
    rng = np.random.default_rng(1)
    kernel = tf.Variable(rng.normal(size=(3, 3, 4, 5)), dtype=tf.float32)
    u = tf.constant(rng.normal(size=(1, 5)), tf.float32)
    images = tf.constant(rng.normal(size=(2, 8, 8, 4)), tf.float32)
    for normalise, expect_zero in [(True, True), (False, False)]:
        with tf.GradientTape() as tape:
            used = spectral_normalize(kernel, u)[0] if normalise else kernel
            loss = tf.reduce_sum(tf.nn.conv2d(images, used, 1, "SAME") ** 2)
        radial = float(tf.reduce_sum(tape.gradient(loss, kernel) * kernel))
        assert (abs(radial) < 1e-3 * float(loss)) == expect_zero


@pytest.mark.parametrize("kernels", ["cpu", "stock"])
def test_every_layer_of_d_is_normalised_and_u_moves_only_in_training(kernels):
    config = tiny_config(spectral_norm=True, projection=True, kernels=kernels, ndf=8)
    batch = make_batch(config, batch_size=4)
    discriminator = build_discriminator(config)
    inputs = {"images": batch["images"], "embeddings": batch["embeddings"]}
    discriminator(inputs, training=False)
    layers = [
        layer
        for part in ("d_trunk", "d_head")
        for layer in discriminator.get_layer(part).layers
        if hasattr(layer, "kernel")
    ]
    # the caption's projection is left alone: the batch norm after it would undo the scale
    plain = [layer.name for layer in layers if not hasattr(layer, "spectral_u")]
    assert plain == ["d_text_projection"]
    layers = [layer for layer in layers if hasattr(layer, "spectral_u")]
    names = {layer.name for layer in layers}
    assert {"d_down0", "d_down2", "d_joint", "d_logit", "d_projection"} <= names

    before = [layer.spectral_u.numpy().copy() for layer in layers]
    discriminator(inputs, training=False)
    assert all(
        np.array_equal(b, layer.spectral_u.numpy()) for b, layer in zip(before, layers, strict=True)
    )
    for _ in range(40):
        discriminator(inputs, training=True)
    assert not any(
        np.array_equal(b, layer.spectral_u.numpy()) for b, layer in zip(before, layers, strict=True)
    )
    for layer in layers:
        kernel = layer.normalized_kernel(tf.float32, training=False)
        assert _top_singular_value(kernel) == pytest.approx(1.0, abs=0.02), layer.name


def test_cpu_and_stock_kernels_agree_and_share_the_checkpoint_layout():
    outputs, paths = [], []
    for kernels in ("cpu", "stock"):
        config = tiny_config(spectral_norm=True, projection=True, kernels=kernels)
        gan = build_gan(config)
        if not paths:
            weights = [v.numpy() for v in gan.discriminator.variables]
        else:
            for variable, value in zip(gan.discriminator.variables, weights, strict=True):
                variable.assign(value)
        batch = make_batch(config, batch_size=3)
        inputs = {"images": batch["images"], "embeddings": batch["embeddings"]}
        outputs.append(gan.discriminator(inputs, training=True).numpy())
        paths.append([(v.path, v.shape) for v in gan.discriminator.variables])
    assert paths[0] == paths[1] and any("spectral_u" in path for path, _ in paths[0])
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)


def test_off_by_default_and_only_in_d():
    plain = build_gan(tiny_config(style_encoder=True))
    assert not any("spectral_u" in v.path for v in plain.variables)
    gan = build_gan(tiny_config(spectral_norm=True, style_encoder=True))
    assert not any("spectral_u" in v.path for v in gan.generator.variables)
    assert not any("spectral_u" in v.path for v in gan.style_encoder.variables)
    head = gan.discriminator.get_layer("d_head")
    assert isinstance(head.get_layer("d_logit"), SpectralConv2D)
