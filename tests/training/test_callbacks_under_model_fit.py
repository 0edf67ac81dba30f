"""The project's callbacks under `keras.Model.fit`, on real TFRecords of the built-in shapes.

Keras passes `on_train_batch_end` the batch index within the epoch; the callbacks
count global steps themselves, so checkpoint numbers and metrics.jsonl steps
advance across epochs and across a resumed `fit`.
"""

import json
import math

import numpy as np
import pytest
import tensorflow as tf
from fit_testing import checkpoint_weights, tiny_config

from tf_t2i.data.input import make_dataset
from tf_t2i.models.build import build_gan
from tf_t2i.training import callbacks as cb
from tf_t2i.training.metrics_log import MetricsLog
from tf_t2i.training.run_dir import make_checkpoint
from tf_t2i.training.setup import reconcile, resolve_data


@pytest.fixture(scope="module")
def shapes():
    """(data_dir, reconciled config): 96 shapes at 32 px, an 8-wide GAN, batch 16."""
    config = tiny_config()
    data_dir, manifest = resolve_data(config)
    return data_dir, reconcile(config, data_dir, manifest)


def _gan_and_manager(config, directory):
    gan = build_gan(config.model, seed=0)
    manager = tf.train.CheckpointManager(make_checkpoint(gan), str(directory), max_to_keep=20)
    return gan, manager


def _dataset(data_dir, repeat=True):
    return make_dataset(data_dir, "train", 16, image_size=32, seed=0, repeat=repeat)


def _numbers(manager):
    return [int(path.rsplit("-", 1)[1]) for path in manager.checkpoints]


def test_checkpoints_and_metrics_advance_across_epochs_and_resume(tmp_path, shapes):
    data_dir, config = shapes
    gan, manager = _gan_and_manager(config, tmp_path / "checkpoints")
    metrics = tmp_path / "metrics.jsonl"
    callbacks = [cb.NanGuard(), cb.CheckpointSaver(manager, every=2), MetricsLog(metrics, 1)]
    history = gan.fit(
        _dataset(data_dir), epochs=2, steps_per_epoch=3, callbacks=callbacks, verbose=0
    )
    assert set(history.history) >= {"d_loss", "g_loss"}
    assert _numbers(manager) == [2, 4, 6]  # not ckpt-0 or ckpt-2 every epoch
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [
        1, 2, 3, 4, 5, 6,
    ]  # fmt: skip

    # a new model restored from ckpt-6 continues at step 7 (from ConditionalGAN.step)
    resumed, manager = _gan_and_manager(config, tmp_path / "checkpoints")
    make_checkpoint(resumed).restore(manager.latest_checkpoint).assert_existing_objects_matched()
    callbacks = [cb.NanGuard(), cb.CheckpointSaver(manager, every=2), MetricsLog(metrics, 1)]
    resumed.fit(_dataset(data_dir), epochs=1, steps_per_epoch=3, callbacks=callbacks, verbose=0)
    assert _numbers(manager) == [2, 4, 6, 8, 9]  # every 2 steps, and at the end
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_nan_guard_stops_model_fit_before_the_bad_step_is_saved(tmp_path, shapes):
    data_dir, config = shapes
    gan, manager = _gan_and_manager(config, tmp_path / "checkpoints")

    def poison_third(index, batch):
        nan = tf.fill(tf.shape(batch["images"]), float("nan"))
        return dict(batch, images=tf.where(index == 2, nan, batch["images"]))

    dataset = _dataset(data_dir).enumerate().map(poison_third)
    callbacks = [cb.NanGuard(), cb.CheckpointSaver(manager, every=1)]
    with pytest.raises(cb.NonFiniteLossError, match="non-finite loss at step 3: d_loss=nan"):
        gan.fit(dataset, epochs=1, steps_per_epoch=5, callbacks=callbacks, verbose=0)
    assert _numbers(manager) == [1, 2]
    weights = checkpoint_weights(manager.latest_checkpoint).values()
    assert all(np.isfinite(w).all() for w in weights if w.dtype.kind == "f")


def test_gan_fit_on_one_device_as_the_class_docstring_shows(shapes):
    # ConditionalGAN's example: gan.fit(make_dataset(data_dir, batch_size=...), epochs=1),
    # here with repeat=False so that one epoch is one pass over the 96 images
    data_dir, config = shapes
    gan = build_gan(config.model, seed=0)
    history = gan.fit(make_dataset(data_dir, batch_size=16, repeat=False), epochs=1, verbose=0)
    assert int(gan.step.numpy()) == 96 // 16
    assert all(math.isfinite(values[-1]) for values in history.history.values())
    images = gan.generate({"embeddings": np.zeros((2, 512), np.float32)}, seed=0).numpy()
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all()
