"""The tfds:NAME source, offline, on tfds.testing.mock_data (random examples, real features)."""

import io

import numpy as np
import pytest
from PIL import Image
from sources_testing import convert_and_read, records

from tf_t2i.data.sources import get_source
from tf_t2i.data.sources.tfds import label_captions
from tf_t2i.errors import T2IError

tfds = pytest.importorskip("tensorflow_datasets")


def test_mnist_counts_and_digit_captions():
    with tfds.testing.mock_data(num_examples=5):
        source = get_source("tfds:mnist")
        assert source.info().splits == ["train", "test"]
        assert source.info().class_names == [str(d) for d in range(10)]
        train = records(source, "train")
        assert len(train) == 5 and len(records(source, "test")) == 5
    record = train[0]
    image = Image.open(io.BytesIO(record.image))
    assert image.format == "PNG" and image.size == (28, 28) and image.mode == "L"
    assert 0 <= record.label <= 9 and record.label_text == str(record.label)
    assert str(record.label) in record.captions[1]  # "the digit 7"
    assert record.image_id == "mnist/train/0" and record.attributes is None


def test_oxford_flowers_captions_use_the_class_names():
    with tfds.testing.mock_data(num_examples=3):
        source = get_source("tfds:oxford_flowers102", captions_per_image=2)
        record = records(source, "val")[0]
    name = source.info().class_names[record.label]
    assert record.label_text == name
    assert record.captions == [f"a photo of a {name}", f"a {name}"]


def test_celeb_a_attributes_become_the_vector_and_the_captions():
    with tfds.testing.mock_data(num_examples=2):
        source = get_source("tfds:celeb_a")
        record = records(source, "train")[0]
    names = source.info().attribute_names
    assert len(names) == 40 and record.attributes.shape == (40,) and record.label == -1
    gender = "man" if record.attributes[names.index("Male")] else "woman"
    assert any(gender in caption for caption in record.captions)


def test_caltech_birds_carries_segmentation_masks():
    with tfds.testing.mock_data(num_examples=2):
        source = get_source("tfds:caltech_birds2011")
        record = records(source, "train")[0]
    assert source.info().has_masks
    assert record.mask.dtype == np.uint8 and record.mask.ndim == 2


def test_label_captions_for_digits_and_names():
    assert label_captions("7", 2) == ["a handwritten seven", "the digit 7"]
    assert label_captions("orchid", 1) == ["a photo of an orchid"]


def test_unknown_dataset_or_unlabelled_dataset_is_an_error():
    with pytest.raises(T2IError, match="no_such_dataset"):
        get_source("tfds:no_such_dataset")
    with pytest.raises(T2IError, match="neither a ClassLabel"):
        get_source("tfds:mnist", label_key="digit")


def test_converts_to_tfrecords(tmp_path, hash_encoder):
    with tfds.testing.mock_data(num_examples=4):
        source = get_source("tfds:oxford_flowers102")
        manifest, example = convert_and_read(source, tmp_path / "flowers", hash_encoder)
    assert {s: v["num_examples"] for s, v in manifest.splits.items()} == {"train": 4, "test": 4}
    assert len(manifest.class_names) == 102 and manifest.source["name"] == "tfds:oxford_flowers102"
    name = manifest.class_names[example["label"]]
    assert (
        example["captions"][0]
        == f"a photo of {'an' if name[0] in 'aeiou' else 'a'} {name}".encode()
    )
