"""Conversion end to end: real sources -> real TFRecords, bad inputs, options, ensure_builtin.

The end-to-end tests use the real offline use-m3 encoder; the bad-input tests use
the test-only hashing encoder, since what they check is what gets skipped.
"""

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from sources_testing import copy_fixture, split_counts

from tf_t2i.data import schema
from tf_t2i.data.builtin import ensure_builtin
from tf_t2i.data.convert import convert
from tf_t2i.data.record import Record
from tf_t2i.data.sources import get_source
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.errors import T2IError


@pytest.fixture(scope="module")
def use_m3():
    from tf_t2i.text.encoder import load_encoder

    return load_encoder("use-m3")


def _examples(out_dir, split):
    manifest = schema.read_manifest(out_dir)
    parsed = []
    for raw in tf.data.TFRecordDataset(manifest.shard_files(out_dir, split)):
        features = tf.io.parse_single_example(raw, schema.feature_spec())
        parsed.append({k: (tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v).numpy()
                       for k, v in features.items()})  # fmt: skip
    return parsed


def test_shapes_end_to_end_with_use_m3(tmp_path, use_m3):
    source = get_source("shapes", num_images=40, test_fraction=0.25, image_size=36, seed=2)
    manifest = convert(source, tmp_path, encoder=use_m3, image_size=32, stored_size=36,
                       shard_size=12, progress=False)  # fmt: skip
    assert {s: manifest.num_examples(s) for s in manifest.splits} == {"train": 30, "test": 10}
    assert [s["num_examples"] for s in manifest.splits["train"]["shards"]] == [12, 12, 6]
    assert manifest.encoder == {"spec": "use-m3", "dim": 512, "fingerprint": use_m3.fingerprint}
    assert (manifest.image_size, manifest.crop_size, manifest.channels) == (36, 32, 3)
    assert manifest.has_masks and manifest.captions_per_image == 5 and manifest.skipped == {}
    assert manifest.source == {"name": "shapes", "options": source.info().options}
    assert len(manifest.class_names) == 48 and len(manifest.attribute_names) == 29
    examples = _examples(tmp_path, "test")
    first = examples[0]
    record = source.make(30, "test")
    captions = [c.decode() for c in first["captions"]]
    assert captions == record.captions and first["image/id"] == b"shapes/000030"
    embeddings = first["captions/embeddings"].reshape(5, 512)
    np.testing.assert_allclose(embeddings, use_m3.encode(captions), atol=1e-5)
    image = np.asarray(Image.open(io.BytesIO(first["image/encoded"])))
    np.testing.assert_array_equal(image, record.image)  # PNG is lossless, 36 -> 36 untouched
    mask = np.asarray(Image.open(io.BytesIO(first["mask/encoded"])))
    np.testing.assert_array_equal(mask, record.mask)
    np.testing.assert_array_equal(first["attributes"], record.attributes)
    assert first["label"] == record.label and first["label/text"] == record.label_text.encode()
    assert (tmp_path / "skipped.jsonl").read_text() == ""


def test_digits_end_to_end_with_use_m3(tmp_path, use_m3):
    manifest = convert(get_source("digits", image_size=16), tmp_path, encoder=use_m3,
                       image_size=16, channels=1, limit=25, progress=False)  # fmt: skip
    assert manifest.num_examples("train") == 25 and manifest.num_examples("test") == 25
    assert manifest.channels == 1 and not manifest.has_masks and manifest.attribute_names == []
    first = _examples(tmp_path, "train")[0]
    assert first["captions"][0] == b"a handwritten zero" and first["label"] == 0
    assert np.asarray(Image.open(io.BytesIO(first["image/encoded"]))).shape == (16, 16)


def test_ensure_builtin_converts_once(tmp_path, monkeypatch, use_m3):
    monkeypatch.setenv("TF_T2I_CACHE", str(tmp_path))
    options = dict(encoder=use_m3, num_images=12, image_size=16, progress=False)
    path = ensure_builtin("shapes", **options)
    assert path.parent == tmp_path / "datasets"
    manifest = schema.read_manifest(path)
    assert manifest.num_examples("train") + manifest.num_examples("test") == 12
    assert manifest.source["options"]["num_images"] == 12
    assert manifest.source["options"]["image_size"] == 16  # rendered at the stored size
    stamp = (path / "dataset.json").stat().st_mtime_ns
    assert ensure_builtin("shapes", **options) == path
    assert (path / "dataset.json").stat().st_mtime_ns == stamp  # found, not redone
    next(path.glob("train-*.tfrecord")).unlink()
    assert ensure_builtin("shapes", **options) == path
    assert (path / "dataset.json").stat().st_mtime_ns != stamp  # a shard was lost: redone
    assert schema.read_manifest(path).num_examples("train") == manifest.num_examples("train")
    assert ensure_builtin("shapes", **{**options, "num_images": 13}) != path
    with pytest.raises(T2IError, match="'reed' is not a built-in source"):
        ensure_builtin("reed")


def test_rerun_same_options_is_a_no_op_and_other_options_need_overwrite(tmp_path, hash_encoder):
    def run(**kwargs):
        return convert(get_source("shapes", num_images=10, image_size=16), tmp_path,
                       encoder=hash_encoder, image_size=16, progress=False, **kwargs)  # fmt: skip

    first = run()
    stamp = (tmp_path / "dataset.json").stat().st_mtime_ns
    assert run() == first and (tmp_path / "dataset.json").stat().st_mtime_ns == stamp
    with pytest.raises(T2IError, match="other options; pass --overwrite"):
        run(image_format="jpeg")
    assert schema.read_manifest(tmp_path) == first  # the refusal lost nothing
    replaced = run(image_format="jpeg", overwrite=True)
    assert replaced.conversion["image_format"] == "jpeg"
    raw = _examples(tmp_path, "train")[0]
    assert raw["image/format"] == b"jpeg" and raw["image/encoded"][:2] == b"\xff\xd8"


class _PhotoSource(Source):
    """Test-only: one wide photo-like image (and mask) per split, to test resizing."""

    name = "photo"

    def __init__(self, path=None):
        pass

    def info(self):
        return SourceInfo(name="photo", splits=["train"], has_masks=True)

    def examples(self, split):
        image = np.zeros((30, 60, 3), np.uint8)
        image[:, :15] = 255  # white left quarter
        mask = np.zeros((30, 60), np.uint8)
        mask[:, :15] = 255
        yield Record(image=image, image_id="wide", split=split, captions=["a wide image"],
                     mask=mask)  # fmt: skip


@pytest.mark.parametrize(
    "policy, white_fraction",
    [("center-crop", 0.0), ("stretch", 0.25), ("pad", 0.25 * 0.5)],
)
def test_resize_policies(tmp_path, hash_encoder, policy, white_fraction):
    convert(_PhotoSource(), tmp_path, encoder=hash_encoder, image_size=20, resize=policy,
            progress=False)  # fmt: skip
    example = _examples(tmp_path, "train")[0]
    image = np.asarray(Image.open(io.BytesIO(example["image/encoded"])))
    mask = np.asarray(Image.open(io.BytesIO(example["mask/encoded"])))
    assert image.shape == (20, 20, 3) and mask.shape == (20, 20)
    assert abs((image[..., 0] / 255).mean() - white_fraction) < 0.03
    np.testing.assert_allclose(mask / 255, image[..., 0] / 255, atol=0.05)  # same geometry


def test_parallel_workers_give_identical_shards(tmp_path, hash_encoder):
    source = get_source("shapes", num_images=24, image_size=16)
    one = convert(source, tmp_path / "one", encoder=hash_encoder, image_size=16, progress=False)
    two = convert(source, tmp_path / "two", encoder=hash_encoder, image_size=16, workers=2,
                  progress=False)  # fmt: skip
    assert one.splits == two.splits  # same files, same sha256


def test_num_shards_split_selection_and_limit(tmp_path, hash_encoder):
    manifest = convert(get_source("shapes", num_images=50, image_size=16), tmp_path,
                       encoder=hash_encoder, image_size=16, num_shards=4, splits=["train"],
                       limit=30, progress=False)  # fmt: skip
    assert list(manifest.splits) == ["train"] and manifest.num_examples("train") == 30
    assert len(manifest.splits["train"]["shards"]) == 4
    with pytest.raises(T2IError, match="no split 'val'; it has train, test"):
        convert(get_source("shapes"), tmp_path / "x", encoder=hash_encoder, splits=["val"])


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(image_size=64, stored_size=32), "stored size 32 is smaller"),
        (dict(resize="squash"), "resize policy 'squash'"),
        (dict(image_format="gif"), "image format 'gif'"),
        (dict(channels=2), "channels must be 1 or 3"),
    ],
)
def test_bad_options(tmp_path, hash_encoder, options, message):
    with pytest.raises(T2IError, match=message):
        convert(get_source("shapes"), tmp_path, encoder=hash_encoder, **options)


# === bad inputs: one test per reason, each counted, listed, and fatal under strict ===


def _png(size, color=128):
    buffer = io.BytesIO()
    Image.new("L", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _corrupt(root):
    (root / "images/cat_2.png").write_bytes(b"this is not an image at all")
    return "folder", "images/cat_2.png", "corrupt_image"


def _truncated(root):
    path = root / "images/cat_2.png"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return "folder", "images/cat_2.png", "corrupt_image"


def _zero_byte(root):
    (root / "images/cat_2.png").write_bytes(b"")
    return "folder", "images/cat_2.png", "empty_image"


def _no_captions(root):
    lines = (root / "captions.jsonl").read_text().splitlines()
    entry = json.loads(lines[1])
    entry["captions"] = []
    lines[1] = json.dumps(entry)
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return "folder", "captions.jsonl:2", "no_captions"


def _mask_wrong_size(root):
    (root / "masks/cat_2.png").write_bytes(_png((5, 7)))
    return "folder", "cat_2.png", "mask_size_mismatch"


def _caption_not_utf8(root):
    path = next(iter(sorted((root / "text_c10").glob("*/*.txt"))))
    path.write_bytes("un oiseau trés rouge\n".encode("latin-1"))
    return "reed", path.name, "bad_caption_encoding"


def _missing_caption_file(root):
    path = next(iter(sorted((root / "text_c10").glob("*/*.txt"))))
    path.unlink()
    return "reed", path.stem, None  # the source names the reason


BREAKAGES = {
    "corrupt": _corrupt,
    "truncated": _truncated,
    "zero-byte": _zero_byte,
    "no-captions": _no_captions,
    "mask-wrong-size": _mask_wrong_size,
    "caption-not-utf8": _caption_not_utf8,
    "missing-annotation-file": _missing_caption_file,
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_bad_input_is_skipped_counted_and_listed(tmp_path, hash_encoder, breakage):
    kind = "reed" if breakage.startswith(("caption", "missing")) else "folder"
    root = copy_fixture(kind, tmp_path)
    root = root / "cub" if kind == "reed" else root
    expected = sum(split_counts(get_source(kind, str(root))).values())
    broken_kind, file_part, reason = BREAKAGES[breakage](root)
    assert broken_kind == kind

    manifest = convert(get_source(kind, str(root)), tmp_path / "out", encoder=hash_encoder,
                       image_size=16, progress=False)  # fmt: skip
    assert sum(manifest.num_examples(s) for s in manifest.splits) == expected - 1
    assert sum(manifest.skipped.values()) == 1
    listed = [
        json.loads(line) for line in (tmp_path / "out/skipped.jsonl").read_text().splitlines()
    ]
    assert len(listed) == 1 and file_part in listed[0]["file"]
    assert listed[0]["reason"] in manifest.skipped
    if reason is not None:
        assert manifest.skipped == {reason: 1}
    else:
        assert listed[0]["reason"] in ("missing_annotation", "no_captions")

    with pytest.raises(T2IError, match=file_part.replace(".", r"\.")):
        convert(get_source(kind, str(root)), tmp_path / "strict", encoder=hash_encoder,
                image_size=16, strict=True, progress=False)  # fmt: skip
    assert not (tmp_path / "strict/dataset.json").exists()


_ENSURE_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from conftest import HashEncoder
from tf_t2i.data.builtin import ensure_builtin
print(ensure_builtin("shapes", encoder=HashEncoder(), num_images=300, image_size=16,
                     shard_size=50, progress=False))
"""


def test_ensure_builtin_from_two_processes_at_once(tmp_path):
    import os
    import pathlib
    import subprocess
    import sys

    env = {**os.environ, "TF_T2I_CACHE": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    tests_data = str(pathlib.Path(__file__).parent)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _ENSURE_SCRIPT, tests_data],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    for p, (_out, err) in zip(processes, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    paths = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(paths) == 1
    manifest = schema.read_manifest(paths.pop())
    assert manifest.num_examples("train") + manifest.num_examples("test") == 300
