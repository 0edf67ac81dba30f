"""DiffAugment: each transform does what it says, eagerly and traced, and D sees it."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import make_batch, tiny_config

from tf_t2i.errors import T2IError
from tf_t2i.models import augment
from tf_t2i.models.build import build_gan


def _images(batch=6, side=16, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, (batch, side, side, channels)), tf.float32)


def _run(fn, images, traced):
    seeds = keras.random.SeedGenerator(3)
    if traced:
        return tf.function(lambda x: fn(x, seeds))(images).numpy()
    return fn(images, seeds).numpy()


def _shifted(image, dy, dx):
    """image shifted down by dy and right by dx, the border filled with -1."""
    out = np.full_like(image, -1.0)
    rows, cols = image.shape[:2]
    out[max(dy, 0) : rows + min(dy, 0), max(dx, 0) : cols + min(dx, 0)] = image[
        max(-dy, 0) : rows + min(-dy, 0), max(-dx, 0) : cols + min(-dx, 0)
    ]
    return out


@pytest.mark.parametrize("traced", [False, True])
def test_translation_shifts_each_image_within_an_eighth(traced):
    images = _images()
    out = _run(augment.translation, images, traced)
    limit = 2  # 16 * 1/8
    offsets = []
    for image, got in zip(images.numpy(), out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-limit, limit + 1)
            for dx in range(-limit, limit + 1)
            if np.array_equal(got, _shifted(image, dy, dx))
        ]
        assert len(matches) == 1, "each output is exactly one shift of its input"
        offsets.append(matches[0])
    assert len(set(offsets)) > 1, "images get their own shifts"


@pytest.mark.parametrize("traced", [False, True])
def test_cutout_zeroes_one_square_and_keeps_the_rest(traced):
    images = _images(batch=8)
    out = _run(augment.cutout, images, traced)
    width = 8  # half of 16
    for image, got in zip(images.numpy(), out, strict=True):
        cut = np.all(got == 0.0, axis=-1)
        rows, cols = np.nonzero(cut)
        assert 0 < cut.sum() <= width * width
        # the cut pixels form one axis-aligned rectangle of at most width x width
        assert rows.max() - rows.min() < width and cols.max() - cols.min() < width
        assert cut.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        np.testing.assert_array_equal(got[~cut], image[~cut])


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("channels", [1, 3])
def test_color_is_an_affine_map_per_image(traced, channels):
    images = _images(channels=channels)
    out = _run(augment.color, images, traced)
    assert not np.allclose(out, images.numpy())
    for image, got in zip(images.numpy(), out, strict=True):
        if channels == 1:
            # brightness and contrast only: got = a * image + b for one (a, b)
            design = np.stack([image.ravel(), np.ones(image.size)], axis=1)
            _, residual, _, _ = np.linalg.lstsq(design, got.ravel(), rcond=None)
            assert float(residual[0]) < 1e-6
        else:
            # the grey level of each pixel is an affine map of its input grey level
            grey_in, grey_out = image.mean(-1).ravel(), got.mean(-1).ravel()
            design = np.stack([grey_in, np.ones(grey_in.size)], axis=1)
            _, residual, _, _ = np.linalg.lstsq(design, grey_out, rcond=None)
            assert float(residual[0]) < 1e-6


def test_no_policy_is_the_identity():
    images = _images()
    out = augment.diff_augment(images, [], keras.random.SeedGenerator(0))
    np.testing.assert_array_equal(out, images)


def test_gradients_flow_through_every_policy():
    images = _images()
    seeds = keras.random.SeedGenerator(1)

    @tf.function
    def grads(x, policies):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = augment.diff_augment(x, policies, seeds)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, x)

    g = grads(images, list(augment.POLICIES)).numpy()
    assert np.isfinite(g).all() and np.abs(g).sum() > 0
    # pixels cut out or shifted away get no gradient; the others do
    g = grads(images, ["translation", "cutout"]).numpy()
    assert 0 < np.mean(g != 0) < 1


def test_config_rejects_unknown_policies_and_moving_a_mask():
    with pytest.raises(T2IError, match="model.augment: unknown"):
        tiny_config(augment=["flip"]).validate()
    with pytest.raises(T2IError, match="off its mask"):
        tiny_config(conditions=["text", "mask"], augment=["translation"]).validate()
    tiny_config(conditions=["text", "mask"], augment=["color"]).validate()


def test_d_sees_augmented_images_only_when_asked():
    batch = make_batch(tiny_config())
    for policies, same in (([], True), (["translation", "cutout"], False)):
        gan = build_gan(tiny_config(augment=policies), seed=0)
        right = {"embeddings": batch["embeddings"]}
        first = gan._image_features(batch["images"], right).numpy()
        second = gan._image_features(batch["images"], right).numpy()
        assert np.array_equal(first, second) == same
        logs = tf.function(gan.train_step)(batch)
        assert all(np.isfinite(float(v)) for v in logs.values())
