"""Tiny model configs and hand-made batches (dicts of tensors, no input pipeline)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.models.config import ModelConfig

EMBEDDING_DIM = 12
NUM_ATTRIBUTES = 5
NUM_CLASSES = 3

# name -> ModelConfig keyword arguments; every conditioning the library supports.
COMBINATIONS = {
    "dcgan": dict(conditions=[]),
    "text_cls_int": dict(conditions=["text"], cls=True, interp=True),
    "text_cls": dict(conditions=["text"], cls=True, interp=False),
    "text_int": dict(conditions=["text"], cls=False, interp=True),
    "text_plain": dict(conditions=["text"], cls=False, interp=False),
    "attributes": dict(conditions=["attributes"]),
    "class": dict(conditions=["class"]),
    "mask": dict(conditions=["mask"], mask_noise=0.1),
    "text_mask": dict(conditions=["text", "mask"], mask_resolutions=[4, 16]),
    # the later remedies: projection term, minibatch spread, mode seeking
    "text_projection": dict(
        conditions=["text", "mask"], projection=True, minibatch_stddev=True, mode_seeking_weight=0.5
    ),
    # DiffAugment on every image D sees
    "text_augment": dict(conditions=["text"], augment=["color", "translation", "cutout"]),
    # G_ema: the moving average generate() draws from
    "text_ema": dict(conditions=["text"], ema_decay=0.9),
    # R1 on real pairs: double backprop through D (and its strided-conv kernels)
    "text_r1": dict(conditions=["text"], r1_gamma=1.0),
    # TAC-GAN: D's auxiliary classifier learns the labels, G is scored on its caption's class
    "text_aux": dict(conditions=["text"], aux_weight=1.0),
    # the style encoder trains with G on |z - S(G(z, h))|
    "text_latent": dict(conditions=["text"], style_encoder=True, latent_regression_weight=1.0),
    # a caption moves only the pixels it names: |G(z, h) - G(z, h')| in G's loss
    "attributes_consistency": dict(conditions=["attributes"], style_consistency_weight=1.0),
    # G turns its image by an angle that z sets
    "text_rotation": dict(conditions=["text"], style_rotation=0.25, mode_seeking_weight=0.5),
}


def tiny_config(image_size=32, channels=3, **overrides) -> ModelConfig:
    """A model small enough for a unit test (ngf = ndf = 4)."""
    values = dict(
        image_size=image_size,
        channels=channels,
        z_dim=8,
        ngf=4,
        ndf=4,
        proj_dim=6,
        embedding_dim=EMBEDDING_DIM,
        num_attributes=NUM_ATTRIBUTES,
        num_classes=NUM_CLASSES,
    )
    values.update(overrides)
    return ModelConfig(**values)


def make_batch(config: ModelConfig, batch_size=4, seed=0, with_noise=False) -> dict:
    """A batch shaped like the input pipeline's (every key, random values)."""
    rng = np.random.default_rng(seed)
    size, b = config.image_size, batch_size
    batch = {
        "images": rng.uniform(-1, 1, (b, size, size, config.channels)),
        "embeddings": rng.normal(size=(b, EMBEDDING_DIM)),
        "wrong_embeddings": rng.normal(size=(b, EMBEDDING_DIM)),
        "attributes": rng.uniform(0, 1, (b, NUM_ATTRIBUTES)),
        "wrong_attributes": rng.uniform(0, 1, (b, NUM_ATTRIBUTES)),
        "masks": (rng.uniform(0, 1, (b, size, size, 1)) > 0.5),
    }
    batch = {k: tf.constant(v, tf.float32) for k, v in batch.items()}
    batch["labels"] = tf.constant(rng.integers(0, NUM_CLASSES, b), tf.int64)
    batch["wrong_labels"] = (batch["labels"] + 1) % NUM_CLASSES
    if with_noise:
        batch["noise"] = tf.constant(rng.normal(size=(b, config.z_dim)), tf.float32)
    return batch


@pytest.fixture
def float32_policy():
    """Runs a test under a policy set by the test, then restores float32."""
    yield
    keras.mixed_precision.set_dtype_policy("float32")
