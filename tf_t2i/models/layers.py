"""Small layers shared by the networks."""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_t2i.models.config import ModelConfig


@keras.saving.register_keras_serializable(package="tf_t2i")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras batch norm over the channels of NHWC maps, computed by TF's fused kernel.

    Keras 3 builds batch norm from separate moment and normalisation ops; TensorFlow's
    FusedBatchNormV3 does the forward and backward passes in one kernel each, which cut
    the batch-norm time of this GAN's step about 4x on CPU. Same weights, config and
    checkpoint layout as keras.layers.BatchNormalization; the moving variance uses the
    unbiased batch variance (as the fused kernel returns it). Falls back to the parent for
    synchronised statistics and for inputs that are not 4-D channels-last.
    """

    def call(self, inputs, training=None, mask=None):
        if self.synchronized or len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = self.gamma if self.scale else tf.ones([channels])
        offset = self.beta if self.center else tf.zeros([channels])
        is_training = bool(training and self.trainable)
        # In training, exponential_avg_factor makes the kernel return the updated moving
        # statistics; in inference it normalises with them.
        outputs, moving_mean, moving_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            tf.convert_to_tensor(scale),
            tf.convert_to_tensor(offset),
            mean=tf.convert_to_tensor(self.moving_mean),
            variance=tf.convert_to_tensor(self.moving_variance),
            epsilon=self.epsilon,
            is_training=is_training,
            exponential_avg_factor=1.0 - self.momentum if is_training else 1.0,
        )
        if is_training:
            self.moving_mean.assign(moving_mean)
            self.moving_variance.assign(moving_variance)
        return outputs


@keras.saving.register_keras_serializable(package="tf_t2i")
class LeakyReLU(keras.layers.LeakyReLU):
    """keras.layers.LeakyReLU whose gradient reads the activation's output, not its input.

    TensorFlow's LeakyRelu gradient reads the op's input. After a conv with a bias, grappler's
    remapper fuses Conv2D + BiasAdd + LeakyRelu into one op and deletes the BiasAdd that the
    gradient still reads, so the remapper fails on the whole train step ("remapper failed:
    ... fanout '.../LeakyReluGrad' exist for missing node '.../BiasAdd'", TF 2.21, CPU; with
    Keras's own layers too) and none of its fusions apply. With a positive slope the output
    is positive exactly where the input is, so LeakyReluGrad on the output is the same
    gradient, bit for bit, and the BiasAdd keeps one consumer: the fusion is valid.

    Input and output: any shape, same dtype.
    """

    def call(self, inputs):
        if self.negative_slope <= 0:
            return super().call(inputs)
        return leaky_relu(inputs, self.negative_slope)


def leaky_relu(x, slope: float):
    """tf.nn.leaky_relu(x, slope) for slope > 0, its gradient computed from the output."""

    @tf.custom_gradient
    def activation(x):
        y = tf.nn.leaky_relu(x, slope)

        def grad(dy):
            return tf.raw_ops.LeakyReluGrad(gradients=dy, features=y, alpha=slope)

        return y, grad

    return activation(x)


def batch_norm(config: ModelConfig, name: str) -> keras.layers.BatchNormalization:
    """Batch norm; with config.sync_batch_norm, statistics span every replica's batch.

    Synchronised statistics make a distributed step equal the one-device step on the
    global batch; unsynchronised ones (the default) normalise each replica's share alone
    and, with the CPU kernels (models/kernels.py), use TF's fused kernel.
    """
    from tf_t2i.models.kernels import batch_normalization

    return batch_normalization(config.kernels, synchronized=config.sync_batch_norm, name=name)


@keras.saving.register_keras_serializable(package="tf_t2i")
class MinibatchStddev(keras.layers.Layer):
    """Appends the batch's feature spread as one more channel (Karras et al. 2018, sec. 3).

    The spread is the standard deviation of each feature over the batch, averaged over all
    features and positions: one scalar, tiled over [B, H, W, 1]. A generator that draws too
    few kinds of image makes batches with less spread than real ones, which D can then see;
    a batch of mixed captions hides collapse within one caption (for that, mode seeking).
    The statistic covers the batch of each call (one replica's share under tf.distribute, like
    unsynchronised batch norm), so real and generated images must be passed in separate
    calls, as train_step does.

    Input [B, H, W, C] -> output [B, H, W, C + 1], same dtype.

    Example:
        >>> MinibatchStddev()(tf.zeros([8, 4, 4, 512])).shape
        TensorShape([8, 4, 4, 513])

    Reference:
        Karras et al., "Progressive Growing of GANs", ICLR 2018.
    """

    def call(self, inputs):
        values = tf.cast(inputs, tf.float32)
        _, variance = tf.nn.moments(values, axes=[0])  # [H, W, C]
        spread = tf.reduce_mean(tf.sqrt(variance + 1e-8))
        shape = tf.concat([tf.shape(inputs)[:-1], [1]], axis=0)
        feature = tf.cast(tf.fill(shape, spread), inputs.dtype)
        return tf.concat([inputs, feature], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


@keras.saving.register_keras_serializable(package="tf_t2i")
class NoiseRotation(keras.layers.Layer):
    """Turns each image about its centre by an angle that its noise alone sets.

    angle = max_angle * tanh(z . w + b) radians, w and b learnt (w starts Glorot-uniform,
    so at the start the angle already spreads over most of +-max_angle). The image is
    resampled bilinearly at the turned pixel centres; a source point outside the image
    takes the nearest edge pixel. A positive angle turns the picture counter-clockwise as
    displayed (tf.image.rot90's sense). The angle is differentiable in w, b and z, so G
    learns which turns D accepts, and since only z sets it, a pose that the captions leave
    free is one direction of z, the same under every caption, for the style encoder to
    read (LR-GAN's affine transform of its foreground, Yang et al. 2017; spatial
    transformers, Jaderberg et al. 2015).

    Inputs [images [B, H, W, C], noise [B, Z]] -> turned images [B, H, W, C], images' dtype.

    Example:
        >>> NoiseRotation(0.25)([tf.zeros([2, 8, 8, 3]), tf.zeros([2, 100])]).shape
        TensorShape([2, 8, 8, 3])
    """

    def __init__(self, max_angle: float, **kwargs):
        super().__init__(**kwargs)
        self.max_angle = float(max_angle)

    def build(self, input_shape):
        _, noise_shape = input_shape
        self.kernel = self.add_weight(
            shape=(noise_shape[-1], 1), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")

    def angles(self, noise):
        """The angle (rad) that each z turns its image by, [B], in the layer's dtype."""
        noise = tf.cast(noise, self.compute_dtype)
        return self.max_angle * tf.tanh(tf.matmul(noise, self.kernel) + self.bias)[:, 0]

    def call(self, inputs, training=None):
        images, noise = inputs
        angles = self.angles(noise)
        turn = self._turn(training)
        return tf.cast(turn(tf.cast(images, angles.dtype), angles), images.dtype)

    def _turn(self, training):
        """The function that turns images [B, H, W, C] by angles [B]."""
        return rotate_images

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "max_angle": self.max_angle}


@keras.saving.register_keras_serializable(package="tf_t2i")
class CpuNoiseRotation(NoiseRotation):
    """NoiseRotation for the CPU kernels (models/kernels.py): the same weights and
    pixels, but while training it turns the images with `rotate_images_compiled`."""

    def _turn(self, training):
        return rotate_images_compiled if training else rotate_images


def rotate_images(images, angles):
    """Turns images [B, H, W, C] about their centres by angles [B] (radians, counter-clockwise).

    Bilinear resampling; a source point outside the image is moved to its nearest edge.
    Differentiable in the images and in the angles (TensorFlow's own gradients; the CPU
    kernels' `rotate_images_compiled` gives the same pixels and gradients faster).
    """
    (row0, col0, row1, col1), frow, fcol, _ = _rotation_sources(angles, images.shape[1:3])
    corners = _corners(images, [(row0, col0), (row0, col1), (row1, col0), (row1, col1)])
    return _bilinear(corners, frow, fcol)


def _rotation_sources(angles, size):
    """Where each pixel of images of `size` (H, W) turned by `angles` [B] samples its source.

    Returns (row0, col0, row1, col1), the integer corners around each source point
    [B, H, W]; frow and fcol, its fractional offsets from (row0, col0) [B, H, W, 1]; and
    (d_row, d_col), the rate at which the source point moves with the angle [B, H, W, 1],
    0 where it was moved to the edge (the clamp passes no gradient there).
    """
    height, width = size
    rows, cols = tf.meshgrid(
        tf.range(height, dtype=angles.dtype) - (height - 1) / 2,
        tf.range(width, dtype=angles.dtype) - (width - 1) / 2,
        indexing="ij",
    )  # [H, W] offsets of each output pixel from the centre (rows point down)
    cos, sin = tf.cos(angles)[:, None, None], tf.sin(angles)[:, None, None]
    # the output pixel at (col, row) shows the source point turned back by the angle
    source_cols = cos * cols - sin * rows + (width - 1) / 2
    source_rows = sin * cols + cos * rows + (height - 1) / 2
    inside_cols = tf.cast((source_cols >= 0) & (source_cols <= width - 1), angles.dtype)
    inside_rows = tf.cast((source_rows >= 0) & (source_rows <= height - 1), angles.dtype)
    d_col = (-sin * cols - cos * rows) * inside_cols
    d_row = (cos * cols - sin * rows) * inside_rows
    source_cols = tf.clip_by_value(source_cols, 0.0, width - 1.0)
    source_rows = tf.clip_by_value(source_rows, 0.0, height - 1.0)
    col0, row0 = tf.floor(source_cols), tf.floor(source_rows)
    fcol, frow = (source_cols - col0)[..., None], (source_rows - row0)[..., None]
    col0, row0 = tf.cast(col0, tf.int32), tf.cast(row0, tf.int32)
    col1, row1 = tf.minimum(col0 + 1, width - 1), tf.minimum(row0 + 1, height - 1)
    return (row0, col0, row1, col1), frow, fcol, (d_row[..., None], d_col[..., None])


def _flat_indices(row, col, width):
    """[B, H*W]: the index of pixel (row, col) [B, H, W] in its image's flattened pixels."""
    return tf.reshape(row * width + col, [tf.shape(row)[0], -1])


def _corners(images, corners):
    """The source pixels [B, H, W, C] of images at each (row, col) pair of int [B, H, W]."""
    height, width, channels = images.shape[1:]
    flat = tf.reshape(images, [-1, height * width, channels])
    return [
        tf.reshape(tf.gather(flat, _flat_indices(row, col, width), batch_dims=1), tf.shape(images))
        for row, col in corners
    ]


def _bilinear(corners, frow, fcol):
    top_left, top_right, bottom_left, bottom_right = corners
    top = (1 - fcol) * top_left + fcol * top_right
    bottom = (1 - fcol) * bottom_left + fcol * bottom_right
    return (1 - frow) * top + frow * bottom


@tf.function(jit_compile=True)
def _rotate_compiled(images, angles):
    return rotate_images(images, angles)


@tf.function(jit_compile=True)
def _rotation_gradients(upstream, images, angles):
    """rotate_images' gradients for the images and the angles, given upstream [B, H, W, C]."""
    batch, height, width, channels = tf.unstack(tf.shape(images))
    (row0, col0, row1, col1), frow, fcol, (d_row, d_col) = _rotation_sources(
        angles, images.shape[1:3]
    )
    pairs = [(row0, col0), (row0, col1), (row1, col0), (row1, col1)]
    weights = [(1 - frow) * (1 - fcol), (1 - frow) * fcol, frow * (1 - fcol), frow * fcol]
    # images: each output pixel hands its upstream gradient back to its four source
    # pixels by their bilinear weights (the transpose of the resampling; a scatter-add)
    offset = tf.range(batch)[:, None] * (height * width)
    index = tf.stack([_flat_indices(r, c, images.shape[2]) + offset for r, c in pairs])
    d_images = tf.scatter_nd(
        tf.reshape(index, [-1, 1]),
        tf.reshape(tf.stack([upstream * w for w in weights]), [-1, channels]),
        [batch * height * width, channels],
    )
    # angles: the output moves with its source point, along the image's bilinear slope
    top_left, top_right, bottom_left, bottom_right = _corners(images, pairs)
    slope_col = (1 - frow) * (top_right - top_left) + frow * (bottom_right - bottom_left)
    top = top_left + fcol * (top_right - top_left)
    slope_row = bottom_left + fcol * (bottom_right - bottom_left) - top
    d_angles = tf.reduce_sum(upstream * (slope_col * d_col + slope_row * d_row), axis=[1, 2, 3])
    return tf.reshape(d_images, tf.shape(images)), d_angles


@tf.custom_gradient
def rotate_images_compiled(images, angles):
    """rotate_images (the same pixels and gradients) compiled by XLA, with its gradients
    written out: about 2.5x faster forward and backward on this CPU at 64x64, where
    TensorFlow's gradients of the four gathers are slow scatters. Used by the CPU kernels'
    `CpuNoiseRotation` in training only, so that an export holds no XLA function."""

    def gradient(upstream):
        return _rotation_gradients(upstream, images, angles)

    return _rotate_compiled(images, angles), gradient
