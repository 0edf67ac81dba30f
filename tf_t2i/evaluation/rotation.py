"""A shape's rotation, read off the image: the style no attribute of the shapes data records.

The built-in shapes turn each shape by an angle drawn uniformly in
[-MAX_ANGLE, MAX_ANGLE] and no caption names it, so it is style, like the
background. The evaluator CNN is not taught it (the records keep no angle);
this reader measures it geometrically instead, for a data set of one shape per
image whose class names the shape's colour and kind ("red square"):

1. foreground: the pixels nearer the class's colour than the background (the
   median of the image's border);
2. the k-fold angular moment of the foreground about its centroid,
   sum r^2 exp(i k theta), where k is the kind's symmetry (triangle 3, square
   and cross 4, star 5, the elongated diamond 2); its phase over k, less that
   of the kind drawn unturned, is the angle, within +-pi/k.

Edge pixels count by their coverage. A circle has no angle (NaN), nor does an
image without foreground, nor one whose moment is under MIN_STRENGTH of the
shape's own: a blob without the kind's corners, whose phase would be noise. On the 400 real test images of the built-in data
(seed 0) its mean error per kind and size is 0.003-0.016 rad at 64x64 and
0.004-0.042 at 32x32, the small diamond worst (MAX_ANGLE is 0.25). The spread and the style transfer of
evaluation/style.py bin the angles into ANGLE_BINS equal bins over
[-MAX_ANGLE, MAX_ANGLE] (angles beyond fall in the end bins).
"""

from __future__ import annotations

import functools
import math

import numpy as np

ANGLE_BINS = 5
SYMMETRY = {"triangle": 3, "square": 4, "cross": 4, "star": 5, "diamond": 2}
_MIN_FOREGROUND = 4  # pixels
# A reading counts when the moment is at least this share of the drawn shape's: real
# images score 0.75-1.0 of it (32x32, 64x64), a round blob near 0
MIN_STRENGTH = 0.5


@functools.cache
def _unturned(kind: str, size: int = 256) -> tuple[float, float]:
    """The moment's (phase, strength) of `kind` drawn at angle 0 (large, supersampled)."""
    from PIL import Image, ImageDraw

    from tf_t2i.data.sources.shapes import _polygon

    image = Image.new("L", (size, size), 0)
    ImageDraw.Draw(image).polygon(_polygon(kind, size / 2, size / 2, size * 0.4, 0.0), fill=255)
    return _moment(np.asarray(image, np.float32) / 255.0, SYMMETRY[kind])


def _moment(weights: np.ndarray, k: int) -> tuple[float, float]:
    """(phase, strength) of m = sum w r^2 exp(i k theta) about the weights' centroid;
    strength |m| / sum w r^2 is 0 for a disc and grows with the k-fold corners."""
    h, w = weights.shape
    y, x = np.mgrid[0:h, 0:w] + 0.5
    total = weights.sum()
    dx = x - (weights * x).sum() / total
    dy = y - (weights * y).sum() / total
    r2 = weights * (dx * dx + dy * dy)
    moment = (r2 * np.exp(1j * k * np.arctan2(dy, dx))).sum()
    return float(np.angle(moment)), float(abs(moment) / max(r2.sum(), 1e-9))


def read_angle(image: np.ndarray, kind: str, color) -> float:
    """The angle (rad) of the one `kind` shape of RGB `color` in `image`.

    Args:
        image: float [H, W, 3] in [-1, 1].
        kind: a shapes kind; a circle (or any kind without a symmetry) gives NaN.
        color: its RGB in [0, 255].

    Returns:
        The angle in [-pi/k, pi/k), or NaN if it cannot be read (no foreground, or
        too round to show the kind's corners).
    """
    if kind not in SYMMETRY:
        return float("nan")
    pixels = (np.asarray(image, np.float32) + 1.0) * 127.5
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = np.median(border, axis=0)
    near_color = np.linalg.norm(pixels - np.asarray(color, np.float32), axis=-1)
    near_background = np.linalg.norm(pixels - background, axis=-1)
    # a blended edge pixel a * color + (1 - a) * background has coverage a = this ratio
    coverage = near_background / np.maximum(near_color + near_background, 1e-6)
    foreground = np.where(coverage > 0.5, 1.0, np.where(coverage > 0.25, coverage, 0.0))
    if foreground.sum() < _MIN_FOREGROUND:
        return float("nan")
    k = SYMMETRY[kind]
    phase, strength = _moment(foreground, k)
    unturned_phase, unturned_strength = _unturned(kind)
    if strength < MIN_STRENGTH * unturned_strength:
        return float("nan")  # a blob: its phase is noise, not a rotation
    angle = (phase - unturned_phase) / k
    half = math.pi / k
    return (angle + half) % (2 * half) - half


class AngleReader:
    """Reads the rotation of images of a shapes data set, given each image's class."""

    def __init__(self, class_names, max_angle: float):
        from tf_t2i.data.sources.shapes import COLORS

        self.max_angle = max_angle
        self._kinds = []  # per class: (kind, RGB) or None
        for name in class_names:
            color, _, kind = str(name).partition(" ")
            self._kinds.append((kind, COLORS[color]) if color in COLORS else None)

    def readable(self, labels: np.ndarray) -> np.ndarray:
        """bool [N]: whether images of these classes have an angle to read."""
        return np.array(
            [0 <= label < len(self._kinds) and self.kind_of(label) in SYMMETRY for label in labels],
            bool,
        )

    def kind_of(self, label) -> str | None:
        """The kind of a class (None if the class names no colour and kind)."""
        entry = self._kinds[int(label)]
        return entry[0] if entry else None

    def read(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """float [N] angles of images float [N, H, W, 3] in [-1, 1] of classes int [N]; NaN
        where unreadable (a circle, no class, no foreground)."""
        angles = np.full(len(labels), np.nan)
        for i in np.flatnonzero(self.readable(labels)):
            kind, color = self._kinds[int(labels[i])]
            angles[i] = read_angle(images[i], kind, color)
        return angles

    def bins(self, angles: np.ndarray) -> np.ndarray:
        """int [N] bin of each angle (ANGLE_BINS over +-max_angle, ends open); -1 for NaN."""
        angles = np.asarray(angles, np.float64)
        scaled = (angles + self.max_angle) / (2 * self.max_angle) * ANGLE_BINS
        bins = np.clip(np.floor(np.nan_to_num(scaled)), 0, ANGLE_BINS - 1).astype(np.int64)
        return np.where(np.isnan(angles), -1, bins)


def reader_for(manifest) -> AngleReader | None:
    """The rotation reader of a data set: the built-in shapes with one shape per image
    and at least one kind with an angle; None for any other data set."""
    source = manifest.source or {}
    if str(source.get("name", "")).partition(":")[0] != "shapes":
        return None
    if int((source.get("options") or {}).get("max_shapes", 1)) != 1:
        return None  # the foreground would hold the other shapes of the colour too
    from tf_t2i.data.sources.shapes import MAX_ANGLE

    reader = AngleReader(manifest.class_names or [], MAX_ANGLE)
    if not reader.readable(np.arange(len(manifest.class_names or []))).any():
        return None
    return reader
