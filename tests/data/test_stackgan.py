"""The stackgan and damsm sources on StackGAN's / DF-GAN's layouts, written as the
field's Python 2 pickles, and conversion with their precomputed embeddings."""

import json
import pickle

import numpy as np
import pytest
from legacy_layouts import dump_py2, embedding_for, make_damsm, make_stackgan
from sources_testing import records, skipped, split_counts

from tf_t2i.data.sources import get_source
from tf_t2i.errors import T2IError
from tf_t2i.text.precomputed import default_encoder


@pytest.fixture
def birds(tmp_path):
    return make_stackgan(tmp_path / "birds")


def test_python2_pickles_give_splits_labels_and_embeddings(birds):
    assert (birds / "train" / "filenames.pickle").read_bytes()[:2] == b"\x80\x02"  # protocol 2
    source = get_source("stackgan", str(birds))
    assert split_counts(source) == {"train": 6, "test": 3}
    assert source.info().class_names == ["Black footed Albatross", "Laysan Albatross",
                                         "Sooty Albatross"]  # fmt: skip
    record = records(source, "test")[0]
    assert record.image_id == "003.Sooty_Albatross/Sooty_Albatross_0000_100"
    assert (record.label, record.label_text) == (2, "Sooty Albatross")
    assert len(record.captions) == 10 and record.captions[0].startswith("a blue bird")
    np.testing.assert_array_equal(record.embeddings, embedding_for(record.image_id, 16))
    assert source.precomputed_embeddings().spec == "char-cnn-rnn (precomputed, 16-d)"
    assert default_encoder(source) == "precomputed"


def test_bbox_crop_is_stackgans_square(birds):
    source = get_source("stackgan", str(birds), bbox_crop=True)
    # box x=4 y=3 w=10 h=8 in a 24x20 image: half side int(0.75 * 10) = 7 around
    # (9, 7) -> columns 2..16, rows 0 (clipped)..14
    assert records(source, "train")[0].image.shape == (14, 14, 3)


def test_filename_key_without_image_is_skipped_as_missing_image(birds):
    (birds / "CUB_200_2011/images/003.Sooty_Albatross/Sooty_Albatross_0001_101.jpg").unlink()
    [bad] = skipped(get_source("stackgan", str(birds)))
    assert bad.reason == "missing_image" and "Sooty_Albatross_0001_101" in bad.detail


def test_embedding_count_that_differs_from_the_file_names_is_an_error(birds):
    path = birds / "test" / "char-CNN-RNN-embeddings.pickle"
    dump_py2(np.zeros((2, 10, 16), np.float32), path)
    with pytest.raises(T2IError, match="2 embeddings but 3 file names"):
        list(get_source("stackgan", str(birds)).examples("test"))


def test_truncated_or_unsafe_pickle_is_an_error_naming_it(birds):
    path = birds / "train" / "char-CNN-RNN-embeddings.pickle"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(T2IError, match="char-CNN-RNN-embeddings.pickle: truncated pickle"):
        get_source("stackgan", str(birds)).precomputed_embeddings()
    names = birds / "test" / "filenames.pickle"
    names.write_bytes(pickle.dumps(print, protocol=2))  # a callable, not data
    with pytest.raises(T2IError, match="refusing to load __builtin__.print"):
        get_source("stackgan", str(birds))


def test_convert_stores_the_published_embeddings_as_their_own_encoder(birds, tmp_path):
    from sources_testing import convert_and_read

    source = get_source("stackgan", str(birds))
    manifest, example = convert_and_read(source, tmp_path / "out", "precomputed", split="test")
    assert manifest.encoder == {
        "spec": "char-cnn-rnn (precomputed, 16-d)",
        "dim": 16,
        "fingerprint": source.precomputed_embeddings().fingerprint,
    }
    stored = example["captions/embeddings"].reshape(10, 16)
    np.testing.assert_array_equal(stored, embedding_for(example["image/id"].decode(), 16))


def test_caption_count_that_differs_from_the_embeddings_goes_to_skipped_jsonl(birds, tmp_path):
    from tf_t2i.data.convert import convert

    text = birds / "text_c10/001.Black_footed_Albatross/Black_footed_Albatross_0000_100.txt"
    text.write_text("\n".join(text.read_text().splitlines()[:9]) + "\n")
    out = tmp_path / "out"
    manifest = convert(get_source("stackgan", str(birds)), out, encoder="precomputed",
                       image_size=16, progress=False)  # fmt: skip
    assert manifest.splits["train"]["num_examples"] == 5
    [line] = (out / "skipped.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert entry["reason"] == "bad_annotation" and "10 embeddings but 9 captions" in entry["detail"]


def test_use_m3_is_one_flag_away_on_the_same_captions(birds, tmp_path, hash_encoder):
    from tf_t2i.data.convert import convert

    manifest = convert(get_source("stackgan", str(birds)), tmp_path / "out",
                       encoder=hash_encoder, image_size=16, progress=False)  # fmt: skip
    assert manifest.encoder["spec"] == hash_encoder.spec
    assert manifest.splits["test"]["num_examples"] == 3


def test_damsm_pickle_becomes_caption_text_with_its_split(tmp_path):
    root = make_damsm(tmp_path / "birds")
    source = get_source("damsm", str(root))
    assert split_counts(source) == {"train": 6, "test": 3}
    record = records(source, "train")[0]
    assert record.captions[3] == "a red bird number 3 with 100 feathers"
    assert record.embeddings is None and default_encoder(source) == "use-m3"
    with pytest.raises(T2IError, match="publishes no caption embeddings"):
        from tf_t2i.data.convert import convert

        convert(source, tmp_path / "out", encoder="precomputed", progress=False)


def test_damsm_caption_count_must_match_the_file_names(tmp_path):
    root = make_damsm(tmp_path / "birds")
    train, test, ixtoword, wordtoix = pickle.loads((root / "captions_DAMSM.pickle").read_bytes())
    dump_py2([train[:-1], test, ixtoword, wordtoix], root / "captions_DAMSM.pickle")
    with pytest.raises(T2IError, match="59 train captions, but .* lists 6 images x 10"):
        get_source("damsm", str(root))


def test_flowers_keys_find_flat_images_and_class_folder_captions(tmp_path):
    from legacy_layouts import _png

    root = tmp_path / "flowers"
    keys = ["jpg/image_00001", "jpg/image_00002"]
    for split, key, cid in (("train", keys[0], 1), ("test", keys[1], 7)):
        dump_py2([key], root / split / "filenames.pickle")
        dump_py2([cid], root / split / "class_info.pickle")
        dump_py2(np.ones((1, 10, 4), np.float32), root / split / "char-CNN-RNN-embeddings.pickle")
        (root / f"{key}.jpg").parent.mkdir(parents=True, exist_ok=True)
        (root / f"{key}.jpg").write_bytes(_png((9, 9, 9)))
        text = root / "text_c10" / f"class_{cid:05d}" / f"{key[4:]}.txt"
        text.parent.mkdir(parents=True, exist_ok=True)
        text.write_text("".join(f"a flower, caption {i}\n" for i in range(10)))
    source = get_source("stackgan", str(root))
    assert source.info().class_names == ["class_00001", "class_00007"]
    record = records(source, "test")[0]
    assert (record.label, record.captions[9]) == (1, "a flower, caption 9")


def test_cli_converts_with_the_published_embeddings_unless_told_otherwise(birds, tmp_path, runner):
    from tf_t2i.cli.main import cli

    result = runner.invoke(cli, ["convert", "stackgan", str(birds), "--out", str(tmp_path / "o"),
                                 "--image-size", "16", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "dataset.json").read_text())
    assert manifest["encoder"]["spec"] == "char-cnn-rnn (precomputed, 16-d)"
    result = runner.invoke(cli, ["convert", "damsm", str(make_damsm(tmp_path / "dm")), "--out",
                                 str(tmp_path / "d"), "--encoder", "precomputed", "--quiet"])  # fmt: skip
    assert result.exit_code == 2 and "publishes no caption embeddings" in result.output
