"""Inception-v3 ImageNet features for FID/KID, from local weights only.

`t2i evaluate --features inception` swaps the evaluator's penultimate features
for Inception-v3's 2048-d pool features (the network behind published FIDs).
The weights must already be on disk: in the Keras cache
($KERAS_HOME/models/, default ~/.keras/models/) or at a path the user gives.
Offline, a missing file is a clear error, never a download attempt and never
a silent fallback to other features.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from tf_t2i.errors import T2IError

# the file keras.applications.InceptionV3(include_top=False) downloads and caches
NOTOP_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INPUT_SIZE = 299
FEATURE_DIM = 2048


def keras_cache_weights() -> pathlib.Path:
    """Where Keras keeps the downloaded Inception-v3 (no top) weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return pathlib.Path(home, "models", NOTOP_WEIGHTS)


def resolve_weights(weights: str | os.PathLike | None) -> pathlib.Path:
    """Finds the Inception-v3 weights file, or explains how to provide it.

    Args:
        weights: an explicit .h5 path, or None to use the Keras cache.

    Returns:
        The path of an existing weights file.

    Raises:
        T2IError: if the file is not on disk.
    """
    if weights is not None:
        path = pathlib.Path(weights).expanduser()
        if not path.is_file():
            raise T2IError(f"--inception-weights: no such file: {path}")
        return path
    path = keras_cache_weights()
    if not path.is_file():
        raise T2IError(
            f"--features inception needs the Inception-v3 ImageNet weights on disk, "
            f"but {path} does not exist and tf_t2i does not download them. Copy "
            f"{NOTOP_WEIGHTS} there (or set KERAS_HOME), pass --inception-weights PATH, "
            f"or use the default `--features evaluator`."
        )
    return path


class InceptionFeatures:
    """Images -> Inception-v3 pool features.

    Args:
        weights: path of the no-top .h5 weights, or None for the Keras cache.

    Example:
        >>> features = InceptionFeatures()(images)  # float32 [N, 2048]
    """

    def __init__(self, weights: str | os.PathLike | None = None):
        import keras
        import tensorflow as tf

        # === Config ===
        self.weights = resolve_weights(weights)
        # === Layers ===
        self.network = keras.applications.InceptionV3(
            include_top=False,
            weights=str(self.weights),
            input_shape=(INPUT_SIZE, INPUT_SIZE, 3),
            pooling="avg",
        )
        self._forward = tf.function(self._features, reduce_retracing=True)

    def _features(self, images):
        import tensorflow as tf

        if images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        # keras' inception preprocessing maps [0, 255] to [-1, 1]: our images are already there
        images = tf.image.resize(images, (INPUT_SIZE, INPUT_SIZE), method="bilinear")
        return self.network(images, training=False)

    def __call__(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Features of images float32 [N, H, W, C] in [-1, 1] -> float32 [N, 2048]."""
        outputs = [
            self._forward(images[start : start + batch_size]).numpy()
            for start in range(0, len(images), batch_size)
        ]
        return np.concatenate(outputs) if outputs else np.zeros((0, FEATURE_DIM), np.float32)
