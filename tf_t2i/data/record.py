"""What a source yields: one `Record` per usable image, one `Skipped` per bad input.

Sources stay simple: they read their on-disk layout and yield these; decoding,
validation, resizing and caption encoding happen once, in `convert.py` (one chunk
at a time in prepare.py, images through images.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

# Reasons an input is skipped; counted in dataset.json and listed in skipped.jsonl.
SKIP_REASONS = (
    "corrupt_image",  # undecodable or truncated image file
    "empty_image",  # zero-byte image file
    "missing_image",  # listed by an annotation file but absent on disk
    "no_captions",  # no caption for the image
    "bad_caption_encoding",  # caption file that is not UTF-8
    "mask_size_mismatch",  # mask whose size differs from its image
    "missing_annotation",  # an annotation file or entry the source requires
    "bad_annotation",  # an annotation line that cannot be parsed
    "caption_too_long",  # a caption over the caption limits (tf_t2i.text.limits)
)


@dataclasses.dataclass
class Record:
    """One example, before conversion.

    Attributes:
        image: encoded file bytes (PNG/JPEG/...) or a decoded uint8 array
            [H, W] or [H, W, C].
        image_id: source-relative id, e.g. "001.Black_footed_Albatross/xxx.jpg".
        split: "train", "val" or "test".
        captions: UTF-8 captions (may be empty only for sources without text;
            convert then composes none and the record is skipped as no_captions
            unless the source says captions are optional).
        label: class index, -1 if none.
        label_text: class name, "" if none.
        attributes: float vector [A] or None.
        mask: encoded single-channel PNG bytes or a uint8 array [H, W]
            (0 = background, 255 = object), or None.
        source_file: the file the image came from, for error messages.
        embeddings: float32 [len(captions), D] caption embeddings published
            with the data (StackGAN's char-CNN-RNN), row i for captions[i],
            or None. Used when converting with `--encoder precomputed`.
    """

    image: bytes | np.ndarray
    image_id: str
    split: str
    captions: Sequence[str] = ()
    label: int = -1
    label_text: str = ""
    attributes: Sequence[float] | np.ndarray | None = None
    mask: bytes | np.ndarray | None = None
    source_file: str = ""
    embeddings: np.ndarray | None = None


@dataclasses.dataclass
class Skipped:
    """An input that could not be used.

    Attributes:
        reason: one of SKIP_REASONS.
        file: the offending file (and `:LINE` where a line is at fault).
        detail: a human-readable explanation.
        split: the split it would have belonged to, if known.
    """

    reason: str
    file: str
    detail: str = ""
    split: str = ""

    def __post_init__(self):
        if self.reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {self.reason!r}")
