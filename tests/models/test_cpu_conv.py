"""The faster kernels of Reed's 4x4 stride-2 convolutions equal TensorFlow's."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.models.cpu_conv import (
    CpuConv2D,
    CpuConv2DTranspose,
    bias_add,
    conv_down,
    conv_up,
    filter_gradient,
    filter_gradient_method,
    transposed_conv_by_space_to_depth,
)

STRIDES = [1, 2, 2, 1]


def _normal(shape, seed, dtype=tf.float32):
    return tf.cast(tf.random.stateless_normal(shape, seed=[seed, 7]), dtype)


@pytest.mark.parametrize(
    "shape", [(3, 8, 8, 5, 6), (2, 4, 6, 3, 4), (1, 16, 16, 2, 3), (2, 14, 14, 3, 2)]
)
def test_filter_gradient_equals_tensorflows(shape):
    batch, rows, cols, channels, out_channels = shape
    x = _normal([batch, rows, cols, channels], 1)
    dy = _normal([batch, rows // 2, cols // 2, out_channels], 2)
    expected = tf.raw_ops.Conv2DBackpropFilter(
        input=x,
        filter_sizes=[4, 4, channels, out_channels],
        out_backprop=dy,
        strides=STRIDES,
        padding="SAME",
    )
    np.testing.assert_allclose(filter_gradient(x, dy), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 4, 4, 5, 3), (1, 3, 5, 2, 1), (2, 7, 7, 4, 3)])
def test_transposed_conv_by_space_to_depth_equals_tensorflows(shape):
    batch, rows, cols, channels, out_channels = shape
    x = _normal([batch, rows, cols, channels], 1)
    kernel = _normal([4, 4, out_channels, channels], 2)
    output_shape = [batch, 2 * rows, 2 * cols, out_channels]
    expected = tf.nn.conv2d_transpose(x, kernel, output_shape, STRIDES, "SAME")
    got = transposed_conv_by_space_to_depth(x, kernel)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def _grads(fn, x, kernel, weight):
    with tf.GradientTape() as tape:
        tape.watch([x, kernel])
        y = fn(x, kernel)
        loss = tf.reduce_sum(y * weight)  # a non-uniform upstream gradient
    return (y, *tape.gradient(loss, [x, kernel]))


@pytest.mark.parametrize("method", ["conv", "tf"])
@pytest.mark.parametrize(("map_shape", "channels"), [((8, 8), 3), ((14, 14), 6), ((6, 10), 1)])
def test_conv_down_forward_and_gradients_equal_tensorflows(map_shape, channels, method):
    rows, cols = map_shape
    x, kernel = _normal([2, rows, cols, channels], 3), _normal([4, 4, channels, 5], 4)
    weight = _normal([2, rows // 2, cols // 2, 5], 5)
    got = _grads(lambda x, k: conv_down(x, k, method), x, kernel, weight)
    expected = _grads(lambda x, k: tf.nn.conv2d(x, k, STRIDES, "SAME"), x, kernel, weight)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["conv", "tf"])
@pytest.mark.parametrize(("map_shape", "out"), [((4, 4), 3), ((7, 7), 6), ((3, 5), 1)])
def test_conv_up_forward_and_gradients_equal_tensorflows(map_shape, out, method):
    rows, cols = map_shape
    x, kernel = _normal([2, rows, cols, 5], 3), _normal([4, 4, out, 5], 4)  # [4, 4, out, in]
    weight = _normal([2, 2 * rows, 2 * cols, out], 5)

    def native(x, k):
        return tf.nn.conv2d_transpose(x, k, [2, 2 * rows, 2 * cols, out], STRIDES, "SAME")

    got = _grads(lambda x, k: conv_up(x, k, method), x, kernel, weight)
    for a, b in zip(got, _grads(native, x, kernel, weight), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_an_unknown_batch_size_traces():
    spec = tf.TensorSpec([None, 8, 8, 3], tf.float32)
    kernel = _normal([4, 4, 3, 5], 4)

    @tf.function(input_signature=[spec])
    def grads(x):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            loss = tf.reduce_sum(conv_up(conv_down(x, kernel), kernel) ** 2)
        return tape.gradient(loss, [x, kernel])

    x = _normal([3, 8, 8, 3], 6)
    with tf.GradientTape() as tape:
        tape.watch([x, kernel])
        y = tf.nn.conv2d(x, kernel, STRIDES, "SAME")
        loss = tf.reduce_sum(tf.nn.conv2d_transpose(y, kernel, x.shape, STRIDES, "SAME") ** 2)
    for a, b in zip(grads(x), tape.gradient(loss, [x, kernel]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_the_other_filter_gradients_run_only_on_small_bfloat16_maps():
    assert filter_gradient_method(4, tf.bfloat16) == "conv"
    assert filter_gradient_method(8, "bfloat16") == "conv"
    assert filter_gradient_method(14, tf.bfloat16) == "conv"
    assert filter_gradient_method(16, tf.bfloat16) == "conv"
    assert filter_gradient_method(32, tf.bfloat16) == "tf"
    assert filter_gradient_method(8, tf.float32) == "tf"
    assert filter_gradient_method(16, tf.float16) == "tf"


def _kernel_op_types(layer, x, wrt_input=False):
    """The op types of the graph of the gradient of the layer's weights (or its input)."""

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
        return tape.gradient(loss, x if wrt_input else layer.trainable_variables)

    return {op.type for op in step.get_concrete_function(x).graph.get_operations()}


def _pair(policy, reference_cls, cls, x_shape, **kwargs):
    keras.mixed_precision.set_dtype_policy(policy)
    reference, layer = reference_cls(**kwargs), cls(**kwargs)
    for each in (reference, layer):
        each.build(x_shape)
    layer.set_weights([_normal(w.shape, 10 + i).numpy() for i, w in enumerate(layer.weights)])
    reference.set_weights(layer.get_weights())
    return reference, layer


@pytest.mark.parametrize(
    ("reference_cls", "cls", "x_shape", "filters"),
    [
        (keras.layers.Conv2D, CpuConv2D, (4, 16, 16, 8), 16),
        (keras.layers.Conv2DTranspose, CpuConv2DTranspose, (4, 8, 8, 16), 8),
    ],
)
def test_layers_agree_with_keras_in_bfloat16(reference_cls, cls, x_shape, filters, float32_policy):
    kwargs = dict(filters=filters, kernel_size=4, strides=2, padding="same", use_bias=True)
    reference, layer = _pair("mixed_bfloat16", reference_cls, cls, x_shape, **kwargs)
    x = tf.cast(_normal(x_shape, 20), tf.bfloat16)
    weight = _normal(reference.compute_output_shape(x_shape), 21)
    results = []
    for each in (reference, layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cast(each(x), tf.float32)
            loss = tf.reduce_sum(y * weight)
        # Not the bias: Keras's sums in bfloat16 (see test_bias_gradients_sum_in_float32...)
        grads = tape.gradient(loss, [x, each.kernel])
        results.append([y, *(tf.cast(g, tf.float32) for g in grads)])
    for a, b in zip(*results, strict=True):
        scale = float(tf.reduce_max(tf.abs(a)))
        np.testing.assert_allclose(a, b, atol=0.02 * scale)  # bfloat16 rounding
    # The fast path really ran: the kernel's gradient is a forward conv, not TF's kernel.
    types = _kernel_op_types(layer, x)
    assert "Conv2DBackpropFilter" not in types
    assert "Conv2DBackpropFilter" in _kernel_op_types(reference, x)


def test_float32_and_large_maps_keep_tensorflows_kernel(float32_policy):
    conv = CpuConv2D(4, 4, strides=2, padding="same")
    assert "Conv2DBackpropFilter" in _kernel_op_types(conv, _normal([2, 8, 8, 3], 1))
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    large = CpuConv2D(4, 4, strides=2, padding="same")
    x = tf.cast(_normal([2, 32, 32, 3], 1), tf.bfloat16)
    assert "Conv2DBackpropFilter" in _kernel_op_types(large, x)
    other = CpuConv2D(4, 3, strides=1, padding="same")  # not a Reed block
    x = tf.cast(_normal([2, 8, 8, 3], 1), tf.bfloat16)
    assert "Conv2DBackpropFilter" in _kernel_op_types(other, x)


@pytest.mark.parametrize(
    ("reference_cls", "cls", "x_shape", "filters"),
    [
        (keras.layers.Conv2D, CpuConv2D, (2, 16, 16, 3), 8),  # D's first conv
        (keras.layers.Conv2DTranspose, CpuConv2DTranspose, (2, 8, 8, 8), 3),  # G's last
    ],
)
def test_image_layers_agree_with_keras_in_float32(
    reference_cls, cls, x_shape, filters, float32_policy
):
    kwargs = dict(filters=filters, kernel_size=4, strides=2, padding="same")
    reference, layer = _pair("float32", reference_cls, cls, x_shape, **kwargs)
    x = _normal(x_shape, 30)
    weight = _normal(reference.compute_output_shape(x_shape), 31)
    results = []
    for each in (reference, layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(each(x) * weight)
        results.append([each(x), *tape.gradient(loss, [x, *each.trainable_variables])])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # The image's transposed conv (G's forward, D's input gradient) is a stride-1 conv.
    if cls is CpuConv2D:
        types, reference_types = (
            _kernel_op_types(layer, x, True),
            _kernel_op_types(reference, x, True),
        )
    else:
        types = {
            op.type for op in tf.function(layer).get_concrete_function(x).graph.get_operations()
        }
        reference_types = {
            op.type for op in tf.function(reference).get_concrete_function(x).graph.get_operations()
        }
    assert "DepthToSpace" in types and "Conv2DBackpropInput" not in types
    assert "Conv2DBackpropInput" in reference_types


@pytest.mark.parametrize(
    ("cls", "x_shape", "filters"),
    [
        (CpuConv2D, (16, 64, 64, 3), 8),  # D's first conv: 16 x 32 x 32 terms per bias
        (CpuConv2DTranspose, (16, 32, 32, 8), 3),  # G's image: 16 x 64 x 64 terms
        (CpuConv2DTranspose, (4, 9, 9, 8), 3),  # an odd map side
    ],
)
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_bias_gradients_sum_in_float32_under_mixed_policies(
    cls, x_shape, filters, policy, float32_policy
):
    keras.mixed_precision.set_dtype_policy(policy)
    layer = cls(filters, 4, strides=2, padding="same")
    dtype = layer.compute_dtype
    x = tf.cast(_normal(x_shape, 40), dtype)
    weight = _normal(layer.compute_output_shape(x_shape), 41) + 0.05  # upstream gradient
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.cast(layer(x), tf.float32) * weight)
    got = tape.gradient(loss, layer.bias)
    # The bias sees the upstream gradient rounded to the compute dtype; sum that exactly.
    rounded = tf.cast(tf.cast(weight, dtype), tf.float64)
    expected = tf.reduce_sum(rounded, axis=[0, 1, 2])
    scale = float(tf.reduce_max(tf.abs(expected)))
    # Summed in bfloat16 or float16 (BiasAddGrad, Sum), errors reach tens of percent.
    np.testing.assert_allclose(got, expected, atol=0.01 * scale)


def test_bias_add_equals_tensorflows_in_float32():
    x, bias = _normal([2, 5, 3, 6], 50), _normal([6], 51)
    weight = _normal([2, 5, 3, 6], 52)
    results = []
    for fn in (tf.nn.bias_add, bias_add):
        with tf.GradientTape() as tape:
            tape.watch([x, bias])
            y = fn(x, bias)
            loss = tf.reduce_sum(y * weight)
        results.append([y, *tape.gradient(loss, [x, bias])])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_serialization_round_trip():
    for layer in (
        CpuConv2D(8, 4, strides=2, padding="same", name="down"),
        CpuConv2DTranspose(8, 4, strides=2, padding="same", name="up"),
    ):
        config = keras.saving.serialize_keras_object(layer)
        restored = keras.saving.deserialize_keras_object(config)
        assert type(restored) is type(layer) and restored.get_config() == layer.get_config()
