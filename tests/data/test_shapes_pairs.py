"""Shapes' pair images (data.options.pairs): a second image of which the captions hold too,
its style (angles, jitter, and the background unless named) drawn anew; stored as
`pair/encoded` and read by the input pipeline as `pair_images`."""

import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.data import input as data_input
from tf_t2i.data.convert import convert
from tf_t2i.data.images import ImageOptions
from tf_t2i.data.prepare import Plan, prepare_record
from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.schema import read_manifest
from tf_t2i.data.sources import get_source
from tf_t2i.data.sources.shapes import BACKGROUNDS, COLORS


def _shape_pixels(image, color):
    """(area, centroid) of the pixels within 40 of the shape's colour."""
    near = np.abs(image.astype(int) - np.array(color)).max(-1) < 40
    ys, xs = np.nonzero(near)
    return near.sum(), np.array([ys.mean(), xs.mean()])


def test_pairs_keep_what_the_captions_name_and_draw_the_rest_anew():
    size = 48
    paired = get_source("shapes", None, num_images=120, image_size=size, pairs=True)
    plain = get_source("shapes", None, num_images=120, image_size=size)
    redrawn, free, turned = 0, 0, 0
    for record, alone in zip(paired.examples("train"), plain.examples("train"), strict=True):
        np.testing.assert_array_equal(record.image, alone.image)  # the image is unchanged
        pair = record.pair_image
        assert pair.shape == record.image.shape and pair.dtype == np.uint8
        named = ["background" in c for c in record.captions]
        assert all(named) or not any(named)  # with pairs, all captions name it or none does
        background = tuple(record.image[0, 0])
        if any(named):
            assert tuple(pair[0, 0]) == background
        else:
            free += 1
            redrawn += tuple(pair[0, 0]) != background
            assert tuple(pair[0, 0]) in BACKGROUNDS.values()
        color = COLORS[record.label_text.split()[0]]
        (area, centre), (pair_area, pair_centre) = (
            _shape_pixels(record.image, color),
            _shape_pixels(pair, color),
        )
        # the same shape, size and place: jitter moves it by at most 0.08 of the side
        assert 0.75 <= pair_area / area <= 1.33, record.image_id
        assert np.abs(pair_centre - centre).max() <= 0.1 * size, record.image_id
        if "circle" not in record.label_text and tuple(pair[0, 0]) == background:
            turned += not np.array_equal(pair, record.image)
    assert free > 40 and 0.45 <= redrawn / free <= 0.85  # 2/3 expected
    assert turned > 40  # every other kind is turned (and moved) anew
    assert paired.info().has_pairs and paired.info().options["pairs"] is True
    assert "pairs" not in plain.info().options  # earlier conversions keep their key


def test_pairs_are_refused_unless_boolean():
    from tf_t2i.errors import T2IError

    with pytest.raises(T2IError, match="pairs must be true or false"):
        get_source("shapes", None, pairs="yes")


def test_conversion_stores_pairs_and_the_input_gives_them_the_images_crop(tmp_path, hash_encoder):
    source = get_source("shapes", None, num_images=24, image_size=20, pairs=True)
    convert(source, tmp_path / "d", encoder=hash_encoder, image_size=16, stored_size=20,
            progress=False)  # fmt: skip
    manifest = read_manifest(tmp_path / "d")
    assert manifest.has_pairs and manifest.source["options"]["pairs"] is True
    dataset = data_input.make_dataset(tmp_path / "d", "train", 8, seed=0, repeat=False)
    batch = next(iter(dataset))
    assert batch["pair_images"].shape == [8, 16, 16, 3]
    assert batch["pair_images"].dtype == tf.float32
    pairs, images = batch["pair_images"].numpy(), batch["images"].numpy()
    assert -1.0 <= pairs.min() and pairs.max() <= 1.0
    assert not np.array_equal(pairs, images)
    # stored, the pair is the source's pair image (the evaluation crop is central)
    records = list(source.examples("test"))
    test = next(iter(data_input.make_dataset(tmp_path / "d", "test", 8, training=False, seed=0,
                                             repeat=False, drop_remainder=False)))  # fmt: skip
    expected = np.stack([r.pair_image[2:18, 2:18] for r in records]) / 127.5 - 1
    np.testing.assert_allclose(test["pair_images"].numpy(), expected, atol=1e-5)
    # data without pairs has no pair_images
    plain = get_source("shapes", None, num_images=24, image_size=16)
    convert(plain, tmp_path / "p", encoder=hash_encoder, image_size=16, progress=False)
    assert not read_manifest(tmp_path / "p").has_pairs
    assert "pair_images" not in next(iter(data_input.make_dataset(tmp_path / "p", "train", 8)))


def test_augment_gives_the_pair_exactly_the_images_crop_and_flip():
    rng = np.random.default_rng(0)
    image = tf.constant(rng.integers(0, 256, (12, 12, 3)), tf.uint8)
    example = {
        "image": image,
        "mask": tf.constant(rng.integers(0, 256, (12, 12, 1)), tf.uint8),
        "pair": 255 - image,
        "captions": tf.constant(["a"]),
        "embeddings": tf.zeros([1, 4]),
        "attributes": tf.zeros([0]),
        "label": tf.constant(0, tf.int64),
    }
    for i in range(6):
        out = data_input.augment(example, tf.constant([0, i], tf.int64), crop_size=8,
                                 image_size=8, training=True, flip=True)  # fmt: skip
        assert out["pair_images"].shape == [8, 8, 3] and out["masks"].shape == [8, 8, 1]
        np.testing.assert_allclose(out["pair_images"], -out["images"], atol=1e-5)


def _plan(**overrides):
    values = dict(image=ImageOptions(stored_size=8), num_attributes=0, has_masks=False,
                  shard_size=10, limit=None, strict=False, batch_size=8, progress=False)  # fmt: skip
    values.update(overrides)
    return Plan(**values)


def test_a_bad_or_missing_pair_image_skips_its_record_by_name():
    image = np.zeros((8, 8, 3), np.uint8)
    record = Record(image=image, image_id="x", split="train", captions=["a red circle"],
                    source_file="data/x.png", pair_image=np.zeros((6, 6, 3), np.uint8))  # fmt: skip
    skipped = prepare_record(record, _plan())
    assert isinstance(skipped, Skipped) and skipped.reason == "bad_annotation"
    assert skipped.file == "data/x.png" and "pair image is 6x6, image is 8x8" in skipped.detail
    record.pair_image = b"not an image"
    skipped = prepare_record(record, _plan())
    assert isinstance(skipped, Skipped) and skipped.detail.startswith("pair image:")
    record.pair_image = None
    skipped = prepare_record(record, _plan(has_pairs=True))
    assert isinstance(skipped, Skipped) and skipped.reason == "missing_annotation"
    record.pair_image = np.full((8, 8, 3), 9, np.uint8)
    prepared = prepare_record(record, _plan(has_pairs=True))
    assert not isinstance(prepared, Skipped) and prepared.pair.startswith(b"\x89PNG")
