"""The celeba source on a six-image fixture in CelebA's distributed layout."""

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
from tf_t2i.data.sources.celeba import compose_captions
from tf_t2i.errors import T2IError

CELEBA = FIXTURES / "celeba"


def test_counts_per_split_follow_list_eval_partition():
    source = get_source("celeba", str(CELEBA))
    assert split_counts(source) == {"train": 4, "val": 1, "test": 1}
    names = source.info().attribute_names
    assert len(names) == 40 and names[0] == "5_o_Clock_Shadow" and names[-1] == "Young"


def test_record_has_0_1_attributes_and_captions_composed_from_them():
    source = get_source("celeba", str(CELEBA), captions_per_image="4")
    record = records(source, "train")[0]
    names = source.info().attribute_names
    on = {names[i] for i in np.flatnonzero(record.attributes)}
    assert on == {"Smiling", "Blond_Hair", "Eyeglasses", "Young", "No_Beard"}
    assert record.attributes.dtype == np.float32 and set(record.attributes) == {0.0, 1.0}
    assert record.captions[0] == "a smiling woman with blond hair and eyeglasses"
    assert len(set(record.captions)) == 4  # paraphrases, not copies
    assert record.image_id == "000001.jpg" and record.label == -1
    assert record.captions == records(source, "train")[0].captions  # deterministic


def test_compose_captions_mentions_gender_beard_and_hat():
    captions = compose_captions({"Male": True, "No_Beard": False, "Wearing_Hat": True}, 3)
    assert captions[0] == "a man with a hat and a beard"
    assert all("woman" not in c for c in captions)


def test_zero_byte_and_missing_images(tmp_path):
    root = copy_fixture("celeba", tmp_path)
    (root / "img_align_celeba/000002.jpg").write_bytes(b"")
    (root / "img_align_celeba/000005.jpg").unlink()
    bad = skipped(get_source("celeba", str(root)))
    assert [(b.reason, b.file.rsplit("/", 1)[-1], b.split) for b in bad] == [
        ("empty_image", "000002.jpg", "train"),
        ("missing_image", "000005.jpg", "val"),
    ]


def test_malformed_attribute_line_is_bad_annotation_with_its_line(tmp_path):
    root = copy_fixture("celeba", tmp_path)
    attr_file = root / "list_attr_celeba.txt"
    lines = attr_file.read_text().splitlines()
    lines[3] = lines[3].rsplit(" ", 1)[0]  # 000002.jpg loses its last value
    lines[4] = lines[4].replace("-1", "0", 1)  # 000003.jpg: a value that is not -1 / 1
    attr_file.write_text("\n".join(lines) + "\n")
    bad = skipped(get_source("celeba", str(root)))
    assert [(b.reason, b.file) for b in bad] == [
        ("bad_annotation", f"{attr_file}:4"),
        ("bad_annotation", f"{attr_file}:5"),
    ]


def test_image_missing_from_either_list_is_missing_annotation(tmp_path):
    root = copy_fixture("celeba", tmp_path)
    partition = root / "list_eval_partition.txt"
    partition.write_text(partition.read_text().replace("000004.jpg 0\n", "") + "000007.jpg 2\n")
    bad = skipped(get_source("celeba", str(root)))
    assert sorted((b.reason, b.file.rsplit("/", 1)[-1].split(":")[0]) for b in bad) == [
        ("missing_annotation", "000007.jpg"),  # partitioned, but has no attributes
        ("missing_annotation", "list_attr_celeba.txt"),  # 000004.jpg has no partition
    ]


def test_missing_attribute_file_is_an_error_naming_it(tmp_path):
    root = copy_fixture("celeba", tmp_path)
    (root / "list_attr_celeba.txt").unlink()
    with pytest.raises(T2IError, match="list_attr_celeba.txt"):
        get_source("celeba", str(root))


def test_converts_to_tfrecords(tmp_path, hash_encoder):
    source = get_source("celeba", str(CELEBA), captions_per_image=3)
    manifest, example = convert_and_read(source, tmp_path / "celeba", hash_encoder, "test")
    assert {s: v["num_examples"] for s, v in manifest.splits.items()} == split_counts(source)
    assert manifest.attribute_names == source.info().attribute_names
    on = {manifest.attribute_names[i] for i in np.flatnonzero(example["attributes"])}
    assert on == {"Male", "Young", "Goatee", "Black_Hair"}
    assert example["image/id"] == b"000006.jpg" and example["label"] == -1
    assert example["captions"][0] == b"a young man with black hair, a beard and a goatee"
