"""The TFRecord format of a converted data set: example features and dataset.json.

A data set directory holds

    dataset.json                              the manifest (this module's `Manifest`)
    <split>-<i:05d>-of-<n:05d>.tfrecord       shards of serialized tf.train.Example
    skipped.jsonl                             one JSON object per unusable input

Each tf.train.Example has these features (a public, versioned contract: a change
that old readers cannot parse bumps SCHEMA_VERSION):

    image/encoded        bytes   PNG or JPEG, square, manifest.image_size pixels
    image/format         bytes   "png" or "jpeg"
    image/height         int64
    image/width          int64
    image/id             bytes   source-relative id ("001.Black_footed_Albatross/x.jpg")
    label                int64   class index, -1 if none
    label/text           bytes   class name, "" if none
    captions             bytes   list of UTF-8 captions, n >= 1
    captions/embeddings  float   n * D values, caption-major (row i = captions[i])
    attributes           float   A values (A = len(manifest.attribute_names), may be 0)
    mask/encoded         bytes   single-channel PNG, same size as the image (optional)
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

from tf_t2i.errors import T2IError
from tf_t2i.files import atomic_write

SCHEMA_VERSION = 1
MANIFEST_FILE = "dataset.json"
SKIPPED_FILE = "skipped.jsonl"

# feature keys
IMAGE = "image/encoded"
IMAGE_FORMAT = "image/format"
IMAGE_HEIGHT = "image/height"
IMAGE_WIDTH = "image/width"
IMAGE_ID = "image/id"
LABEL = "label"
LABEL_TEXT = "label/text"
CAPTIONS = "captions"
EMBEDDINGS = "captions/embeddings"
ATTRIBUTES = "attributes"
MASK = "mask/encoded"


def shard_name(split: str, index: int, num_shards: int) -> str:
    """The file name of shard `index` (0-based) of `num_shards` in `split`."""
    return f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord"


@dataclasses.dataclass
class Manifest:
    """The contents of dataset.json.

    Attributes:
        schema_version: SCHEMA_VERSION of the writer.
        source: {"name": ..., "options": {...}} as given to `t2i convert`.
        image_size: side of the stored square images (e.g. 76 for Reed-style crops).
        crop_size: side the images are meant to be trained at (e.g. 64); the input
            pipeline random-crops `crop_size` out of `image_size` when they differ.
        channels: 1 or 3.
        encoder: {"spec", "dim", "fingerprint"} of the text encoder that made the
            caption embeddings.
        splits: split -> {"num_examples": int, "shards": [{"file", "sha256",
            "num_examples"}]}.
        class_names: index -> class name ([] if unlabelled).
        attribute_names: names of the attribute vector entries ([] if none).
        captions_per_image: the largest number of captions of one image.
        has_masks: whether every example carries `mask/encoded`.
        random_flip: whether a horizontal flip keeps an image true to its
            captions and attributes (False when they name left and right).
        skipped: reason -> number of inputs skipped for it.
        conversion: how the data was converted (resize policy, image format,
            shard size, `key`: a hash of everything that determines the output).
        style_groups: attribute groups ("background") drawn independently of
            the captions, which the style metrics of `t2i evaluate` measure.
        held_out_classes: class names kept out of the train split, which
            `t2i evaluate` scores separately as zero-shot classes.
    """

    schema_version: int
    source: dict
    image_size: int
    channels: int
    encoder: dict
    splits: dict
    class_names: list = dataclasses.field(default_factory=list)
    attribute_names: list = dataclasses.field(default_factory=list)
    captions_per_image: int = 0
    has_masks: bool = False
    random_flip: bool = True
    skipped: dict = dataclasses.field(default_factory=dict)
    crop_size: int = 0
    conversion: dict = dataclasses.field(default_factory=dict)
    style_groups: list = dataclasses.field(default_factory=list)
    held_out_classes: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if not self.crop_size:
            self.crop_size = self.image_size

    @property
    def embedding_dim(self) -> int:
        return int(self.encoder["dim"])

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def num_examples(self, split: str) -> int:
        return int(self.split_info(split)["num_examples"])

    def split_info(self, split: str) -> dict:
        if split not in self.splits:
            raise T2IError(
                f"split {split!r} is not in this data set; it has {', '.join(self.splits) or 'none'}"
            )
        return self.splits[split]

    def shard_files(self, data_dir: str | os.PathLike, split: str) -> list[str]:
        """Absolute paths of the split's shards, in order."""
        return [str(pathlib.Path(data_dir, s["file"])) for s in self.split_info(split)["shards"]]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def write_manifest(data_dir: str | os.PathLike, manifest: Manifest) -> pathlib.Path:
    """Writes DIR/dataset.json atomically (a reader sees the old file or the new one)."""
    path = pathlib.Path(data_dir, MANIFEST_FILE)
    atomic_write(path, json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(data_dir: str | os.PathLike) -> Manifest:
    """Reads DIR/dataset.json.

    Raises:
        T2IError: the file is missing, is not JSON, or has a newer schema version.
    """
    path = pathlib.Path(data_dir, MANIFEST_FILE)
    if not path.is_file():
        raise T2IError(
            f"{path} not found: {data_dir} is not a converted data set (run `t2i convert` first)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise T2IError(f"{path}: not a valid manifest ({err})") from None
    missing = [k for k in ("schema_version", "image_size", "encoder", "splits") if k not in data]
    if missing:
        raise T2IError(f"{path}: missing field(s) {', '.join(missing)}")
    version = data["schema_version"]
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise T2IError(
            f"{path}: schema_version {version!r} is newer than this tf_t2i reads "
            f"({SCHEMA_VERSION}); upgrade tf_t2i"
        )
    return Manifest.from_dict(data)


def make_example(
    *,
    image: bytes,
    image_format: str,
    height: int,
    width: int,
    image_id: str,
    captions,
    embeddings,
    label: int = -1,
    label_text: str = "",
    attributes=(),
    mask: bytes | None = None,
) -> bytes:
    """Serializes one tf.train.Example in the format above.

    Args:
        image: encoded image bytes.
        embeddings: float32 [n_captions, D] caption embeddings.
        attributes: float [A] (may be empty).
        mask: single-channel PNG bytes or None.

    Returns:
        The serialized example.
    """
    import tensorflow as tf

    def _bytes(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))

    def _ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    def _floats(values):
        return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))

    features = {
        IMAGE: _bytes([image]),
        IMAGE_FORMAT: _bytes([image_format.encode()]),
        IMAGE_HEIGHT: _ints([height]),
        IMAGE_WIDTH: _ints([width]),
        IMAGE_ID: _bytes([image_id.encode("utf-8")]),
        LABEL: _ints([label]),
        LABEL_TEXT: _bytes([label_text.encode("utf-8")]),
        CAPTIONS: _bytes([c.encode("utf-8") for c in captions]),
        EMBEDDINGS: _floats(embeddings.reshape(-1).tolist()),
        ATTRIBUTES: _floats([float(a) for a in attributes]),
    }
    if mask is not None:
        features[MASK] = _bytes([mask])
    example = tf.train.Example(features=tf.train.Features(feature=features))
    # `features` is a protobuf map: without deterministic=True its keys are
    # written in an order that changes from process to process, and so would
    # every shard's sha256 (and the data set's fingerprint).
    return example.SerializeToString(deterministic=True)


def feature_spec() -> dict:
    """The parsing spec for `tf.io.parse_single_example` / `parse_example`."""
    import tensorflow as tf

    return {
        IMAGE: tf.io.FixedLenFeature([], tf.string),
        IMAGE_FORMAT: tf.io.FixedLenFeature([], tf.string, default_value="png"),
        IMAGE_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
        LABEL: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        LABEL_TEXT: tf.io.FixedLenFeature([], tf.string, default_value=""),
        CAPTIONS: tf.io.VarLenFeature(tf.string),
        EMBEDDINGS: tf.io.VarLenFeature(tf.float32),
        ATTRIBUTES: tf.io.VarLenFeature(tf.float32),
        MASK: tf.io.FixedLenFeature([], tf.string, default_value=""),
    }
