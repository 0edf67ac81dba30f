"""tf_t2i/data/images.py: decode, resize, encode, and G's output to pixels."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_t2i.data import images


def test_to_uint8_maps_the_tanh_range_and_clips():
    pixels = tf.constant([-1.5, -1.0, 0.0, 1.0, 2.0])[None, :, None, None]
    assert images.to_uint8(pixels).numpy().ravel().tolist() == [0, 0, 128, 255, 255]


def test_to_uint8_gives_the_same_pixels_for_numpy_eager_and_graph():
    generated = np.random.default_rng(0).uniform(-1.2, 1.2, (2, 4, 4, 1)).astype(np.float32)
    from_numpy = images.to_uint8(generated)
    assert isinstance(from_numpy, np.ndarray) and from_numpy.dtype == np.uint8
    graph = tf.function(images.to_uint8)(tf.constant(generated)).numpy()
    np.testing.assert_array_equal(from_numpy, graph)
    rgb = images.to_uint8(generated, rgb=True)
    assert rgb.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(rgb[..., 2], from_numpy[..., 0])


@pytest.mark.parametrize("image_format", images.IMAGE_FORMATS)
def test_encode_then_open_round_trips(image_format):
    pixels = np.zeros((8, 6, 3), np.uint8)
    pixels[:, :3] = 200
    data = images.encode(pixels, image_format)
    assert Image.open(io.BytesIO(data)).format == image_format.upper()
    decoded = np.asarray(images.open_image(data))
    assert decoded.shape == (8, 6, 3)
    if image_format == "png":
        np.testing.assert_array_equal(decoded, pixels)


def test_grey_arrays_encode_as_one_channel():
    data = images.encode(np.full((4, 4, 1), 9, np.uint8))
    assert Image.open(io.BytesIO(data)).mode == "L"


@pytest.mark.parametrize(
    ("data", "reason"), [(b"", "empty_image"), (b"\x89PNG\r\n\x1a\nnot a png", "corrupt_image")]
)
def test_open_image_names_why_it_cannot_decode(data, reason):
    with pytest.raises(ValueError) as info:
        images.open_image(data)
    assert info.value.args[0] == reason


def test_transparency_is_composited_onto_black():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[0, 0, 3] = 255  # one opaque red pixel, the rest transparent
    opened = np.asarray(images.open_image(images.encode(rgba)))
    assert opened[0, 0].tolist() == [255, 0, 0] and opened[1, 1].tolist() == [0, 0, 0]


@pytest.mark.parametrize("policy", images.RESIZE_POLICIES)
def test_resize_makes_the_stored_square(policy):
    wide = Image.fromarray(np.full((10, 20, 3), 50, np.uint8))
    out = images.resize(wide, images.ImageOptions(stored_size=8, resize=policy))
    assert out.size == (8, 8)
    if policy == "pad":  # fitted inside the square on black
        assert np.asarray(out)[0, 0].tolist() == [0, 0, 0]
