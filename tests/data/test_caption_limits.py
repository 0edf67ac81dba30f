"""Conversion drops captions over the caption limits, naming them in skipped.jsonl."""

import json

import numpy as np

from tf_t2i.data import schema
from tf_t2i.data.convert import convert
from tf_t2i.data.record import Record
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.text.limits import CaptionLimits


class _Captions(Source):
    """Test-only: three images with the given captions."""

    name = "captions"

    def __init__(self, captions):
        self.captions = captions

    def info(self):
        return SourceInfo(name="captions", splits=["train"])

    def examples(self, split):
        for i, captions in enumerate(self.captions):
            image = np.full((8, 8, 3), 40 * i, np.uint8)
            yield Record(image=image, image_id=f"img{i}", split=split, captions=captions)


def test_long_captions_are_dropped_and_listed(tmp_path, hash_encoder):
    word = "a" * 5000  # one unbroken word, over 2048 bytes
    source = _Captions([["a red circle", word], [word], ["a blue square"]])
    manifest = convert(source, tmp_path, encoder=hash_encoder, image_size=8, progress=False)
    assert manifest.num_examples("train") == 2  # img1 had no caption left
    assert manifest.skipped == {"caption_too_long": 2}
    lines = [json.loads(line) for line in (tmp_path / schema.SKIPPED_FILE).read_text().splitlines()]
    assert [(x["reason"], x["file"]) for x in lines] == [
        ("caption_too_long", "img0"),
        ("caption_too_long", "img1"),
    ]
    assert "5000 bytes, over the limit of 2048 bytes" in lines[0]["detail"]
    assert manifest.captions_per_image == 1


def test_the_limits_are_options_of_the_conversion(tmp_path, hash_encoder):
    source = _Captions([["a red circle on a blue ground"], ["a square"]])
    manifest = convert(source, tmp_path, encoder=hash_encoder, image_size=8, progress=False,
                       caption_limits=CaptionLimits(max_bytes=100, max_tokens=3))  # fmt: skip
    assert manifest.num_examples("train") == 1
    assert manifest.conversion["caption_limits"] == {"max_bytes": 100, "max_tokens": 3}
    (line,) = (tmp_path / schema.SKIPPED_FILE).read_text().splitlines()
    assert "7 tokens, over the limit of 3 tokens" in line
