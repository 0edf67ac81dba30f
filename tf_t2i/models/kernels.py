"""The device gate for the CPU kernels (`model.kernels: auto | cpu | stock`).

The project's own kernels were tuned on a 2-core AMD EPYC and measured nowhere else:
the convolution layers of `cpu_conv` (dilated-conv filter gradient, space-to-depth
image convs, a bias add whose gradient sums in float32), `FusedBatchNormalization`,
`FusedAdam`, `CpuNoiseRotation` (style_rotation's resampling compiled by XLA, with its
gradients written out), and `jit_compile=False`. On a GPU or TPU they would replace cuDNN
and XLA, so `auto` uses them only when TensorFlow sees neither. `stock` is plain Keras:
Conv2D, Conv2DTranspose, BatchNormalization, Adam and Keras's `jit_compile="auto"`.

Every choice between the two goes through `resolve_kernels`, and the factories here
are the only places that build the kernel-dependent parts. Both settings make layers
and optimizers with the same names, weights and slots, so a checkpoint written with
one restores into the other (tests/models/test_kernels.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tf_t2i.errors import T2IError

if TYPE_CHECKING:
    import keras

KERNELS = ("auto", "cpu", "stock")


def resolve_kernels(setting: str = "auto") -> Literal["cpu", "stock"]:
    """Which kernels to use: "cpu" (the project's) or "stock" (Keras's and TensorFlow's).

    Args:
        setting: auto | cpu | stock. `auto` is "cpu" when no GPU or TPU is visible
            (logical devices) and no TPU strategy is in scope, else "stock".

    Raises:
        T2IError: on an unknown setting.
    """
    if setting in ("cpu", "stock"):
        return setting
    if setting != "auto":
        raise T2IError(f"model.kernels: unknown value {setting!r}; choose one of {KERNELS}")
    import tensorflow as tf

    if isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy):
        return "stock"
    if tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"):
        return "stock"
    return "cpu"


def conv2d(
    setting: str, filters: int, kernel_size, spectral_norm: bool = False, **kwargs
) -> keras.layers.Conv2D:
    """keras.layers.Conv2D, or its CPU-kernel subclass `CpuConv2D` (same weights); with
    spectral_norm, their spectrally normalised versions (models/spectral_norm.py)."""
    import keras

    from tf_t2i.models.cpu_conv import CpuConv2D
    from tf_t2i.models.spectral_norm import SpectralConv2D, SpectralCpuConv2D

    cpu = resolve_kernels(setting) == "cpu"
    if spectral_norm:
        cls = SpectralCpuConv2D if cpu else SpectralConv2D
    else:
        cls = CpuConv2D if cpu else keras.layers.Conv2D
    return cls(filters, kernel_size, **kwargs)


def conv2d_transpose(
    setting: str, filters: int, kernel_size, **kwargs
) -> keras.layers.Conv2DTranspose:
    """keras.layers.Conv2DTranspose, or `CpuConv2DTranspose` (same weights)."""
    import keras

    from tf_t2i.models.cpu_conv import CpuConv2DTranspose

    cpu = resolve_kernels(setting) == "cpu"
    cls = CpuConv2DTranspose if cpu else keras.layers.Conv2DTranspose
    return cls(filters, kernel_size, **kwargs)


def batch_normalization(setting: str, **kwargs) -> keras.layers.BatchNormalization:
    """keras.layers.BatchNormalization, or `FusedBatchNormalization` (same weights).

    The fused layer's moving variance is the unbiased batch variance (TF's fused kernel),
    Keras's the biased one: inference outputs differ by the factor n / (n - 1) in the
    running variance, about 1e-4 relative for this GAN's batch x map sizes.
    """
    import keras

    from tf_t2i.models.layers import FusedBatchNormalization

    cpu = resolve_kernels(setting) == "cpu"
    cls = FusedBatchNormalization if cpu else keras.layers.BatchNormalization
    return cls(**kwargs)


def adam(setting: str, learning_rate, **kwargs) -> keras.optimizers.Adam:
    """keras.optimizers.Adam, or `FusedAdam` (the same variables, names and update)."""
    import keras

    from tf_t2i.models.optimizers import FusedAdam

    cls = FusedAdam if resolve_kernels(setting) == "cpu" else keras.optimizers.Adam
    return cls(learning_rate, **kwargs)


def noise_rotation(setting: str, max_angle: float, **kwargs) -> keras.layers.Layer:
    """`NoiseRotation`, or `CpuNoiseRotation` (same weights and pixels)."""
    from tf_t2i.models.layers import CpuNoiseRotation, NoiseRotation

    cls = CpuNoiseRotation if resolve_kernels(setting) == "cpu" else NoiseRotation
    return cls(max_angle, **kwargs)


def jit_compile(setting: str) -> bool | str:
    """The `jit_compile` default of Model.compile: False with the CPU kernels (XLA was
    slower for this model on this CPU), Keras's "auto" otherwise."""
    return False if resolve_kernels(setting) == "cpu" else "auto"
