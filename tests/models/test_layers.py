"""FusedBatchNormalization agrees with keras.layers.BatchNormalization; LeakyReLU with
Keras's; MinibatchStddev; NoiseRotation and rotate_images, and their compiled CPU-kernel
versions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.models.layers import (
    CpuNoiseRotation,
    FusedBatchNormalization,
    LeakyReLU,
    MinibatchStddev,
    NoiseRotation,
    rotate_images,
    rotate_images_compiled,
)


def _pair(x):
    reference, fused = keras.layers.BatchNormalization(), FusedBatchNormalization()
    for layer in (reference, fused):
        layer.build(x.shape)
        layer.gamma.assign(tf.range(5, dtype=tf.float32) + 1.0)
        layer.beta.assign(tf.range(5, dtype=tf.float32) / 10.0)
    return reference, fused


def test_training_forward_backward_and_moving_statistics():
    x = tf.random.stateless_normal([8, 6, 6, 5], seed=[1, 2]) * 3.0 + 1.0
    reference, fused = _pair(x)
    outputs, grads = [], []
    for layer in (reference, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        outputs.append(y.numpy())
        grads.append(tape.gradient(loss, [x, layer.gamma, layer.beta]))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(reference.moving_mean, fused.moving_mean, atol=1e-6)
    # The fused kernel's moving variance is unbiased: n / (n - 1) with n = 8 * 6 * 6.
    n = 8 * 6 * 6
    batch_var = tf.math.reduce_variance(x, axis=[0, 1, 2]).numpy()
    np.testing.assert_allclose(
        fused.moving_variance, 0.99 + 0.01 * batch_var * n / (n - 1), rtol=1e-5
    )
    np.testing.assert_allclose(reference(x).numpy(), fused(x).numpy(), atol=0.02)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision(policy, float32_policy):
    keras.mixed_precision.set_dtype_policy(policy)
    layer = FusedBatchNormalization()
    x = tf.random.stateless_normal([4, 3, 3, 2], seed=[0, 1])
    y = layer(tf.cast(x, layer.compute_dtype), training=True)
    assert y.dtype == layer.compute_dtype and layer.moving_mean.dtype == "float32"
    assert np.all(np.isfinite(tf.cast(y, tf.float32).numpy()))


def test_serialization_round_trip():
    layer = FusedBatchNormalization(momentum=0.9, name="bn")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, FusedBatchNormalization) and restored.momentum == 0.9


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_leaky_relu_equals_keras_bit_for_bit(dtype):
    # Values on both sides of 0, exact zeros and tiny negatives (whose output rounds to 0).
    x = tf.cast(tf.concat([tf.random.stateless_normal([64], seed=[5, 6]), [0.0, -1e-38]], 0), dtype)
    dy = tf.cast(tf.random.stateless_normal([66], seed=[7, 8]), dtype)
    results = []
    for layer in (keras.layers.LeakyReLU(0.2, dtype=dtype.name), LeakyReLU(0.2, dtype=dtype.name)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        results.append((y, tape.gradient(y, x, output_gradients=dy)))
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(tf.cast(a, tf.float32), tf.cast(b, tf.float32))


def test_leaky_relu_gradient_reads_the_output():
    # What keeps grappler's Conv2D + BiasAdd + LeakyRelu fusion valid: the BiasAdd feeds
    # only the activation, not its gradient.
    x = tf.random.stateless_normal([2, 3], seed=[1, 2])
    bias = tf.Variable(tf.zeros([3]))

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            y = LeakyReLU(0.2)(tf.nn.bias_add(x, bias))
        return tape.gradient(y, bias)

    graph = grad.get_concrete_function(x).graph
    (add,) = [op for op in graph.get_operations() if op.type == "BiasAdd"]
    consumers = {c.type for c in add.outputs[0].consumers()}
    assert "LeakyReluGrad" not in consumers


def _spread(x):
    return np.sqrt(np.var(x, axis=0) + 1e-8).mean()


@pytest.mark.parametrize("traced", [False, True])
def test_minibatch_stddev_appends_the_batch_spread(traced):
    layer = MinibatchStddev()
    call = tf.function(layer) if traced else layer
    x = tf.random.stateless_normal([6, 4, 4, 3], seed=[3, 4]) * 2.0
    y = call(x).numpy()
    assert y.shape == (6, 4, 4, 4) and layer.compute_output_shape((None, 4, 4, 3))[-1] == 4
    np.testing.assert_array_equal(y[..., :3], x.numpy())
    np.testing.assert_allclose(y[..., 3], _spread(x.numpy()), rtol=1e-5)
    # A batch of one repeated image (a generator ignoring its noise) has no spread.
    same = tf.repeat(x[:1], 6, axis=0)
    np.testing.assert_allclose(call(same).numpy()[..., 3], 1e-4, rtol=1e-3)


def test_minibatch_stddev_gradient_and_bfloat16(float32_policy):
    x = tf.random.stateless_normal([4, 2, 2, 2], seed=[5, 6])
    with tf.GradientTape() as tape:
        tape.watch(x)
        spread = tf.reduce_sum(MinibatchStddev()(x)[..., -1])
    assert np.any(tape.gradient(spread, x).numpy() != 0)  # D's verdict can push G's spread
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    y = MinibatchStddev()(tf.cast(x, tf.bfloat16))
    assert y.dtype == tf.bfloat16 and y.shape == (4, 2, 2, 3)
    spread = tf.cast(y[..., -1], tf.float32).numpy()
    np.testing.assert_allclose(
        spread, _spread(tf.cast(tf.cast(x, tf.bfloat16), tf.float32).numpy()), rtol=1e-2
    )


def test_minibatch_stddev_serialization_round_trip():
    layer = MinibatchStddev(name="spread")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, MinibatchStddev) and restored.name == "spread"


@pytest.mark.parametrize("traced", [False, True])
def test_rotate_images_known_turns(traced):
    turn = tf.function(rotate_images) if traced else rotate_images
    images = tf.random.stateless_normal([3, 6, 6, 2], seed=[3, 4])
    np.testing.assert_array_equal(turn(images, tf.zeros([3])), images)
    quarter = turn(images, tf.constant([np.pi / 2, -np.pi / 2, np.pi])).numpy()
    np.testing.assert_allclose(quarter[0], tf.image.rot90(images[0], 1), atol=1e-5)
    np.testing.assert_allclose(quarter[1], tf.image.rot90(images[1], 3), atol=1e-5)
    np.testing.assert_allclose(quarter[2], tf.image.rot90(images[2], 2), atol=1e-5)


def test_rotate_images_turns_a_drawn_square_by_its_angle():
    # a 20 x 20 square on a 48 x 48 image, turned by 0.2 rad counter-clockwise as displayed:
    # its top edge then rises to the right, so the top-right corner is above the top-left
    square = np.zeros([1, 48, 48, 1], np.float32)
    square[0, 14:34, 14:34] = 1.0
    turned = rotate_images(tf.constant(square), tf.constant([0.2]))[0, ..., 0].numpy()
    assert abs(turned.sum() - 400.0) < 4.0  # area kept (bilinear, away from the edges)
    top_of = [int(np.argmax(turned[:, col] > 0.5)) for col in (16, 31)]  # first row inside
    assert top_of[1] < top_of[0] - 1
    rows, cols = np.nonzero(turned > 0.5)
    slope = np.polyfit(cols, rows, 1)[0]
    assert abs(slope) < 0.1  # symmetric about the centre: no overall lean of the mass


def test_noise_rotation_angle_follows_z_within_its_bound():
    layer = NoiseRotation(0.25)
    images = tf.random.stateless_normal([4, 8, 8, 3], seed=[5, 6])
    noise = tf.random.stateless_normal([4, 10], seed=[7, 8])
    turned = layer([images, noise])
    angles = 0.25 * np.tanh(noise.numpy() @ layer.kernel.numpy() + layer.bias.numpy())[:, 0]
    assert np.all(np.abs(angles) <= 0.25) and np.ptp(angles) > 0.05  # spread from the start
    np.testing.assert_allclose(layer.angles(noise), angles, atol=1e-6)
    np.testing.assert_allclose(turned, rotate_images(images, tf.constant(angles)), atol=1e-5)
    # far out along w the angle saturates at the bound
    far = tf.constant(100.0 * layer.kernel.numpy()[:, 0][None])
    np.testing.assert_allclose(
        layer([images[:1], far]), rotate_images(images[:1], tf.constant([0.25])), atol=1e-5
    )
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer([images, noise])[:, :, :4]))
    gradients = tape.gradient(loss, [layer.kernel, layer.bias])
    assert all(np.any(g.numpy() != 0) for g in gradients)  # G learns which turns D takes


def _turned_and_gradients(turn, images, angles, upstream):
    with tf.GradientTape() as tape:
        tape.watch([images, angles])
        turned = turn(images, angles)
        loss = tf.reduce_sum(turned * upstream)
    return [turned, *tape.gradient(loss, [images, angles])]


@pytest.mark.parametrize("bound", [0.25, 1.5])  # 1.5: corners from beyond the edges
def test_rotate_images_compiled_gives_the_same_pixels_and_gradients(bound):
    images = tf.random.stateless_normal([5, 12, 10, 3], seed=[1, 2])
    upstream = tf.random.stateless_normal([5, 12, 10, 3], seed=[3, 4])
    angles = tf.random.stateless_uniform([5], seed=[5, 6], minval=-bound, maxval=bound)
    reference = _turned_and_gradients(rotate_images, images, angles, upstream)
    compiled = _turned_and_gradients(rotate_images_compiled, images, angles, upstream)
    for want, got in zip(reference, compiled, strict=True):
        assert np.any(want.numpy() != 0)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # the angle's gradient is the slope of the loss: a finite difference agrees (in float64,
    # a small step: the loss has a kink wherever a source point crosses a pixel or the edge)
    step, wide = 1e-5, [tf.cast(t, tf.float64) for t in (images, angles, upstream)]
    moved = [
        tf.reduce_sum(rotate_images(wide[0], wide[1] + s) * wide[2], axis=[1, 2, 3])
        for s in (step, -step)
    ]
    slope = ((moved[0] - moved[1]) / (2 * step)).numpy()
    np.testing.assert_allclose(compiled[2], slope, rtol=1e-3, atol=1e-3 * np.abs(slope).max())


def test_cpu_noise_rotation_is_noise_rotation_in_training_and_out():
    images = tf.random.stateless_normal([4, 8, 8, 3], seed=[5, 6])
    noise = tf.random.stateless_normal([4, 10], seed=[7, 8])
    stock, cpu = NoiseRotation(0.25), CpuNoiseRotation(0.25)
    stock.build([images.shape, noise.shape])
    cpu.build([images.shape, noise.shape])
    cpu.set_weights(stock.get_weights())
    for training in (False, True):
        results = []
        for layer in (stock, cpu):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(layer([images, noise], training=training)[:, :4]))
            results.append([loss, *tape.gradient(loss, layer.trainable_weights)])
        for want, got in zip(*results, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_noise_rotation_bfloat16_and_round_trip(float32_policy):
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    images = tf.cast(tf.random.stateless_normal([2, 4, 4, 3], seed=[1, 1]), tf.bfloat16)
    turned = NoiseRotation(0.1)([images, tf.ones([2, 5])])
    assert turned.dtype == tf.bfloat16 and turned.shape == (2, 4, 4, 3)
    layer = NoiseRotation(0.3, name="turn")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, NoiseRotation) and restored.max_angle == 0.3
