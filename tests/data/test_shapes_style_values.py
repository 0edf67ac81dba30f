"""Shapes with `style_values`: each image's first shape's angle recorded as a style value,
carried through real TFRecords and the real tf.data pipeline; bad values skipped by name."""

import math

import numpy as np
import pytest

from tf_t2i.data import schema
from tf_t2i.data.convert import convert
from tf_t2i.data.input import make_dataset
from tf_t2i.data.record import Record
from tf_t2i.data.sources import get_source
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.data.sources.shapes import MAX_ANGLE


def test_the_angle_is_recorded_as_a_value_in_minus_one_to_one_and_nan_for_circles():
    source = get_source("shapes", None, num_images=60, image_size=16, style_values=True)
    assert source.info().style_value_names == ["angle"]
    assert source.info().options["style_values"] is True
    plain = get_source("shapes", None, num_images=60, image_size=16)
    assert plain.info().style_value_names == [] and "style_values" not in plain.info().options
    kinds, values = [], []
    for index in range(60):
        record = source.make(index)
        _, _, shapes = source._layout(index)
        kinds.append(shapes[0]["kind"])
        (value,) = record.style_values
        values.append(value)
        if shapes[0]["kind"] == "circle":
            assert math.isnan(value)
        else:
            assert value == pytest.approx(shapes[0]["angle"] / MAX_ANGLE)
        # the image is the same as without the option
        np.testing.assert_array_equal(record.image, plain.make(index).image)
        assert plain.make(index).style_values is None
    known = np.asarray([v for v in values if not math.isnan(v)])
    assert "circle" in kinds and len(known) > 40
    assert known.min() >= -1 and known.max() <= 1 and known.std() > 0.4  # uniform: 0.58


def test_style_values_go_through_records_and_the_input_pipeline(tmp_path, hash_encoder):
    source = get_source("shapes", None, num_images=40, image_size=16, style_values=True)
    manifest = convert(source, tmp_path, encoder=hash_encoder, image_size=16, progress=False)
    assert schema.read_manifest(tmp_path).style_value_names == ["angle"]
    assert manifest.num_style_values == 1
    expected = [r.style_values[0] for r in source.examples("train")]
    got = []
    for batch in make_dataset(tmp_path, batch_size=8, training=True, repeat=False, seed=0):
        assert batch["style_values"].shape[1:] == (1,)
        assert batch["style_values"].dtype.name == "float32"
        for caption, value in zip(
            batch["captions"].numpy(), batch["style_values"].numpy()[:, 0], strict=True
        ):
            got.append(float(value))
            circle = b"circle" in caption
            assert math.isnan(value) == circle, caption
    assert len(got) == 32  # 36 train examples, the last partial batch dropped
    everything = [
        float(v)
        for b in make_dataset(tmp_path, batch_size=6, training=False, repeat=False)
        for v in b["style_values"].numpy()[:, 0]
    ]

    def known(values):
        return sorted(v for v in values if not math.isnan(v))

    np.testing.assert_allclose(known(everything), known(expected), rtol=1e-6)
    assert sum(map(math.isnan, everything)) == sum(map(math.isnan, expected)) > 0
    # data converted without the option has no style_values key
    plain_dir = tmp_path / "plain"
    convert(get_source("shapes", None, num_images=20, image_size=16), plain_dir,
            encoder=hash_encoder, image_size=16, progress=False)  # fmt: skip
    assert schema.read_manifest(plain_dir).style_value_names == []
    batch = next(iter(make_dataset(plain_dir, batch_size=4, training=True, seed=0)))
    assert "style_values" not in batch


class _StyledSource(Source):
    """Four gray images with one style value each; two of them bad."""

    name = "styled"

    def __init__(self, path=None, values=None):
        self.values = values

    def info(self):
        return SourceInfo(name=self.name, splits=["train"], style_value_names=["tilt"])

    def examples(self, split):
        for i, value in enumerate(self.values):
            yield Record(
                image=np.full((16, 16, 3), 100 + 20 * i, np.uint8),
                image_id=f"img{i}.png",
                split="train",
                captions=[f"a gray square number {i}"],
                source_file=f"styled/img{i}.png",
                style_values=value,
            )


def test_bad_style_values_are_skipped_by_file_and_the_rest_kept(tmp_path, hash_encoder):
    source = _StyledSource(values=[[0.5], [1.5], [0.1, 0.2], None, [math.nan]])
    manifest = convert(source, tmp_path, encoder=hash_encoder, image_size=16, progress=False)
    assert manifest.num_examples("train") == 2  # img0 and img4 (NaN: does not apply)
    skipped = [line for line in (tmp_path / "skipped.jsonl").read_text().splitlines()]
    text = "\n".join(skipped)
    assert "styled/img1.png" in text and "outside [-1, 1]" in text
    assert "styled/img2.png" in text and "2 style values, expected 1" in text
    assert "styled/img3.png" in text and "0 style values, expected 1" in text
    values = [
        float(b["style_values"].numpy()[0, 0])
        for b in make_dataset(tmp_path, batch_size=1, training=False, repeat=False)
    ]
    assert len(values) == 2 and sum(map(math.isnan, values)) == 1
    assert [v for v in values if not math.isnan(v)] == [pytest.approx(0.5)]
