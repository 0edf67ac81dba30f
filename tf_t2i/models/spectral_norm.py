"""Spectral normalisation (Miyato et al. 2018) for D's layers: the kernel over its largest
singular value, estimated by one power iteration per training call.

An unconstrained D can change its verdict steeply from one pixel to the next, and G then
follows that gradient into fine texture. Dividing each layer's kernel by its spectral norm
bounds how fast D's output can move with its input (each layer is 1-Lipschitz), which is
what SNGAN and BigGAN rely on. The estimate's vector u is a non-trainable weight that each
training call advances by one step of the power iteration; inference reuses it as is.

Reference:
    Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_t2i.models.cpu_conv import CpuConv2D, bias_add


def spectral_normalize(kernel: tf.Tensor, u: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One power-iteration step and the normalised kernel.

    Args:
        kernel: float32 [..., out]; its matrix is the kernel reshaped to [in, out].
        u: float32 [1, out], the current estimate of the top right-singular vector.

    Returns:
        (kernel / sigma, the advanced u [1, out]); sigma = v^T W u with v = W u / |W u|.
        No gradient flows through u or v (as in the paper), only through W.

    Example:
        >>> w = tf.constant([[3.0, 0.0], [0.0, 1.0]])
        >>> normalized, _ = spectral_normalize(w, tf.constant([[1.0, 0.0]]))
        >>> float(tf.reduce_max(tf.linalg.svd(normalized, compute_uv=False)))
        1.0
    """
    matrix = tf.reshape(kernel, [-1, kernel.shape[-1]])  # (in, out)
    v = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(u, matrix, transpose_b=True)))  # (1, in)
    u = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(v, matrix)))  # (1, out)
    sigma = tf.reduce_sum(tf.matmul(v, matrix) * u)
    return kernel / sigma, u


class _SpectralNorm:
    """Mixin for a layer with a `kernel`: adds `spectral_u`, and its call applies the layer's
    op (`_apply`, the convolution by default) to the normalised kernel, then adds the bias
    (`_add_bias`) and the activation."""

    def build(self, input_shape):
        super().build(input_shape)
        self.spectral_u = self.add_weight(
            shape=(1, self.kernel.shape[-1]),
            name="spectral_u",
            initializer=keras.initializers.RandomNormal(seed=0),
            trainable=False,
            autocast=False,
        )

    def normalized_kernel(self, dtype, training) -> tf.Tensor:
        """The kernel / sigma in `dtype`; in training, u advances by one iteration."""
        # under a mixed policy the kernel reads as the compute dtype: sigma in float32
        kernel = tf.cast(self.kernel, tf.float32)
        normalized, u = spectral_normalize(kernel, tf.convert_to_tensor(self.spectral_u))
        if training:
            self.spectral_u.assign(u)
        return tf.cast(normalized, dtype)

    def call(self, inputs, training=None):
        outputs = self._apply(inputs, self.normalized_kernel(inputs.dtype, training))
        if self.use_bias:
            outputs = self._add_bias(outputs)
        return outputs if self.activation is None else self.activation(outputs)

    def _apply(self, inputs, kernel):
        return self.convolution_op(inputs, kernel)

    def _add_bias(self, outputs):
        return outputs + tf.cast(self.bias, outputs.dtype)


@keras.saving.register_keras_serializable(package="tf_t2i")
class SpectralConv2D(_SpectralNorm, keras.layers.Conv2D):
    """keras.layers.Conv2D (channels last) with a spectrally normalised kernel."""


@keras.saving.register_keras_serializable(package="tf_t2i")
class SpectralCpuConv2D(_SpectralNorm, CpuConv2D):
    """CpuConv2D (its faster gradients) with a spectrally normalised kernel; its bias adds
    with `bias_add`, whose gradient sums in float32, as CpuConv2D's does."""

    def _add_bias(self, outputs):
        return bias_add(outputs, self.bias)


@keras.saving.register_keras_serializable(package="tf_t2i")
class SpectralDense(_SpectralNorm, keras.layers.Dense):
    """keras.layers.Dense on [B, in] with a spectrally normalised kernel."""

    def _apply(self, inputs, kernel):
        return tf.matmul(inputs, kernel)
