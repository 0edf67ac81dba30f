"""Image decode, resize and encode: the one place that turns bytes into pixels and back.

    image = open_image(data)                      # PIL image, RGB or L; ValueError(reason, detail)
    image = resize(image, ImageOptions(64, "pad"))
    data = encode(image, "png")                   # bytes
    pixels = to_uint8(generated)                  # float [-1, 1] -> uint8 [0, 255]

`t2i convert` decodes and re-encodes every input with these (in worker
processes too: nothing here imports TensorFlow at module level); sources that
produce arrays, `t2i generate`'s PNG files and the sample grids use them too.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np

RESIZE_POLICIES = ("center-crop", "stretch", "pad")
IMAGE_FORMATS = ("png", "jpeg")


@dataclasses.dataclass(frozen=True)
class ImageOptions:
    """How images are stored.

    Attributes:
        stored_size: side of the stored square image.
        resize: one of RESIZE_POLICIES: "center-crop" keeps the central square,
            "stretch" scales both sides to the square, "pad" fits the image
            inside the square on black.
        image_format: "png" (lossless) or "jpeg" (quality 95, smaller).
        channels: 3 (RGB) or 1 (grey).
    """

    stored_size: int = 64
    resize: str = "center-crop"
    image_format: str = "png"
    channels: int = 3


def open_image(data):
    """Decodes image bytes or a uint8 array fully into a PIL image (RGB or L).

    Transparency is composited onto black; other modes become RGB.

    Args:
        data: encoded bytes (PNG, JPEG, ...) or an array [H, W] / [H, W, C].

    Raises:
        ValueError(reason, detail): "empty_image" or "corrupt_image" (a
            truncated file fails here, as every pixel is decoded).
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(data, np.ndarray):
        array = data.astype(np.uint8) if data.dtype != np.uint8 else data
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        return Image.fromarray(array)
    if len(data) == 0:
        raise ValueError("empty_image", "zero-byte image file")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # decodes every pixel: catches truncated files
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError("corrupt_image", f"cannot decode image: {err}") from None
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        if image.mode == "RGBA":  # composite transparency onto black
            background = Image.new("RGB", image.size)
            background.paste(image, mask=image.getchannel("A"))
            image = background
    return image


def resize(image, options: ImageOptions):
    """Resizes a PIL image to the stored square (`options.stored_size`) by `options.resize`."""
    from PIL import Image

    size = options.stored_size
    width, height = image.size
    if width == height == size:
        return image
    resample = Image.Resampling.LANCZOS if min(width, height) > size else Image.Resampling.BICUBIC
    if options.resize == "center-crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return image.resize((size, size), resample, box=(left, top, left + side, top + side))
    if options.resize == "stretch":
        return image.resize((size, size), resample)
    scale = size / max(width, height)  # pad
    inner = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), resample)
    canvas = Image.new(image.mode, (size, size))
    canvas.paste(inner, ((size - inner.size[0]) // 2, (size - inner.size[1]) // 2))
    return canvas


def encode(image, image_format: str = "png", *, compress_level: int = 1) -> bytes:
    """A PIL image, or a uint8 array [H, W] / [H, W, C] (C = 1, 3 or 4), -> PNG or JPEG bytes.

    Args:
        image: the pixels.
        image_format: "png" or "jpeg" (quality 95).
        compress_level: PNG zlib level; 1 (the default) is several times faster
            than PIL's 6 for files a little larger.
    """
    from PIL import Image

    if isinstance(image, np.ndarray):
        array = np.asarray(image, np.uint8)
        image = Image.fromarray(
            array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array
        )
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, format="JPEG", quality=95)
    else:
        image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def to_uint8(images, rgb: bool = False):
    """Generator output -> pixels: float [..., C] in [-1, 1] -> uint8 [..., C] in [0, 255].

    Rounded to nearest (half to even) and clipped. One formula for every path:
    a tf.Tensor in gives a tf.Tensor out (the exported SavedModel's graph runs
    this); a NumPy array in gives a NumPy array out (sample grids).

    Args:
        images: float [..., C].
        rgb: repeat a single channel to three (for RGB picture grids).
    """
    import tensorflow as tf

    eager_array = isinstance(images, np.ndarray)
    pixels = tf.cast(images, tf.float32)
    pixels = tf.cast(tf.clip_by_value(tf.round((pixels + 1.0) * 127.5), 0.0, 255.0), tf.uint8)
    if rgb and pixels.shape[-1] == 1:
        pixels = tf.repeat(pixels, 3, axis=-1)
    return pixels.numpy() if eager_array else pixels
