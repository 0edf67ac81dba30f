"""Any TensorFlow Datasets image data set with a class label (or CelebA's attributes).

`t2i convert tfds:oxford_flowers102 --out data/flowers` loads the data set with
`tensorflow_datasets.load` (downloading it into `data_dir` unless told not to),
encodes each image to PNG, and templates captions from the ClassLabel names
("a photo of a pink primrose", "the digit 7"). `tfds:celeb_a` has no label:
its 40 boolean attributes become the attribute vector and its captions are
composed as in the `celeba` source. `tfds:caltech_birds2011` also carries its
segmentation masks.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tf_t2i.data import images
from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.sources import files
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.data.sources.celeba import compose_captions
from tf_t2i.errors import T2IError

# Our split names -> TFDS split names.
TFDS_SPLITS = {"train": "train", "val": "validation", "test": "test"}
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LABEL_TEMPLATES = (
    "a photo of {a} {name}",
    "{a} {name}",
    "a picture of {a} {name}",
    "an image showing {a} {name}",
    "a close-up photo of {a} {name}",
)
DIGIT_TEMPLATES = (
    "a handwritten {word}",
    "the digit {digit}",
    "the number {word}",
    "a picture of the digit {word}",
    "a {digit} written by hand",
)


class TfdsSource(Source):
    """A TFDS data set by name (see the module docstring).

    Args:
        path: the TFDS data_dir (optional; `data_dir` does the same).
        tfds_name: the TFDS name, e.g. "mnist" (set by `get_source("tfds:mnist")`).
        data_dir: where TFDS keeps prepared data (default: TFDS's own).
        download: let TFDS download and prepare the data if it is not there.
        captions_per_image: captions templated per image.
        image_key, label_key: the feature names of the image and the label.
    """

    name = "tfds"

    def __init__(
        self,
        path=None,
        *,
        tfds_name,
        data_dir=None,
        download=True,
        captions_per_image=3,
        image_key="image",
        label_key="label",
    ):
        import tensorflow_datasets as tfds  # heavy: imported only when this source is used

        self.tfds_name = tfds_name
        self.data_dir = str(path) if path is not None else data_dir
        self.download = files.option_bool(download, "download")
        self.captions_per_image = files.option_number(
            captions_per_image, "captions_per_image", int, low=1
        )
        self.image_key, self.label_key = image_key, label_key
        try:
            self.builder = tfds.builder(tfds_name, data_dir=self.data_dir)
        except Exception as err:  # TFDS raises several types for unknown / broken names
            raise T2IError(f"tfds:{tfds_name}: {err}") from None
        features = self.builder.info.features
        if image_key not in features:
            raise T2IError(f"tfds:{tfds_name} has no image feature {image_key!r}")
        self.class_names = []
        if label_key in features and isinstance(features[label_key], tfds.features.ClassLabel):
            self.class_names = list(features[label_key].names)
        self.attribute_names = []
        if "attributes" in features and isinstance(
            features["attributes"], tfds.features.FeaturesDict
        ):
            self.attribute_names = sorted(features["attributes"].keys())
        if not self.class_names and not self.attribute_names:
            raise T2IError(
                f"tfds:{tfds_name} has neither a ClassLabel {label_key!r} nor attributes "
                "to caption its images from"
            )
        self.has_masks = "segmentation_mask" in features
        self._options = {
            "tfds_name": tfds_name,
            "data_dir": self.data_dir,
            "download": self.download,
            "captions_per_image": self.captions_per_image,
        }

    def info(self) -> SourceInfo:
        known = set(self.builder.info.splits.keys())
        # Before preparation (or under tfds.testing.mock_data) TFDS knows no splits.
        splits = [ours for ours, theirs in TFDS_SPLITS.items() if theirs in known]
        return SourceInfo(
            name=f"tfds:{self.tfds_name}",
            splits=splits or ["train", "test"],
            class_names=[files.readable_class_name(n) for n in self.class_names],
            attribute_names=list(self.attribute_names),
            captions_per_image=self.captions_per_image,
            has_masks=self.has_masks,
            options=dict(self._options),
        )

    def examples(self, split: str) -> Iterator[Record | Skipped]:
        """Yields the split in TFDS's (deterministic, unshuffled) order."""
        import tensorflow_datasets as tfds

        if split not in TFDS_SPLITS:
            raise T2IError(f"tfds: no split {split!r}; splits: {', '.join(TFDS_SPLITS)}")
        try:
            dataset = tfds.load(
                self.tfds_name,
                split=TFDS_SPLITS[split],
                data_dir=self.data_dir,
                download=self.download,
                shuffle_files=False,
            )
        except Exception as err:  # not prepared, no network, unknown split ...
            raise T2IError(f"tfds:{self.tfds_name} split {split!r}: {err}") from None
        for index, example in enumerate(tfds.as_numpy(dataset)):
            yield self._record(example, index, split)

    def _record(self, example: dict, index: int, split: str) -> Record:
        label, label_text, attributes = -1, "", None
        if self.class_names:
            label = int(example[self.label_key])
            label_text = files.readable_class_name(self.class_names[label])
            if "label_name" in example:  # caltech_birds2011's ClassLabel names are numbers
                label_text = files.readable_class_name(example["label_name"].decode("utf-8"))
        if self.attribute_names:
            flags = {name: bool(example["attributes"][name]) for name in self.attribute_names}
            attributes = np.array([flags[n] for n in self.attribute_names], np.float32)
            captions = compose_captions(flags, self.captions_per_image)
        else:
            captions = label_captions(label_text, self.captions_per_image)
        mask = None
        if self.has_masks:
            # uint8 [H, W]; TFDS stores 0 / 255 (or 0 / 1) single-channel masks.
            mask = np.squeeze(example["segmentation_mask"], axis=-1).astype(np.uint8)
            if mask.max(initial=0) == 1:
                mask = mask * 255
        return Record(
            image=images.encode(example[self.image_key]),
            image_id=f"{self.tfds_name}/{TFDS_SPLITS[split]}/{index}",
            split=split,
            captions=captions,
            label=label,
            label_text=label_text,
            attributes=attributes,
            mask=mask,
            source_file=f"tfds:{self.tfds_name}[{TFDS_SPLITS[split]}][{index}]",
        )


def label_captions(name: str, count: int) -> list[str]:
    """Templated captions for a class name; digit names read as digits ("the digit 7")."""
    if name.isdigit() and int(name) < len(DIGIT_WORDS):
        word = DIGIT_WORDS[int(name)]
        return [
            DIGIT_TEMPLATES[i % len(DIGIT_TEMPLATES)].format(word=word, digit=name)
            for i in range(count)
        ]
    return [
        LABEL_TEMPLATES[i % len(LABEL_TEMPLATES)].format(a=files.article(name), name=name)
        for i in range(count)
    ]
