"""The built-in shapes source: counts per split, determinism, captions, attributes, masks."""

import numpy as np
import pytest
from sources_testing import records, split_counts

from tf_t2i.data.sources import get_source
from tf_t2i.data.sources.shapes import COLORS, SHAPES, ShapesSource, attribute_names
from tf_t2i.errors import T2IError


def test_counts_examples_per_split():
    assert split_counts(get_source("shapes", num_images=64, test_fraction=0.25)) == {
        "train": 48,
        "test": 16,
    }
    assert split_counts(ShapesSource(num_images=10, test_fraction=0.0)) == {"train": 10, "test": 0}


def test_deterministic_from_seed_and_prefix_stable():
    a = records(ShapesSource(num_images=20, image_size=32, seed=5, max_shapes=3), "train")
    b = records(ShapesSource(num_images=40, image_size=32, seed=5, max_shapes=3), "train")
    c = records(ShapesSource(num_images=20, image_size=32, seed=6, max_shapes=3), "train")
    for x, y in zip(a, b[: len(a)], strict=True):
        np.testing.assert_array_equal(x.image, y.image)
        assert x.captions == y.captions
    assert any(not np.array_equal(x.image, z.image) for x, z in zip(a, c, strict=True))


def test_record_contents_agree():
    names = attribute_names()
    for record in records(ShapesSource(num_images=30, image_size=32, seed=1), "train"):
        assert record.image.shape == (32, 32, 3) and record.image.dtype == np.uint8
        assert record.mask.shape == (32, 32) and record.mask.max() > 200
        on = [names[i] for i in np.flatnonzero(record.attributes)]
        assert len(on) == 5  # one per group: colour, shape, size, position, background
        color, kind = on[0].split("=")[1], on[1].split("=")[1]
        assert record.label == list(COLORS).index(color) * len(SHAPES) + SHAPES.index(kind)
        assert record.label_text == f"{color} {kind}"
        assert len(record.captions) == 5 and len(set(record.captions)) == 5
        size, position = on[2].split("=")[1], on[3].split("=")[1]
        assert record.captions[0].startswith(f"a {size} {color} {kind}")
        assert position in record.captions[0]
        # the shape is drawn in its colour where the mask is on
        inside = record.image[record.mask > 250].mean(axis=0)
        np.testing.assert_allclose(inside, COLORS[color], atol=2)
        # and the mask sits in the named part of the image
        ys, xs = np.nonzero(record.mask > 128)
        if "left" in position:
            assert xs.mean() < 16
        if "bottom" in position:
            assert ys.mean() > 16


def test_several_shapes_per_image():
    recs = records(ShapesSource(num_images=40, max_shapes=3, seed=0), "train")
    counts = {r.captions[0].count(" and a ") + 1 for r in recs}
    assert counts == {1, 2, 3}


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(num_images=0), "num_images"),
        (dict(max_shapes=9), "max_shapes"),
        (dict(image_size=4), "image_size"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(T2IError, match=message):
        ShapesSource(**options)


def test_takes_no_path():
    with pytest.raises(T2IError, match="takes no PATH"):
        get_source("shapes", "/some/path")
