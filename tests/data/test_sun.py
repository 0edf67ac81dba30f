"""The sun source on an eight-image fixture with real-structure SUNAttributeDB .mat files."""

import numpy as np
import pytest
import scipy.io
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

SUN = FIXTURES / "sun"
LABELS = SUN / "SUNAttributeDB" / "attributeLabels_continuous.mat"


def test_counts_per_split_by_path_hash():
    source = get_source("sun", str(SUN))
    assert split_counts(source) == {"train": 5, "val": 1, "test": 2}
    info = source.info()
    assert len(info.attribute_names) == 102 and info.attribute_names[0] == "sailing/ boating"
    assert info.class_names == ["abbey", "outdoor apartment building", "beach", "bedroom", "coast"]


def test_record_attributes_are_thresholded_votes():
    source = get_source("sun", str(SUN))
    record = records(source, "train")[0]
    votes = scipy.io.loadmat(LABELS)["labels_cv"][0]
    assert record.image_id == "a/abbey/sun_aaalbzqrimafwbiv.jpg"
    assert record.label == 0 and record.label_text == "abbey"
    np.testing.assert_array_equal(record.attributes, (votes >= 0.5).astype(np.float32))
    assert len(record.captions) == 5 and all("abbey" in c for c in record.captions)


def test_captions_name_the_scene_things_activities_and_adjectives(tmp_path):
    root = copy_fixture("sun", tmp_path)
    path = root / "SUNAttributeDB/attributeLabels_continuous.mat"
    names = get_source("sun", str(root)).info().attribute_names
    labels = scipy.io.loadmat(path)["labels_cv"]
    labels[0] = 0.0
    for name, votes in [("trees", 1.0), ("hiking", 2 / 3), ("rusty", 1.0), ("snow", 1 / 3)]:
        labels[0, names.index(name)] = votes
    scipy.io.savemat(path, {"labels_cv": labels})
    record = records(get_source("sun", str(root), captions_per_image=3), "train")[0]
    assert record.captions == [
        "a photo of a rusty abbey with trees, a place for hiking",
        "a rusty abbey scene showing trees, used for hiking",
        "people hiking in an abbey",
    ]  # snow: one vote of three, below the 0.5 threshold


def test_continuous_option_keeps_the_vote_fractions():
    source = get_source("sun", str(SUN), continuous=True, threshold=0.9)
    record = records(source, "test")[0]
    votes = scipy.io.loadmat(LABELS)["labels_cv"][2]  # test's first image is row 3
    np.testing.assert_allclose(record.attributes, votes, rtol=1e-6)


def test_zero_byte_and_missing_images(tmp_path):
    root = copy_fixture("sun", tmp_path)
    (root / "images/b/bedroom/sun_aaagdtnckqzeumph.jpg").write_bytes(b"")
    (root / "images/c/coast/sun_aaczihkfvnuwddtk.jpg").unlink()
    bad = skipped(get_source("sun", str(root)))
    assert [(b.reason, b.split) for b in bad] == [
        ("empty_image", "train"),
        ("missing_image", "val"),
    ]


def test_out_of_range_votes_and_bad_paths_are_bad_annotation(tmp_path):
    root = copy_fixture("sun", tmp_path)
    db = root / "SUNAttributeDB"
    labels = scipy.io.loadmat(db / "attributeLabels_continuous.mat")["labels_cv"]
    labels[0, 5] = np.nan
    scipy.io.savemat(db / "attributeLabels_continuous.mat", {"labels_cv": labels})
    images = scipy.io.loadmat(db / "images.mat")["images"]
    images[1, 0] = np.array(["sun_no_folder.jpg"])
    scipy.io.savemat(db / "images.mat", {"images": images})
    bad = skipped(get_source("sun", str(root), val_fraction=0, test_fraction=0))
    assert [(b.reason, b.file.rsplit("/", 1)[-1]) for b in bad] == [
        ("bad_annotation", "attributeLabels_continuous.mat:1"),
        ("bad_annotation", "images.mat:2"),
    ]


def test_missing_mat_file_or_mismatched_rows_is_an_error(tmp_path):
    root = copy_fixture("sun", tmp_path)
    labels = scipy.io.loadmat(root / "SUNAttributeDB/attributeLabels_continuous.mat")["labels_cv"]
    scipy.io.savemat(
        root / "SUNAttributeDB/attributeLabels_continuous.mat", {"labels_cv": labels[:3]}
    )
    with pytest.raises(T2IError, match=r"labels_cv has shape \(3, 102\)"):
        get_source("sun", str(root))
    (root / "SUNAttributeDB/attributes.mat").unlink()
    with pytest.raises(T2IError, match="attributes.mat"):
        get_source("sun", str(root))


def test_converts_to_tfrecords(tmp_path, hash_encoder):
    source = get_source("sun", str(SUN))
    manifest, example = convert_and_read(source, tmp_path / "sun", hash_encoder, "val")
    assert {s: v["num_examples"] for s, v in manifest.splits.items()} == split_counts(source)
    assert len(manifest.attribute_names) == 102 and manifest.class_names[4] == "coast"
    assert example["image/id"] == b"c/coast/sun_aaczihkfvnuwddtk.jpg"
    assert example["label"] == 4 and example["label/text"] == b"coast"
    votes = scipy.io.loadmat(LABELS)["labels_cv"][7]
    np.testing.assert_array_equal(example["attributes"], (votes >= 0.5).astype(np.float32))
