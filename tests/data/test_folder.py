"""The folder source: images + captions.jsonl (with labels, attributes and masks)."""

import json

import numpy as np
import pytest
from sources_testing import (
    FIXTURES,
    convert_and_read,
    copy_fixture,
    records,
    skipped,
    split_counts,
)

from tf_t2i.data.sources import get_source
from tf_t2i.errors import T2IError

FOLDER = FIXTURES / "folder"


def append_lines(root, *lines):
    with open(root / "captions.jsonl", "ab") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else line.encode("utf-8"))
            f.write(b"\n")


def test_counts_per_split_and_info():
    source = get_source("folder", str(FOLDER))
    assert split_counts(source) == {"train": 2, "val": 1, "test": 1}
    info = source.info()
    assert info.class_names == ["cat", "dog"] and info.has_masks
    assert info.attribute_names == ["furry", "small", "outdoors"]
    assert info.captions_per_image == 2


def test_record_fields():
    record = records(get_source("folder", str(FOLDER)), "val")[0]
    assert record.image_id == "images/dog_1.png" and record.image[:4] == b"\x89PNG"
    assert record.captions == ["a brown dog", "a dog in the park"]
    assert record.label == 1 and record.label_text == "dog"
    np.testing.assert_array_equal(record.attributes, [0, 1, 1])
    assert record.mask == (FOLDER / "masks/dog_1.png").read_bytes()


def test_bad_json_line_is_bad_annotation_naming_the_line(tmp_path):
    root = copy_fixture("folder", tmp_path)
    append_lines(root, '{"file": "images/cat_1.png", "captions": [', '["not", "an object"]')
    bad = skipped(get_source("folder", str(root)))
    assert [(b.reason, b.file) for b in bad] == [
        ("bad_annotation", f"{root / 'captions.jsonl'}:5"),
        ("bad_annotation", f"{root / 'captions.jsonl'}:6"),
    ]


def test_image_of_a_broken_line_is_not_listed_again_as_no_captions(tmp_path):
    root = copy_fixture("folder", tmp_path)
    for name in ("cut.png", "typed.png", "latin1.png"):
        (root / "images" / name).write_bytes((root / "images/cat_1.png").read_bytes())
    append_lines(
        root,
        '{"file": "images/cut.png", "captions": ["a cat',  # cut off: not JSON
        json.dumps({"file": "images/typed.png", "captions": [1, 2]}),
        b'{"file": "images/latin1.png", "captions": ["caf\xe9"]}',
    )
    bad = skipped(get_source("folder", str(root)))
    assert [(b.reason, b.file.rsplit("/", 1)[-1]) for b in bad] == [
        ("bad_annotation", "captions.jsonl:5"),
        ("bad_annotation", "captions.jsonl:6"),
        ("bad_caption_encoding", "captions.jsonl:7"),
    ]


def test_wrong_attribute_count_is_bad_annotation(tmp_path):
    root = copy_fixture("folder", tmp_path)
    (root / "images/extra.png").write_bytes((root / "images/cat_1.png").read_bytes())
    append_lines(
        root, json.dumps({"file": "images/extra.png", "captions": ["x"], "attributes": [1]})
    )
    (bad,) = skipped(get_source("folder", str(root)))
    assert bad.reason == "bad_annotation" and "1 attributes, expected 3" in bad.detail


def test_non_utf8_line_is_bad_caption_encoding(tmp_path):
    root = copy_fixture("folder", tmp_path)
    append_lines(root, b'{"file": "images/cat_1.png", "captions": ["caf\xe9"]}')
    (bad,) = skipped(get_source("folder", str(root)))
    assert bad.reason == "bad_caption_encoding" and bad.file.endswith("captions.jsonl:5")


def test_unlisted_image_and_empty_captions_are_no_captions(tmp_path):
    root = copy_fixture("folder", tmp_path)
    (root / "images/stray.png").write_bytes((root / "images/cat_1.png").read_bytes())
    lines = (root / "captions.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["captions"] = ["  "]
    lines[0] = json.dumps(first)
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    bad = skipped(get_source("folder", str(root)))
    assert sorted((b.reason, b.file.rsplit("/", 1)[-1]) for b in bad) == [
        ("no_captions", "captions.jsonl:1"),
        ("no_captions", "stray.png"),
    ]


def test_missing_zero_byte_image_and_missing_mask(tmp_path):
    root = copy_fixture("folder", tmp_path)
    (root / "images/cat_1.png").write_bytes(b"")
    (root / "masks/cat_2.png").unlink()
    (root / "images/dog_2.png").unlink()
    bad = skipped(get_source("folder", str(root)))
    assert [(b.reason, b.file.split("folder/")[-1]) for b in bad] == [
        ("empty_image", "images/cat_1.png"),
        ("missing_image", "masks/cat_2.png"),
        ("missing_image", "images/dog_2.png"),
    ]


def test_missing_captions_jsonl_is_an_error(tmp_path):
    root = copy_fixture("folder", tmp_path)
    (root / "captions.jsonl").unlink()
    with pytest.raises(T2IError, match="captions.jsonl"):
        get_source("folder", str(root))


def test_converts_to_tfrecords_with_masks(tmp_path, hash_encoder):
    import tensorflow as tf

    source = get_source("folder", str(FOLDER))
    manifest, example = convert_and_read(source, tmp_path / "folder", hash_encoder, "test")
    assert {s: v["num_examples"] for s, v in manifest.splits.items()} == split_counts(source)
    assert manifest.has_masks and manifest.class_names == ["cat", "dog"]
    assert example["image/id"] == b"images/dog_2.png" and example["label/text"] == b"dog"
    np.testing.assert_array_equal(example["attributes"], [0, 0, 1])
    mask = tf.io.decode_png(example["mask/encoded"]).numpy()
    assert mask.shape == (16, 16, 1) and set(np.unique(mask)) <= set(range(256))


def test_t2i_convert_strict_stops_at_the_bad_line(runner, tmp_path):
    from tf_t2i.cli.main import cli

    root = copy_fixture("folder", tmp_path)
    append_lines(root, '{"file": "images/cat_1.png", "captions": [')
    out = tmp_path / "out"
    args = ["convert", "folder", str(root), "--out", str(out), "--image-size", "16", "--quiet"]
    result = runner.invoke(cli, [*args, "--strict"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{root / 'captions.jsonl'}:5" in result.output
    assert not (out / "dataset.json").exists()
