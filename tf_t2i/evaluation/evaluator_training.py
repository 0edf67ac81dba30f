"""Training the evaluator: `t2i evaluator train`, and `t2i fit` when none exists yet.

The network (evaluator.py's `build_evaluator_network`) learns the class label
and the attributes of the data set's real train images (plus a "holdout"
split's, whose classes the GAN never sees), is scored on the held-out split,
and is saved with its metadata beside the data:

    DIR/evaluator/evaluator.keras   the Keras model (features + heads)
    DIR/evaluator/evaluator.json    data fingerprint, names, real accuracy
"""

from __future__ import annotations

import datetime
import json
import math
import os
import pathlib

from tf_t2i.errors import T2IError
from tf_t2i.evaluation.evaluator import (
    ATTRIBUTE_LOSS_WEIGHT,
    EXTRA_TRAIN_SPLITS,
    FEATURE_DIM,
    HELD_OUT_SPLITS,
    build_evaluator_network,
    dataset_fingerprint,
    default_path,
    evaluate_accuracy,
    head_sizes,
    info_path,
)


def _training_pairs(dataset, num_classes: int, num_attributes: int):
    """Input-pipeline dicts -> (images, targets) for the heads the data set supports."""
    import tensorflow as tf

    def pair(batch):
        targets = {}
        if num_classes:
            # unlabelled images (-1) would be a class index out of range: weight them out
            targets["label"] = tf.maximum(batch["labels"], 0)
        if num_attributes:
            targets["attributes"] = batch["attributes"]
        weights = {k: tf.ones_like(batch["labels"], tf.float32) for k in targets}
        if num_classes:
            weights["label"] = tf.cast(batch["labels"] >= 0, tf.float32)
        return batch["images"], targets, weights

    return dataset.map(pair, num_parallel_calls=tf.data.AUTOTUNE)


def fit_evaluator(network, dataset, epochs: int, steps_per_epoch: int | None = None):
    """Trains an evaluator network on a data set of input-pipeline batches.

    Args:
        network: from `build_evaluator_network`.
        dataset: tf.data of dicts with images float32 [B, S, S, C] in [-1, 1],
            labels int64 [B] (-1 if none) and attributes float32 [B, A].
        epochs: passes over `dataset`.
        steps_per_epoch: batches per epoch when `dataset` repeats.

    Returns:
        The keras History.
    """
    import keras

    num_classes, num_attributes = head_sizes(network)
    known_losses = {"label": "sparse_categorical_crossentropy", "attributes": "binary_crossentropy"}
    outputs = {k: v for k, v in network.output.items() if k in known_losses}
    losses = {k: known_losses[k] for k in outputs}
    # a view with only the trained heads: Keras wants a loss for every output
    trainer = keras.Model(network.input, outputs)
    # binary cross-entropy is averaged over the attributes, so the head as a
    # whole weighs as much as one class label; weighted up, it learns the
    # attributes the classes do not name (size, position, background)
    weights = {"label": 1.0, "attributes": ATTRIBUTE_LOSS_WEIGHT}
    trainer.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=losses,
        loss_weights={k: weights[k] for k in outputs},
    )
    return trainer.fit(
        _training_pairs(dataset, num_classes, num_attributes),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,  # tf.data input: the caller shuffles
        verbose=0,
    )


def held_out_split(manifest) -> str | None:
    """The first of test / val / validation the data set has, else None."""
    return next((s for s in HELD_OUT_SPLITS if s in manifest.splits), None)


def train_evaluator(
    data_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    epochs: int = 15,
    batch_size: int = 64,
    seed: int = 0,
    log=print,
) -> pathlib.Path:
    """Trains the evaluator on a data set's train split and saves it with its metadata.

    Args:
        data_dir: a data set written by `t2i convert`.
        out: the .keras file to write (default DATA_DIR/evaluator/evaluator.keras).
        epochs: passes over the train split.
        batch_size: training batch size.
        seed: seeds weights and shuffling, so a retrain gives the same evaluator.
        log: where progress lines go.

    Returns:
        The path of the saved .keras file; its .json sibling holds the data set
        fingerprint and the accuracy on the held-out split.
    """
    import keras

    from tf_t2i.data.input import make_dataset
    from tf_t2i.data.schema import read_manifest

    manifest = read_manifest(data_dir)
    out = pathlib.Path(out) if out is not None else default_path(data_dir)
    if out.suffix != ".keras":
        raise T2IError(f"--out: the evaluator is saved as a Keras file ending in .keras, got {out}")
    if "train" not in manifest.splits:
        raise T2IError(f"{data_dir}/dataset.json: no 'train' split to train the evaluator on")
    keras.utils.set_random_seed(seed)
    network = build_evaluator_network(
        manifest.crop_size,  # the input pipeline's output size
        manifest.channels,
        len(manifest.class_names),
        len(manifest.attribute_names),
    )
    # no augmentation: flips would swap the "left" / "right" a caption names
    # a "holdout" split holds the classes the GAN must not see: the evaluator must know them
    splits = ["train"] + [s for s in EXTRA_TRAIN_SPLITS if s in manifest.splits]
    num_train = sum(manifest.num_examples(s) for s in splits)
    train = None
    for split in splits:
        part = make_dataset(
            data_dir, split, batch_size, training=False, seed=seed, repeat=False,
            drop_remainder=False,
        )  # fmt: skip
        train = part if train is None else train.concatenate(part)
    # Only what the evaluator learns from. Unbatching a zero-width tensor (attributes [B, 0]
    # of a data set without attributes) into a cache crashes TensorFlow 2.21 with a
    # segmentation fault in MaybeMoveSliceToElement.
    keys = ["images", "labels"] + (["attributes"] if manifest.num_attributes else [])
    train = train.map(lambda batch: {key: batch[key] for key in keys})
    train = train.unbatch().cache().shuffle(min(num_train, 4096), seed=seed).batch(batch_size)
    log(
        f"training the evaluator on {num_train} images of {' + '.join(splits)} "
        f"({len(manifest.class_names)} classes, {len(manifest.attribute_names)} attributes), "
        f"{epochs} epochs"
    )
    history = fit_evaluator(network, train.repeat(), epochs, math.ceil(num_train / batch_size))
    split = held_out_split(manifest) or "train"
    accuracy = evaluate_accuracy(network, data_dir, split, batch_size)
    log(f"evaluator accuracy on real '{split}' images: {json.dumps(accuracy)}")
    info = {
        "data_fingerprint": dataset_fingerprint(manifest),
        "data_dir": str(pathlib.Path(data_dir).resolve()),
        "source": manifest.source,
        "image_size": manifest.crop_size,
        "channels": manifest.channels,
        "class_names": list(manifest.class_names),
        "attribute_names": list(manifest.attribute_names),
        "feature_dim": FEATURE_DIM,
        "epochs": epochs,
        "seed": seed,
        "train_splits": splits,
        "final_loss": float(history.history["loss"][-1]),
        "accuracy_split": split,
        "real_accuracy": accuracy,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    # write to temporary names first so an interrupted save never leaves a
    # model without its fingerprint (or a half-written file under the real name)
    tmp_model = out.with_name(out.stem + ".tmp.keras")
    network.save(tmp_model)
    tmp_info = out.with_name(out.stem + ".tmp.json")
    tmp_info.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_model, out)
    os.replace(tmp_info, info_path(out))
    return out
