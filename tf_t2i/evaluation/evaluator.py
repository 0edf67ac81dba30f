"""The evaluator: a small CNN trained on a data set's real images.

It classifies an image's label (softmax over the manifest's class names) and
attributes (sigmoid per attribute name); its penultimate layer gives the
features that FID, KID and diversity are measured in. Trained once per data
set with `t2i evaluator train --data DIR`, it is stored next to the data:

    DIR/evaluator/evaluator.keras   the Keras model (features + heads)
    DIR/evaluator/evaluator.json    data fingerprint, names, real test accuracy

`Evaluator.load` refuses a model whose fingerprint does not match the data
set being evaluated: its classes and its feature scale belong to other data.
Training it is in evaluator_training.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib

import numpy as np

from tf_t2i.errors import T2IError
from tf_t2i.evaluation import metrics

FEATURE_DIM = 128
ATTRIBUTE_LOSS_WEIGHT = 4.0
DEFAULT_SUBDIR = "evaluator"
MODEL_FILE = "evaluator.keras"
# held-out split preference for the evaluator's reported accuracy
HELD_OUT_SPLITS = ("test", "val", "validation")
# splits the evaluator trains on besides "train" (the GAN does not)
EXTRA_TRAIN_SPLITS = ("holdout",)


def default_path(data_dir: str | os.PathLike) -> pathlib.Path:
    """Where `t2i evaluator train` stores (and `t2i evaluate` looks for) the evaluator."""
    return pathlib.Path(data_dir) / DEFAULT_SUBDIR / MODEL_FILE


def info_path(model_path: str | os.PathLike) -> pathlib.Path:
    """The JSON written beside an evaluator .keras file."""
    return pathlib.Path(model_path).with_suffix(".json")


def dataset_fingerprint(manifest) -> str:
    """A hash of what makes two data sets the same for an evaluator.

    It covers the shard checksums of every split, the class and attribute
    names and the image geometry, so a moved copy of a data set matches and a
    re-converted one with other content does not.
    """
    content = {
        "shards": {
            split: sorted(shard["sha256"] for shard in info["shards"])
            for split, info in sorted(manifest.splits.items())
        },
        "class_names": list(manifest.class_names),
        "attribute_names": list(manifest.attribute_names),
        "image_size": manifest.image_size,
        "crop_size": manifest.crop_size,
        "channels": manifest.channels,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def build_evaluator_network(
    image_size: int,
    channels: int,
    num_classes: int,
    num_attributes: int,
    feature_dim: int = FEATURE_DIM,
):
    """The evaluator CNN.

    Strided 3x3 conv blocks halve the image until it is at most 8x8. Global
    average and max pooling of that map say what is drawn whatever its
    place; a coarse 4x4 map of a few channels keeps where it is (captions
    name positions). Both feed `feature_dim` ReLU features.

    Args:
        image_size: square input size (28, 32, 64, 128, ...).
        channels: 1 or 3.
        num_classes: size of the label softmax (0: no label head).
        num_attributes: number of sigmoid attribute outputs (0: none).
        feature_dim: width of the feature layer.

    Returns:
        keras.Model: images float32 [B, S, S, C] in [-1, 1] -> dict
        {"features": [B, feature_dim], "label": [B, num_classes] probabilities,
        "attributes": [B, num_attributes] probabilities}; a head is absent
        when its size is 0.
    """
    import keras
    from keras import layers

    if num_classes == 0 and num_attributes == 0:
        raise T2IError(
            "the data set has neither class names nor attribute names (dataset.json), so "
            "there is nothing to train the evaluator on; use `--features inception`"
        )
    images = keras.Input((image_size, image_size, channels), name="images")
    x = layers.Conv2D(32, 3, padding="same", name="stem")(images)
    x = layers.ReLU(name="stem_relu")(x)
    num_blocks = max(2, math.ceil(math.log2(image_size / 8)))
    for i in range(num_blocks):
        x = layers.Conv2D(
            min(32 * 2 ** (i + 1), 256), 3, strides=2, padding="same", name=f"conv{i}"
        )(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        x = layers.Conv2D(x.shape[-1], 3, padding="same", name=f"conv{i}b")(x)
        x = layers.BatchNormalization(name=f"bn{i}b")(x)
        x = layers.ReLU(name=f"relu{i}b")(x)
    # (B, S, S, 64 * 2^(blocks-1)), S <= 8
    # what is drawn, wherever it is: colour and shape
    pooled = layers.Concatenate(name="pooled")(
        [layers.GlobalAveragePooling2D(name="gap")(x), layers.GlobalMaxPooling2D(name="gmp")(x)]
    )
    # where it is: a coarse map of a few channels (captions name positions)
    where = layers.Conv2D(8, 1, activation="relu", name="where_conv")(x)
    where = layers.AveragePooling2D(2, padding="same", name="where_pool")(where)
    where = layers.Flatten(name="where")(where)
    x = layers.Concatenate(name="what_where")([pooled, where])
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)
    # (B, feature_dim)
    x = layers.Dropout(0.3, name="dropout")(features)
    outputs = {"features": features}
    if num_classes:
        outputs["label"] = layers.Dense(num_classes, activation="softmax", name="label")(x)
    if num_attributes:
        outputs["attributes"] = layers.Dense(
            num_attributes, activation="sigmoid", name="attributes"
        )(x)
    return keras.Model(images, outputs, name="evaluator")


def head_sizes(network) -> tuple[int, int]:
    """(num_classes, num_attributes) of an evaluator network; 0 for an absent head."""
    return tuple(
        int(network.output[k].shape[-1]) if k in network.output else 0
        for k in ("label", "attributes")
    )


def _heads(outputs: dict, batch: int, sizes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Label and attribute probabilities of one network call, [B, 0] for absent heads."""
    return tuple(
        np.asarray(outputs[k]) if k in outputs else np.zeros((batch, size), np.float32)
        for k, size in zip(("label", "attributes"), sizes, strict=True)
    )


def real_batches(data_dir, split: str, batch_size: int, limit: int | None = None):
    """Yields the numpy batches of a split in file order (no augmentation, no repeat)."""
    from tf_t2i.data.input import make_dataset

    dataset = make_dataset(
        data_dir, split, batch_size, training=False, repeat=False, drop_remainder=False, seed=0
    )
    seen = 0
    for batch in dataset.as_numpy_iterator():
        yield batch
        seen += len(batch["images"])
        if limit is not None and seen >= limit:
            return


def evaluate_accuracy(network, data_dir, split: str, batch_size: int = 256) -> dict:
    """Class and attribute accuracy of an evaluator network on real images of one split."""
    probs, attr_probs, labels, attributes = [], [], [], []
    for batch in real_batches(data_dir, split, batch_size):
        out = network(batch["images"], training=False)
        label_probs, attribute_probs = _heads(out, len(batch["images"]), head_sizes(network))
        probs.append(label_probs)
        attr_probs.append(attribute_probs)
        labels.append(batch["labels"])
        attributes.append(batch["attributes"])
    if not probs:
        raise T2IError(f"{data_dir}: split '{split}' has no examples")
    result = {}
    if probs[0].shape[1]:
        result["class_accuracy"] = metrics.class_accuracy(
            np.concatenate(probs), np.concatenate(labels)
        )
    if attr_probs[0].shape[1]:
        per_attr, exact = metrics.attribute_accuracy(
            np.concatenate(attr_probs), np.concatenate(attributes)
        )
        result.update(attribute_accuracy=per_attr, attribute_exact_match=exact)
    return result


class Evaluator:
    """A trained evaluator: features for distances and posteriors for accuracy.

    Args:
        network: the keras.Model from `build_evaluator_network`.
        info: the metadata stored beside it (fingerprint, names, accuracy).
        feature_extractor: optional callable images -> features that replaces
            the network's own features (Inception-v3 with `--features inception`).

    Example:
        >>> evaluator = Evaluator.load(data_dir=data_dir)
        >>> out = evaluator.predict(images)  # features, probs, attr_probs
    """

    def __init__(self, network, info: dict, feature_extractor=None):
        import tensorflow as tf

        # === Config ===
        self.network = network
        self.info = info
        self.feature_extractor = feature_extractor
        self.features_name = "inception" if feature_extractor is not None else "evaluator"
        self._forward = tf.function(
            lambda images: network(images, training=False), reduce_retracing=True
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike | None = None,
        data_dir: str | os.PathLike | None = None,
        features: str = "evaluator",
        inception_weights: str | os.PathLike | None = None,
    ) -> Evaluator:
        """Loads a saved evaluator and checks that it belongs to `data_dir`.

        Args:
            path: the .keras file (or its directory); default
                DATA_DIR/evaluator/evaluator.keras.
            data_dir: the data set about to be evaluated; its fingerprint must
                match the one recorded at training time.
            features: "evaluator" (the network's own) or "inception".
            inception_weights: the Inception-v3 no-top .h5 for "inception".

        Raises:
            T2IError: missing evaluator, other data set, unavailable Inception weights.
        """
        import keras

        if features not in ("evaluator", "inception"):
            raise T2IError(f"--features: expected 'evaluator' or 'inception', got {features!r}")
        # resolve Inception first: its absence is the more fundamental error offline
        extractor = None
        if features == "inception":
            from tf_t2i.evaluation.inception import InceptionFeatures, resolve_weights

            resolve_weights(inception_weights)
        if path is None:
            if data_dir is None:
                raise T2IError("Evaluator.load: give the evaluator path or the data directory")
            path = default_path(data_dir)
        path = pathlib.Path(path)
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.is_file():
            hint = f" --data {data_dir}" if data_dir is not None else " --data DIR"
            raise T2IError(
                f"no evaluator at {path}; train one first with `t2i evaluator train{hint}`"
            )
        meta = info_path(path)
        if not meta.is_file():
            raise T2IError(f"{meta} is missing: it records which data set {path} was trained on")
        info = json.loads(meta.read_text(encoding="utf-8"))
        if data_dir is not None:
            from tf_t2i.data.schema import read_manifest

            expected = dataset_fingerprint(read_manifest(data_dir))
            if info.get("data_fingerprint") != expected:
                raise T2IError(
                    f"the evaluator {path} was trained on another data set "
                    f"({info.get('data_dir')}, fingerprint {info.get('data_fingerprint')}) "
                    f"than {data_dir} (fingerprint {expected}); train one for this data with "
                    f"`t2i evaluator train --data {data_dir}`"
                )
        if features == "inception":
            extractor = InceptionFeatures(inception_weights)
        network = keras.saving.load_model(path, compile=False)
        return cls(network, info, extractor)

    def predict(self, images: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
        """Runs the evaluator on images float32 [N, S, S, C] in [-1, 1].

        Returns:
            {"features": float32 [N, F], "probs": float32 [N, K],
             "attr_probs": float32 [N, A]}.
        """
        outs = [
            self._forward(images[start : start + batch_size])
            for start in range(0, len(images), batch_size)
        ]
        sizes = head_sizes(self.network)
        heads = [_heads(o, len(o["features"]), sizes) for o in outs]
        result = {
            "features": np.concatenate([np.asarray(o["features"]) for o in outs]),
            "probs": np.concatenate([h[0] for h in heads]),
            "attr_probs": np.concatenate([h[1] for h in heads]),
        }
        if self.feature_extractor is not None:
            result["features"] = self.feature_extractor(images)
        return result
