"""CUB-200-2011 bounding boxes and the square crop StackGAN trained on.

`CUB_200_2011/images.txt` maps image ids to paths, `bounding_boxes.txt` image
ids to `x y width height` in pixels. StackGAN (Zhang et al. 2017, the
`load_bbox` / `get_imgs` of its data loader) crops a square around the box's
centre whose half side is 0.75 x the box's larger side, clipped to the image;
AttnGAN and DF-GAN kept that crop.
"""

from __future__ import annotations

import pathlib

import numpy as np

from tf_t2i.data import images
from tf_t2i.data.sources import files
from tf_t2i.errors import T2IError

# half side of the square, as a fraction of the box's larger side
BOX_MARGIN = 0.75


def read_boxes(cub_dir: pathlib.Path) -> dict[str, tuple[float, float, float, float]]:
    """Image key ("001.Black_footed_Albatross/Black_Footed_Albatross_0046_18") -> (x, y, w, h).

    Raises:
        T2IError: a file is missing or a line does not parse (naming file:line).
    """
    images = files.require_file(cub_dir / "images.txt", "CUB images.txt")
    boxes = files.require_file(cub_dir / "bounding_boxes.txt", "CUB bounding_boxes.txt")
    paths = {}
    for number, line in enumerate(images.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if len(parts) != 2:
            if parts:
                raise T2IError(f"{images}:{number}: expected '<id> <path>'")
            continue
        paths[parts[0]] = parts[1].rsplit(".", 1)[0]
    result = {}
    for number, line in enumerate(boxes.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            x, y, w, h = (float(v) for v in parts[1:])
        except ValueError:
            raise T2IError(f"{boxes}:{number}: expected '<id> <x> <y> <width> <height>'") from None
        if parts[0] in paths:
            result[paths[parts[0]]] = (x, y, w, h)
    return result


def square_around(box, width: int, height: int) -> tuple[int, int, int, int]:
    """StackGAN's crop window (left, top, right, bottom) for a box in a width x height image."""
    x, y, w, h = box
    half = int(max(w, h) * BOX_MARGIN)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    return max(0, cx - half), max(0, cy - half), min(width, cx + half), min(height, cy + half)


def crop(data: bytes, box) -> np.ndarray:
    """Decodes an image and crops StackGAN's square around its box.

    Returns:
        uint8 [H, W, 3].

    Raises:
        ValueError(detail): the bytes do not decode.
    """
    try:
        image = images.open_image(data).convert("RGB")
    except ValueError as err:  # (reason, detail)
        raise ValueError(err.args[-1]) from None
    return np.asarray(image.crop(square_around(box, *image.size)))
