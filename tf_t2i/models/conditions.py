"""Conditions: the inputs of the G and D builders, and the right, wrong and interpolated
conditions that train_step takes from a batch.

One helper serves conditional and unconditional variants: with no conditions the
builders simply get no condition tensors back.
"""

from __future__ import annotations

import keras

from tf_t2i.errors import T2IError
from tf_t2i.models.config import CONDITION_KEYS, INTERPOLABLE_CONDITIONS, ModelConfig
from tf_t2i.models.layers import batch_norm

# Batch key of a condition -> batch key of its mismatching version (from the input pipeline).
WRONG_KEYS = {
    "embeddings": "wrong_embeddings",
    "attributes": "wrong_attributes",
    "labels": "wrong_labels",
}


def right_conditions(config: ModelConfig, batch: dict) -> dict:
    """h: the condition tensors of a batch, keyed like G's and D's inputs."""
    missing = [k for k in config.condition_keys if k not in batch]
    if missing:
        raise T2IError(f"batch: missing condition key(s) {missing} for this model")
    return {key: batch[key] for key in config.condition_keys}


def wrong_conditions(config: ModelConfig, batch: dict) -> dict:
    """h^: the right conditions with every vector condition replaced by its wrong_* version."""
    wrong = {}
    for key in config.condition_keys:
        wrong_key = WRONG_KEYS.get(key)
        if wrong_key is not None and wrong_key not in batch:
            raise T2IError(f"batch: GAN-CLS needs '{wrong_key}' (or set model.cls: false)")
        wrong[key] = batch[wrong_key] if wrong_key else batch[key]
    return wrong


def interpolated_conditions(config: ModelConfig, right: dict, batch: dict) -> dict:
    """GAN-INT's conditions beta*t1 + (1-beta)*t2 (beta = model.interp_beta).

    t1 is each image's condition and t2 its wrong_* condition from the pipeline (the
    condition of another, shuffled example); only text and attribute vectors are
    interpolated, the other conditions are kept.
    """
    beta = config.interp_beta
    interpolated = dict(right)
    for name in INTERPOLABLE_CONDITIONS:
        key = CONDITION_KEYS[name]
        if key in right:
            if WRONG_KEYS[key] not in batch:
                raise T2IError(
                    f"batch: GAN-INT needs '{WRONG_KEYS[key]}' (or set model.interp: false)"
                )
            interpolated[key] = beta * right[key] + (1.0 - beta) * batch[WRONG_KEYS[key]]
    return interpolated


def condition_inputs(config: ModelConfig) -> dict[str, keras.KerasTensor]:
    """Makes one keras.Input per condition, keyed like the input pipeline's batch.

    Args:
        config: the model config.

    Returns:
        A dict among:
            embeddings: float32 [B, embedding_dim] (text)
            attributes: float32 [B, num_attributes]
            labels:     int64 [B] (class)
            masks:      float32 [B, H, W, 1] in [0, 1]
    """
    inputs = {}
    for name in config.conditions:
        if name == "text":
            inputs["embeddings"] = keras.Input((config.embedding_dim,), name="embeddings")
        elif name == "attributes":
            inputs["attributes"] = keras.Input((config.num_attributes,), name="attributes")
        elif name == "class":
            inputs["labels"] = keras.Input((), dtype="int64", name="labels")
        elif name == "mask":
            size = config.image_size
            inputs["masks"] = keras.Input((size, size, 1), name="masks")
    return inputs


def project_conditions(
    inputs: dict[str, keras.KerasTensor], config: ModelConfig, prefix: str
) -> keras.KerasTensor | None:
    """Projects each vector condition to proj_dim and concatenates them (Reed: phi(t)).

    Text and attributes go through Dense + leaky ReLU(0.2); a class label through a learned
    embedding. The result is batch-normalised: sentence embeddings are unit vectors that
    differ little between captions (the projected features varied ~40x less across a batch
    than z), so without it G and D learnt to ignore the condition (samples did not follow
    captions on the shapes data); standardised, each feature varies like z.

    Args:
        inputs: the dict from condition_inputs().
        config: the model config.
        prefix: layer-name prefix ("g" or "d"), so G and D own separate projections.

    Returns:
        [B, proj_dim * number of vector conditions], or None when there is none.
    """
    projected = []
    for name in config.vector_conditions:
        if name == "class":
            embed = keras.layers.Embedding(
                config.num_classes, config.proj_dim, name=f"{prefix}_class_embedding"
            )
            projected.append(embed(inputs["labels"]))  # (B, proj_dim)
            continue
        key = "embeddings" if name == "text" else "attributes"
        x = keras.layers.Dense(config.proj_dim, name=f"{prefix}_{name}_projection")(inputs[key])
        projected.append(keras.layers.LeakyReLU(0.2, name=f"{prefix}_{name}_lrelu")(x))
    if not projected:
        return None
    x = projected[0]
    if len(projected) > 1:
        x = keras.layers.Concatenate(name=f"{prefix}_conditions")(projected)
    return batch_norm(config, name=f"{prefix}_conditions_bn")(x)


def noisy_mask(
    inputs: dict[str, keras.KerasTensor], config: ModelConfig, prefix: str
) -> keras.KerasTensor | None:
    """The mask input, with Gaussian noise while training when mask_noise > 0.

    Returns:
        float32 [B, H, W, 1], or None without the mask condition.
    """
    if "masks" not in inputs:
        return None
    if config.mask_noise > 0:
        noise = keras.layers.GaussianNoise(config.mask_noise, name=f"{prefix}_mask_noise")
        return noise(inputs["masks"])
    return inputs["masks"]


def concat_mask(
    x: keras.KerasTensor, mask: keras.KerasTensor, config: ModelConfig, name: str
) -> keras.KerasTensor:
    """Concatenates the mask, average-pooled to x's resolution, to x's channels.

    Args:
        x: feature map [B, r, r, F].
        mask: [B, H, W, 1] at the image size.
        config: the model config.
        name: a unique layer-name stem.

    Returns:
        [B, r, r, F + 1].
    """
    resolution = x.shape[1]
    factor = config.image_size // resolution
    if factor > 1:
        mask = keras.layers.AveragePooling2D(factor, name=f"{name}_pool")(mask)
    return keras.layers.Concatenate(name=f"{name}_concat")([x, mask])
