"""Small layer factories shared by the networks."""

from __future__ import annotations

import keras

from tf_t2i.models.config import ModelConfig


def batch_norm(config: ModelConfig, name: str) -> keras.layers.BatchNormalization:
    """Batch norm; with config.sync_batch_norm, statistics span every replica's batch.

    Synchronised statistics make a distributed step equal the one-device step on the
    global batch; unsynchronised ones (the default) normalise each replica's share alone.
    """
    return keras.layers.BatchNormalization(synchronized=config.sync_batch_norm, name=name)
