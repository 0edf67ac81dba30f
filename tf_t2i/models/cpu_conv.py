"""CpuConv2D(Transpose): Reed's 4x4 stride-2 convolutions with CPU kernels that pay here.

Used only when `model.kernels` resolves to "cpu" (models/kernels.py: by default, when no
GPU or TPU is visible); otherwise the networks use keras.layers.Conv2D(Transpose).

Every block of G and D is a 4x4 stride-2 "same" convolution (D) or transposed
convolution (G). TensorFlow's CPU kernels run their forward and input-gradient passes
near the machine's matmul peak, but in bfloat16 the filter-gradient kernel falls to
20-55% of it on the small maps (16x16 and 8x8 inputs; bench/bench_conv_layers.py).
Computed as a forward convolution instead, it runs at 70-83% there (`filter_gradient`):
dK[i, j, c, o] = sum over (b, h, w) of x_pad[b, 2h+i, 2w+j, c] * dy[b, h, w, o] is a
convolution with the roles swapped: x's channels as the batch, x's batch as the
channels, and dy as a filter [Ho, Wo, B, O] dilated by 2 (the stride), over
x [C, H, W, B] padded by 1 -> [C, 4, 4, O]. oneDNN's forward kernel lays out the
patches itself. (One matmul over explicit patches, the previous version, was 12-25%
slower: building the patches costs more than the matmul saves.)

The image layers (G's last transposed conv to 1 or 3 channels, and the input gradient
of D's first conv, the same operation) run at 12-15% of the peak in TensorFlow's
kernel. Space to depth with block 2 makes them a stride-1 conv: it turns the 4x4
stride-2 window into a 2x2 stride-1 one, so the transposed conv's output in
space-to-depth form is a 2x2 "valid" conv of the input padded by 1, with 4 x channels
outputs, which is about twice as fast (`transposed_conv_by_space_to_depth`).

Their biases add with `bias_add`, whose gradient accumulates in float32. TensorFlow's
BiasAddGrad, and the oneDNN filter-gradient kernel that grappler fuses it into, sum a
bfloat16 gradient in bfloat16: for G's image layer (64x64x3, batch 64, 262,144 terms per
channel) the bias gradient was off by 67% (relative norm) against float32's.

These layers keep Keras's weights, config and checkpoint layout. Everything else is
TensorFlow's kernels, and each replacement is used only where it was measured to pay
(`filter_gradient_method`, `IMAGE_CHANNELS`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

# The largest map side (the conv's input, the transposed conv's output) on which the
# conv filter gradient beat TensorFlow's kernel in bfloat16 on this project's CPU (AMD
# EPYC Zen 5, batch 64; bench/results/conv_layers_bfloat16.md): 70-83% of the peak
# against 23-30% at 8x8, 78-79% against 42-53% at 16x16; at 32x32 TensorFlow's 54-65%
# beat its 46-55%. In float32 TensorFlow's kernel was as fast or faster at every size.
CONV_MAX_SIDE = 16
# Transposed convs to at most this many channels (images) run by space to depth: 1.9 ms
# against 3.5 in bfloat16, 2.6 against 5.5 in float32 (32x32x64 -> 64x64x3, batch 64).
IMAGE_CHANNELS = 4
_STRIDES = [1, 2, 2, 1]


def filter_gradient_method(side: int, dtype) -> str:
    """How to compute the filter gradient on maps of `side` in `dtype`.

    Returns:
        "conv" (`filter_gradient`) or "tf" (TensorFlow's Conv2DBackpropFilter).
    """
    if tf.as_dtype(dtype) == tf.bfloat16 and side <= CONV_MAX_SIDE:
        return "conv"
    return "tf"


def filter_gradient(x, dy):
    """The filter gradient of a 4x4 stride-2 "same" conv, as one dilated forward conv.

    Args:
        x: the conv's input [B, H, W, C], H and W even.
        dy: the gradient of its output [B, H/2, W/2, O].

    Returns:
        dK [4, 4, C, O], equal to tf.raw_ops.Conv2DBackpropFilter's up to rounding.
    """
    # dK[i, j, c, o] = sum over (h, w, b) of x_pad[b, 2h+i, 2w+j, c] * dy[b, h, w, o]:
    # a conv of x as [C, H, W, B], padded by 1 ("same"), with the filter dy as
    # [Ho, Wo, B, O] dilated by 2. The conv pads (5% faster than a tf.pad before it).
    inputs = tf.transpose(x, [3, 1, 2, 0])  # (C, H, W, B)
    filters = tf.transpose(dy, [1, 2, 0, 3])  # (Ho, Wo, B, O)
    padding = [[0, 0], [1, 1], [1, 1], [0, 0]]
    grad = tf.nn.conv2d(inputs, filters, 1, padding, dilations=2)  # (C, 4, 4, O)
    return tf.transpose(grad, [1, 2, 0, 3])


def transposed_conv_by_space_to_depth(x, kernel):
    """conv2d_transpose(x, kernel, stride 2, "same") as a stride-1 conv and depth to space.

    The full (uncropped) output is F[2u + di] = sum over a of x[u - a] * K[2a + di]: in
    space-to-depth form, a 2x2 correlation of x padded by 1 with the kernel's taps
    reversed. "same" then crops one pixel on each side.

    Args:
        x: [B, H, W, C].
        kernel: [4, 4, O, C] (the transposed-conv layout).

    Returns:
        [B, 2H, 2W, O].
    """
    rows, cols, channels = x.shape[1], x.shape[2], x.shape[3]
    out_channels = kernel.shape[2]
    taps = tf.reshape(kernel, [2, 2, 2, 2, out_channels, channels])  # (a, di, b, dj, o, c)
    taps = tf.reverse(taps, [0, 2])  # a' = 1 - a: a correlation, not a convolution
    taps = tf.transpose(taps, [0, 2, 5, 1, 3, 4])  # (a', b', c, di, dj, o)
    taps = tf.reshape(taps, [2, 2, channels, 4 * out_channels])
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    full = tf.nn.conv2d(padded, taps, 1, "VALID")  # (B, H+1, W+1, 4 O), ordered (di, dj, o)
    return tf.nn.depth_to_space(full, 2)[:, 1 : 2 * rows + 1, 1 : 2 * cols + 1, :]


def _transposed_conv(x, kernel, output_shape):
    """TF's stride-2 "same" transposed conv, or the space-to-depth one for images."""
    if kernel.shape[2] <= IMAGE_CHANNELS:
        return transposed_conv_by_space_to_depth(x, kernel)
    return tf.raw_ops.Conv2DBackpropInput(
        input_sizes=output_shape, filter=kernel, out_backprop=x, strides=_STRIDES, padding="SAME"
    )


def _filter_gradient(x, dy, kernel_shape, method: str):
    """dK of y = conv2d(x, K, stride 2, "same") by `method` (see filter_gradient_method)."""
    if method == "conv":
        return filter_gradient(x, dy)
    return tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=kernel_shape, out_backprop=dy, strides=_STRIDES, padding="SAME"
    )


def conv_down(x, kernel, filter_method: str = "conv"):
    """y = conv2d(x, kernel, stride 2, "same") with the faster gradients.

    The input gradient (a transposed conv) goes by space to depth when x is an image
    (C <= IMAGE_CHANNELS); the filter gradient by `filter_method`.

    Args:
        x: [B, H, W, C], H and W even.
        kernel: [4, 4, C, O] in x's dtype.
        filter_method: "conv" or "tf" (see filter_gradient_method).

    Returns:
        [B, H/2, W/2, O].
    """

    @tf.custom_gradient
    def conv(x, kernel):
        def grad(dy):
            dx = _transposed_conv(dy, kernel, tf.shape(x))
            return dx, _filter_gradient(x, dy, tf.shape(kernel), filter_method)

        return tf.nn.conv2d(x, kernel, _STRIDES, "SAME"), grad

    return conv(x, kernel)


def conv_up(x, kernel, filter_method: str = "conv"):
    """y = conv2d_transpose(x, kernel, stride 2, "same") with the faster kernels.

    The forward pass goes by space to depth for images (O <= IMAGE_CHANNELS). A
    transposed conv is the input gradient of the conv that maps y to x, so its filter
    gradient is that conv's, with dy as that conv's input, by `filter_method`.

    Args:
        x: [B, H, W, C].
        kernel: [4, 4, O, C] in x's dtype (Keras's transposed-conv layout).
        filter_method: "conv" or "tf" (see filter_gradient_method).

    Returns:
        [B, 2H, 2W, O].
    """

    @tf.custom_gradient
    def conv_transpose(x, kernel):
        def grad(dy):
            dx = tf.nn.conv2d(dy, kernel, _STRIDES, "SAME")
            return dx, _filter_gradient(dy, x, tf.shape(kernel), filter_method)

        shape = tf.stack([tf.shape(x)[0], 2 * x.shape[1], 2 * x.shape[2], kernel.shape[2]])
        return _transposed_conv(x, kernel, shape), grad

    return conv_transpose(x, kernel)


def bias_add(x, bias):
    """x + bias along the last axis; the bias gradient is summed in float32.

    Args:
        x: [..., C], any float dtype.
        bias: [C], any float dtype (a variable, which a mixed policy may autocast).

    Returns:
        x + bias in x's dtype; the gradient for `bias` comes in bias's dtype.
    """
    bias = tf.convert_to_tensor(bias)

    @tf.custom_gradient
    def add(x, bias):
        def grad(dy):
            return dy, tf.cast(_sum_all_but_last(dy), bias.dtype)

        return tf.nn.bias_add(x, tf.cast(bias, x.dtype)), grad

    return add(x, bias)


def _sum_all_but_last(dy):
    """dy summed over every axis but the last, accumulated in float32, in dy's dtype.

    TensorFlow's Sum accumulates bfloat16 in float32 (measured: within bfloat16's rounding
    of the exact sum over 262,144 terms) but float16 in float16 (74% off there), so
    float16 is cast first. BiasAddGrad is the other way round.
    """
    axes = list(range(len(dy.shape) - 1))
    if dy.dtype == tf.float16:
        return tf.cast(tf.reduce_sum(tf.cast(dy, tf.float32), axes), dy.dtype)
    return tf.reduce_sum(dy, axes)


def _is_reed_block(layer, inputs) -> bool:
    """A 4x4 stride-2 "same" layer on maps of known size."""
    return (
        tuple(layer.kernel_size) == (4, 4)
        and tuple(layer.strides) == (2, 2)
        and layer.padding == "same"
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.data_format == "channels_last"
        and getattr(layer, "groups", 1) == 1
        and len(inputs.shape) == 4
        and None not in inputs.shape[1:]
    )


@keras.saving.register_keras_serializable(package="tf_t2i")
class CpuConv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D whose 4x4 stride-2 "same" case trains with `conv_down`.

    It does so on images (the input gradient) and where another filter gradient pays;
    other configurations and maps run the parent's op. The bias adds by `bias_add`.
    """

    def call(self, inputs):
        if self.data_format != "channels_last":
            return super().call(inputs)
        outputs = self.convolution_op(inputs, self.kernel)
        if self.use_bias:
            outputs = bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def convolution_op(self, inputs, kernel):
        rows, cols, channels = inputs.shape[1:] if len(inputs.shape) == 4 else (None,) * 3
        even = _is_reed_block(self, inputs) and rows % 2 == 0 == cols % 2  # pads 1 each side
        method = filter_gradient_method(max(rows, cols), inputs.dtype) if even else "tf"
        if not (even and (method != "tf" or channels <= IMAGE_CHANNELS)):
            return super().convolution_op(inputs, kernel)
        return conv_down(inputs, tf.cast(kernel, inputs.dtype), method)


@keras.saving.register_keras_serializable(package="tf_t2i")
class CpuConv2DTranspose(keras.layers.Conv2DTranspose):
    """keras.layers.Conv2DTranspose whose 4x4 stride-2 "same" case runs `conv_up`.

    It does so for images (the forward pass) and where another filter gradient pays;
    other configurations and maps run the parent's op. The bias adds by `bias_add`.
    """

    def call(self, inputs):
        if self.data_format != "channels_last":
            return super().call(inputs)
        reed = _is_reed_block(self, inputs) and self.output_padding is None
        method = filter_gradient_method(2 * max(inputs.shape[1:3]), inputs.dtype) if reed else "tf"
        if reed and (method != "tf" or self.filters <= IMAGE_CHANNELS):
            outputs = conv_up(inputs, tf.cast(self.kernel, inputs.dtype), method)
        else:
            outputs = keras.ops.conv_transpose(
                inputs,
                self.kernel,
                strides=list(self.strides),
                padding=self.padding,
                output_padding=self.output_padding,
                data_format=self.data_format,
                dilation_rate=self.dilation_rate,
            )
        if self.use_bias:
            outputs = bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
