"""The reed-t7 source on Reed's icml2016 layout, with .t7 files in Torch7's binary format."""

import numpy as np
import pytest
from legacy_layouts import T7Writer, captions_for, embedding_for, make_reed_t7
from sources_testing import convert_and_read, records, skipped, split_counts

from tf_t2i.data.sources import get_source
from tf_t2i.errors import T2IError

TEST_T7 = "003.Sooty_Albatross/Sooty_Albatross_0001_101.t7"


@pytest.fixture
def icml(tmp_path):
    return make_reed_t7(tmp_path / "cub_icml")


def test_t7_files_give_class_splits_embeddings_and_decoded_captions(icml):
    source = get_source("reed-t7", str(icml), embedding_dim=16)
    assert split_counts(source) == {"train": 6, "test": 3}
    record = records(source, "test")[1]
    key = "003.Sooty_Albatross/Sooty_Albatross_0001_101"
    assert record.image_id == key + ".jpg" and record.label_text == "Sooty Albatross"
    assert record.captions == captions_for(key)  # from the char tensor
    np.testing.assert_array_equal(record.embeddings, embedding_for(key, 16))


def test_text_c10_captions_are_preferred(tmp_path):
    root = make_reed_t7(tmp_path / "cub_icml", text_c10=True)
    (root / "text_c10" / TEST_T7.replace(".t7", ".txt")).write_text("one caption\n")
    source = get_source("reed-t7", str(root), embedding_dim=16, captions_dir=".")
    assert records(source, "test")[1].captions == ["one caption"]


def test_t7_of_the_wrong_shape_or_truncated_is_skipped(icml):
    T7Writer().write({"img": "x.jpg", "txt": np.zeros((10, 7), np.float32)}).save(icml / TEST_T7)
    path = icml / "003.Sooty_Albatross/Sooty_Albatross_0002_102.t7"
    path.write_bytes(path.read_bytes()[:-100])
    bad = skipped(get_source("reed-t7", str(icml), embedding_dim=16))
    assert [(s.reason, s.file.endswith(TEST_T7)) for s in bad][0] == ("bad_annotation", True)
    assert "txt is [10, 7], expected [10, 16]" in bad[0].detail
    assert bad[1].reason == "bad_annotation" and "truncated" in bad[1].detail


def test_missing_split_file_is_an_error(icml):
    (icml / "testclasses.txt").unlink()
    with pytest.raises(T2IError, match="testclasses.txt"):
        get_source("reed-t7", str(icml))


def test_converts_with_the_t7_embeddings(icml, tmp_path):
    source = get_source("reed-t7", str(icml), embedding_dim=16)
    manifest, example = convert_and_read(source, tmp_path / "out", "precomputed")
    assert manifest.encoder["spec"] == "char-cnn-rnn (precomputed, 16-d)"
    key = example["image/id"].decode()[: -len(".jpg")]
    np.testing.assert_array_equal(
        example["captions/embeddings"].reshape(10, 16), embedding_for(key, 16)
    )
