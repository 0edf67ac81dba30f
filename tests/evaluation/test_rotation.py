"""The rotation reader: shapes drawn at known angles read back, and which data sets have one."""

import math

import numpy as np
import pytest

from tf_t2i.data.schema import read_manifest
from tf_t2i.data.sources import shapes
from tf_t2i.evaluation import rotation


def _drawn(kind, size, angle, background="gray", color="red", image_size=32):
    shape = {"color": color, "kind": kind, "size": size, "position": "center", "angle": angle,
             "jitter": (0.01, -0.02)}  # fmt: skip
    image, _ = shapes._render([shape], background, image_size)
    return image.astype(np.float32) / 127.5 - 1.0


@pytest.mark.parametrize("kind", sorted(rotation.SYMMETRY))
@pytest.mark.parametrize("background", sorted(shapes.BACKGROUNDS))
def test_angles_of_drawn_shapes_read_back(kind, background):
    for size, tolerance in (("large", 0.04), ("medium", 0.06)):
        for angle in (-0.24, -0.1, 0.0, 0.13, 0.24):
            image = _drawn(kind, size, angle, background, color="blue")
            read = rotation.read_angle(image, kind, shapes.COLORS["blue"])
            assert read == pytest.approx(angle, abs=tolerance), (size, angle)


def test_a_circle_a_blob_or_an_empty_image_has_no_angle():
    red = shapes.COLORS["red"]
    assert math.isnan(rotation.read_angle(_drawn("circle", "large", 0.2), "circle", red))
    # a round blob where a star should be: its moment's phase would be noise
    for kind in rotation.SYMMETRY:
        assert math.isnan(rotation.read_angle(_drawn("circle", "large", 0.0), kind, red)), kind
    blank = np.full((32, 32, 3), -1.0, np.float32)
    assert math.isnan(rotation.read_angle(blank, "square", red))


def test_the_reader_reads_by_class_and_bins_over_the_range():
    reader = rotation.AngleReader(["red circle", "red square", "green star"], 0.25)
    assert reader.readable(np.array([0, 1, 2, -1])).tolist() == [False, True, True, False]
    images = np.stack([_drawn("square", "large", 0.2), _drawn("square", "large", -0.2)])
    angles = reader.read(images, np.array([1, 0]))
    assert angles[0] == pytest.approx(0.2, abs=0.04) and math.isnan(angles[1])
    edges = np.array([-0.3, -0.25, -0.151, -0.149, 0.0, 0.149, 0.151, 0.249, 0.3, np.nan])
    assert reader.bins(edges).tolist() == [0, 0, 0, 1, 2, 3, 4, 4, 4, -1]


def test_only_the_built_in_shapes_with_one_shape_per_image_have_a_reader(shapes_dir):
    manifest = read_manifest(shapes_dir)
    reader = rotation.reader_for(manifest)
    assert reader is not None and reader.max_angle == shapes.MAX_ANGLE
    manifest.source = {"name": "shapes", "options": {"max_shapes": 3}}
    assert rotation.reader_for(manifest) is None
    manifest.source = {"name": "folder", "options": {}}
    assert rotation.reader_for(manifest) is None
