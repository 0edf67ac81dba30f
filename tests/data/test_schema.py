"""The TFRecord example format and the dataset.json manifest."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.data import schema
from tf_t2i.errors import T2IError


def _manifest(**overrides):
    fields = dict(
        schema_version=schema.SCHEMA_VERSION,
        source={"name": "shapes", "options": {"seed": 1}},
        image_size=76,
        crop_size=64,
        channels=3,
        encoder={"spec": "use-m3", "dim": 512, "fingerprint": "ab12"},
        splits={"train": {"num_examples": 3, "shards": [
            {"file": "train-00000-of-00001.tfrecord", "sha256": "00", "num_examples": 3}]}},
        class_names=["a", "b"],
        attribute_names=["x"],
        captions_per_image=5,
        has_masks=True,
        skipped={"corrupt_image": 1},
    )  # fmt: skip
    fields.update(overrides)
    return schema.Manifest(**fields)


def test_manifest_round_trip(tmp_path):
    manifest = _manifest()
    schema.write_manifest(tmp_path, manifest)
    loaded = schema.read_manifest(tmp_path)
    assert loaded == manifest
    assert loaded.embedding_dim == 512 and loaded.num_classes == 2 and loaded.num_attributes == 1
    assert loaded.num_examples("train") == 3
    assert loaded.shard_files(tmp_path, "train") == [
        str(tmp_path / "train-00000-of-00001.tfrecord")
    ]
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary


def test_manifest_names_missing_split(tmp_path):
    with pytest.raises(T2IError, match="split 'val'.*has train"):
        _manifest().num_examples("val")


def test_crop_size_defaults_to_image_size():
    assert _manifest(crop_size=0).crop_size == 76


def test_read_manifest_missing(tmp_path):
    with pytest.raises(T2IError, match="dataset.json not found.*t2i convert"):
        schema.read_manifest(tmp_path)


def test_read_manifest_not_json(tmp_path):
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(T2IError, match="dataset.json: not a valid manifest"):
        schema.read_manifest(tmp_path)


def test_read_manifest_missing_field(tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(T2IError, match="missing field.*image_size"):
        schema.read_manifest(tmp_path)


def test_read_manifest_newer_version(tmp_path):
    data = _manifest().to_dict()
    data["schema_version"] = schema.SCHEMA_VERSION + 1
    (tmp_path / "dataset.json").write_text(json.dumps(data))
    with pytest.raises(T2IError, match="newer than this tf_t2i reads"):
        schema.read_manifest(tmp_path)


def test_shard_name():
    assert schema.shard_name("train", 3, 12) == "train-00003-of-00012.tfrecord"


def test_example_round_trip():
    embeddings = np.arange(6, dtype=np.float32).reshape(2, 3)
    serialized = schema.make_example(
        image=b"PNGBYTES", image_format="png", height=4, width=4, image_id="dir/é.png",
        captions=["a red bird", "un oiseau rouge"], embeddings=embeddings, label=7,
        label_text="cardinal", attributes=[0.0, 1.0], mask=b"MASK",
    )  # fmt: skip
    parsed = tf.io.parse_single_example(serialized, schema.feature_spec())
    assert parsed[schema.IMAGE].numpy() == b"PNGBYTES"
    assert parsed[schema.IMAGE_ID].numpy().decode() == "dir/é.png"
    assert parsed[schema.LABEL].numpy() == 7
    assert parsed[schema.LABEL_TEXT].numpy() == b"cardinal"
    assert [c.decode() for c in tf.sparse.to_dense(parsed[schema.CAPTIONS]).numpy()] == [
        "a red bird",
        "un oiseau rouge",
    ]
    np.testing.assert_array_equal(
        tf.sparse.to_dense(parsed[schema.EMBEDDINGS]).numpy().reshape(2, 3), embeddings
    )
    np.testing.assert_array_equal(tf.sparse.to_dense(parsed[schema.ATTRIBUTES]).numpy(), [0, 1])
    assert parsed[schema.MASK].numpy() == b"MASK"
    example = tf.train.Example.FromString(serialized)
    assert example.features.feature[schema.IMAGE_HEIGHT].int64_list.value == [4]


def test_example_without_mask_or_attributes_parses_with_defaults():
    serialized = schema.make_example(
        image=b"x", image_format="jpeg", height=1, width=1, image_id="i",
        captions=["c"], embeddings=np.zeros((1, 2), np.float32),
    )  # fmt: skip
    parsed = tf.io.parse_single_example(serialized, schema.feature_spec())
    assert parsed[schema.MASK].numpy() == b""
    assert parsed[schema.LABEL].numpy() == -1
    assert tf.sparse.to_dense(parsed[schema.ATTRIBUTES]).shape == [0]
