"""The reed source on tiny CUB (nested, with split files) and Oxford-102 (flat) fixtures."""

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

CUB = FIXTURES / "reed" / "cub"
FLOWERS = FIXTURES / "reed" / "flowers"


def test_cub_counts_per_split_follow_the_class_split_files():
    source = get_source("reed", str(CUB))
    assert split_counts(source) == {"train": 4, "val": 2, "test": 2}
    assert source.info().class_names[:2] == ["Black footed Albatross", "Laysan Albatross"]
    assert source.info().captions_per_image == 10


def test_cub_record_fields():
    record = records(get_source("reed", str(CUB)), "test")[0]
    assert record.image_id == "004.Groove_billed_Ani/Groove_Billed_Ani_0001_1755.jpg"
    assert record.image[:2] == b"\xff\xd8"  # the JPEG file's own bytes
    assert record.label == 3 and record.label_text == "Groove billed Ani"
    assert len(record.captions) == 10 and record.captions[0].startswith("this bird has")
    assert record.split == "test" and record.attributes is None


def test_trainval_option_merges_train_and_val_classes():
    source = get_source("reed", str(CUB), trainval="true")
    assert split_counts(source) == {"train": 6, "test": 2}


def test_captions_dir_option_reads_reeds_archive_where_it_unpacked(tmp_path):
    root = copy_fixture("reed/cub", tmp_path)
    captions = tmp_path / "cvpr2016_cub"
    captions.mkdir()
    for name in ["text_c10", "trainclasses.txt", "valclasses.txt", "testclasses.txt"]:
        (root / name).rename(captions / name)
    source = get_source("reed", str(root), captions_dir=str(captions))
    assert split_counts(source) == {"train": 4, "val": 2, "test": 2}


def test_flowers_flat_images_and_hash_split_by_class():
    source = get_source("reed", str(FLOWERS))
    assert split_counts(source) == {"train": 2, "val": 2, "test": 2}
    by_split = {s: {r.label_text for r in records(source, s)} for s in ("train", "val", "test")}
    assert all(len(classes) == 1 for classes in by_split.values())  # classes never straddle
    record = records(source, "train")[0]
    assert record.image_id == "image_06734.jpg" and record.label_text == "class_00001"
    assert split_counts(get_source("reed", str(FLOWERS))) == split_counts(source)  # stable


def test_zero_byte_image_is_empty_image(tmp_path):
    root = copy_fixture("reed/cub", tmp_path)
    (root / "images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg").write_bytes(
        b""
    )
    (bad,) = skipped(get_source("reed", str(root)))
    assert bad.reason == "empty_image" and bad.file.endswith("0001_796111.jpg")
    assert bad.split == "train"


def test_listed_but_missing_image_is_missing_image(tmp_path):
    root = copy_fixture("reed/flowers", tmp_path)
    (root / "jpg/image_06737.jpg").unlink()
    (bad,) = skipped(get_source("reed", str(root)))
    assert bad.reason == "missing_image" and bad.file.endswith("jpg/image_06737.jpg")


def test_empty_caption_file_and_image_without_one_are_no_captions(tmp_path):
    root = copy_fixture("reed/cub", tmp_path)
    (root / "text_c10/002.Laysan_Albatross/Laysan_Albatross_0001_545.txt").write_text("\n \n")
    (root / "text_c10/002.Laysan_Albatross/Laysan_Albatross_0002_1027.txt").unlink()
    bad = skipped(get_source("reed", str(root)))
    assert [b.reason for b in bad] == ["no_captions", "no_captions"]
    assert {b.file.rsplit("/", 1)[-1] for b in bad} == {
        "Laysan_Albatross_0002_1027.jpg",  # image with no caption file
        "Laysan_Albatross_0001_545.txt",  # caption file with no caption
    }


def test_non_utf8_caption_file_names_the_line(tmp_path):
    root = copy_fixture("reed/cub", tmp_path)
    caption_file = root / "text_c10/004.Groove_billed_Ani/Groove_Billed_Ani_0002_1670.txt"
    caption_file.write_bytes(b"a black bird.\na bird with a caf\xe9 bill.\n")
    (bad,) = skipped(get_source("reed", str(root)))
    assert bad.reason == "bad_caption_encoding"
    assert bad.file == f"{caption_file}:2" and bad.split == "test"


def test_class_listed_in_split_file_but_absent_is_missing_annotation(tmp_path):
    root = copy_fixture("reed/cub", tmp_path)
    with open(root / "valclasses.txt", "a") as f:
        f.write("999.Dodo\n")
    (bad,) = skipped(get_source("reed", str(root)))
    assert bad.reason == "missing_annotation" and bad.file == f"{root / 'valclasses.txt'}:2"


def test_missing_root_or_caption_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(T2IError, match="nowhere"):
        get_source("reed", str(tmp_path / "nowhere"))
    root = copy_fixture("reed/flowers", tmp_path)
    (root / "text_c10").rename(root / "captions")
    with pytest.raises(T2IError, match="text_c10"):
        get_source("reed", str(root))


def test_image_folder_without_images_is_an_error(tmp_path):
    root = copy_fixture("reed/flowers", tmp_path)
    (root / "images").mkdir()
    (root / "images/class_00001.t7").write_bytes(b"features")  # Reed's archive's images/
    with pytest.raises(T2IError, match="no images in .*images"):
        get_source("reed", str(root))
    assert split_counts(get_source("reed", str(root), images_dir="jpg"))["train"] == 2


def test_converts_to_tfrecords(tmp_path, hash_encoder):
    source = get_source("reed", str(CUB))
    manifest, example = convert_and_read(source, tmp_path / "cub", hash_encoder, "val")
    assert {s: v["num_examples"] for s, v in manifest.splits.items()} == split_counts(source)
    assert manifest.class_names[2] == "Sooty Albatross" and manifest.captions_per_image == 10
    assert example["label"] == 2 and example["label/text"] == b"Sooty Albatross"
    assert len(example["captions"]) == 10
    assert example["captions/embeddings"].shape == (10 * hash_encoder.dim,)


def test_t2i_convert_cli_lists_skipped_inputs(runner, tmp_path):
    import json

    from tf_t2i.cli.main import cli
    from tf_t2i.data.schema import read_manifest

    root = copy_fixture("reed/cub", tmp_path)
    empty = root / "images/002.Laysan_Albatross/Laysan_Albatross_0001_545.jpg"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    args = ["convert", "reed", str(root), "--out", str(out), "--image-size", "16", "--quiet"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "train: 3 examples" in result.output and "skipped: empty_image 1" in result.output
    manifest = read_manifest(out)
    assert manifest.encoder["spec"] == "use-m3" and manifest.encoder["dim"] == 512
    assert manifest.source == {
        "name": "reed",
        "options": get_source("reed", str(root)).info().options,
    }
    (line,) = (out / "skipped.jsonl").read_text().splitlines()
    assert json.loads(line)["file"] == str(empty)
