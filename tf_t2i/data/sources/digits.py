"""The built-in real data set: scikit-learn's 1,797 handwritten 8x8 digits, upsampled.

Each digit image (values 0..16, white ink on black) is scaled to 0..255 and
upsampled with bicubic interpolation to `image_size`; it gets five templated
captions ("a handwritten seven", "the digit 7", ...) and its digit as class
label. The split is fixed: every fifth image (index % 5 == 4) is "test".
Training never flips them (manifest random_flip false): mirrored digits are
not digits.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tf_t2i.data.record import Record
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.errors import T2IError

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEMPLATES = (
    "a handwritten {name}",
    "the digit {digit}",
    "a hand-written number {name}",
    "the number {digit} written by hand",
    "a {name}, written in white ink on black",
)
TEST_EVERY = 5


class DigitsSource(Source):
    """scikit-learn's bundled handwritten digits.

    Args:
        path: unused (built in); must be None.
        image_size: side of the upsampled square images.
    """

    name = "digits"
    # a mirrored 3, 5 or 7 is no digit: training must not flip the images
    flip_invariant = False
    revision = 2  # 2: random_flip off

    def __init__(self, path=None, *, image_size: int = 32):
        if path is not None:
            raise T2IError("the digits source is built in and takes no PATH")
        if image_size < 8:
            raise T2IError("digits: image_size must be at least 8")
        self.image_size = int(image_size)

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            splits=["train", "test"],
            class_names=list(NAMES),
            captions_per_image=len(TEMPLATES),
            options={"image_size": self.image_size},
        )

    def examples(self, split: str) -> Iterator[Record]:
        from PIL import Image
        from sklearn.datasets import load_digits

        if split not in ("train", "test"):
            raise T2IError(f"digits has splits train and test, not {split!r}")
        digits = load_digits()
        for index, (pixels, digit) in enumerate(zip(digits.images, digits.target, strict=True)):
            if (index % TEST_EVERY == TEST_EVERY - 1) != (split == "test"):
                continue
            small = Image.fromarray(np.round(pixels * (255.0 / 16.0)).astype(np.uint8))
            image = small.resize((self.image_size, self.image_size), Image.Resampling.BICUBIC)
            digit = int(digit)
            yield Record(
                image=np.asarray(image),  # uint8 [S, S]
                image_id=f"digits/{index:04d}",
                split=split,
                captions=[t.format(name=NAMES[digit], digit=digit) for t in TEMPLATES],
                label=digit,
                label_text=NAMES[digit],
                source_file=f"sklearn.datasets.load_digits()[{index}]",
            )
