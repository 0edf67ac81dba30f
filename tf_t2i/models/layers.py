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
