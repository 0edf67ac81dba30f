"""The built-in procedural data set: coloured shapes with paraphrased captions.

Each image shows one or more shapes (circle, square, triangle, diamond, star,
cross) in one of eight colours, three sizes and nine positions, on one of three
backgrounds. Each comes with five paraphrased captions ("a small red circle in
the top left corner"), a one-hot attribute vector describing the first shape
(colour, shape, size, position, background), the mask of all its shapes, and a
class label colour x shape of the first shape. Image i depends only on (seed, i),
so the data set is reproducible and any prefix of it is the same.

The background is the style the captions leave free (`style_groups`); so is
each shape's rotation (within +-MAX_ANGLE), which no attribute records and
evaluation reads off the image (tf_t2i/evaluation/rotation.py). With
`holdout` (or `holdout_classes`) some colour x kind combinations never appear
in the train split, for zero-shot evaluation (holdout.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from tf_t2i.data.record import Record
from tf_t2i.data.sources import shapes_languages
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.data.sources.holdout import held_out_classes
from tf_t2i.errors import T2IError

COLORS = {
    "red": (220, 30, 30),
    "green": (30, 180, 40),
    "blue": (40, 70, 230),
    "yellow": (240, 220, 40),
    "purple": (150, 50, 200),
    "orange": (250, 140, 20),
    "cyan": (40, 210, 220),
    "pink": (250, 130, 190),
}
SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross")
MAX_ANGLE = 0.25  # a shape is turned by an angle drawn uniformly in [-MAX_ANGLE, MAX_ANGLE] rad
SIZES = {"small": 0.13, "medium": 0.2, "large": 0.28}  # radius as a fraction of the side
# position name -> (x, y) centre as fractions of the side, and its phrase
POSITIONS = {
    "top left": ((0.25, 0.25), "in the top left corner"),
    "top": ((0.5, 0.25), "at the top"),
    "top right": ((0.75, 0.25), "in the top right corner"),
    "left": ((0.25, 0.5), "on the left"),
    "center": ((0.5, 0.5), "in the center"),
    "right": ((0.75, 0.5), "on the right"),
    "bottom left": ((0.25, 0.75), "in the bottom left corner"),
    "bottom": ((0.5, 0.75), "at the bottom"),
    "bottom right": ((0.75, 0.75), "in the bottom right corner"),
}
BACKGROUNDS = {"black": (0, 0, 0), "gray": (110, 110, 110), "white": (245, 245, 245)}

# paraphrases of one shape: {s}ize, {c}olour, {k}ind, {p}osition phrase
_SHAPE_PHRASES = (
    "a {s} {c} {k} {p}",
    "{p} there is a {s} {c} {k}",
    "a {c} {k} of {s} size {p}",
    "the {k} is {c} and {s}, {p}",
    "a {s} {k} coloured {c}, {p}",
)
_SUPERSAMPLE = 4  # drawn larger then downsampled, for smooth edges


class ShapesSource(Source):
    """Procedural coloured shapes.

    Args:
        path: unused (built in); must be None.
        num_images: images in all splits together.
        test_fraction: fraction of them in the "test" split (the last ones).
        image_size: side of the rendered square images.
        max_shapes: each image holds 1..max_shapes shapes (non-overlapping cells).
        seed: the data set's seed.
        holdout: keep this many colour x kind combinations out of the train split
            (chosen by `holdout.held_out_classes`; every colour and kind stays seen).
            Their train-range images form a "holdout" split, which the GAN does not
            read and `t2i evaluator train` learns from, so the evaluator knows them.
        holdout_classes: or name them: "red circle,blue star" or a list.
        languages: caption languages, "en" (the default) or codes from
            shapes_languages.CODES ("en,fr,de,es,zh" or a list): each other
            language adds shapes_languages.PER_IMAGE captions per image, in its own
            phrasings.
    """

    name = "shapes"
    # captions and attributes name left and right: training must not flip the images
    flip_invariant = False
    # drawn independently of the captions, which name it only 40% of the time
    style_groups = ("background",)

    @classmethod
    def cache_revision(cls, options: dict) -> int:
        # English captions are as they always were; other languages' are at their revision
        if len(shapes_languages.parse_languages(options.get("languages", "en"))) > 1:
            return shapes_languages.REVISION
        return cls.revision

    def __init__(
        self,
        path=None,
        *,
        num_images: int = 2000,
        test_fraction: float = 0.1,
        image_size: int = 64,
        max_shapes: int = 1,
        seed: int = 0,
        holdout: int = 0,
        holdout_classes: str | list | None = None,
        languages: str | list = "en",
    ):
        if path is not None:
            raise T2IError("the shapes source is built in and takes no PATH")
        if num_images < 1 or not 0 <= test_fraction < 1:
            raise T2IError("shapes: num_images must be >= 1 and test_fraction in [0, 1)")
        if not 1 <= max_shapes <= 4:
            raise T2IError("shapes: max_shapes must be between 1 and 4")
        if image_size < 8:
            raise T2IError("shapes: image_size must be at least 8")
        self.num_images = int(num_images)
        self.test_fraction = float(test_fraction)
        self.image_size = int(image_size)
        self.max_shapes = int(max_shapes)
        self.seed = int(seed)
        self.num_test = int(round(self.num_images * self.test_fraction))
        self.holdout, self.holdout_classes = holdout, holdout_classes
        self.held_out = held_out_classes(list(COLORS), SHAPES, holdout, holdout_classes)
        self.languages = shapes_languages.parse_languages(languages)

    def info(self) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            # holdout: the train-range images of held-out classes, for the evaluator only
            splits=["train", "test", *(["holdout"] if self.held_out else [])],
            class_names=[f"{c} {k}" for c in COLORS for k in SHAPES],
            attribute_names=attribute_names(),
            captions_per_image=len(_SHAPE_PHRASES)
            + shapes_languages.PER_IMAGE * (len(self.languages) - 1),
            has_masks=True,
            options={
                "num_images": self.num_images,
                "test_fraction": self.test_fraction,
                "image_size": self.image_size,
                "max_shapes": self.max_shapes,
                "seed": self.seed,
                # only when set, so data converted before the option keeps its key
                **({"holdout": self.holdout} if self.holdout else {}),
                **({"holdout_classes": self.holdout_classes} if self.holdout_classes else {}),
                **({"languages": list(self.languages)} if len(self.languages) > 1 else {}),
            },
            style_groups=list(self.style_groups),
            held_out_classes=list(self.held_out),
        )

    def examples(self, split: str) -> Iterator[Record]:
        num_train = self.num_images - self.num_test
        indices = range(num_train, self.num_images) if split == "test" else range(num_train)
        if split not in self.info().splits:
            raise T2IError(f"shapes has splits {', '.join(self.info().splits)}, not {split!r}")
        for i in indices:
            # train keeps what holdout leaves out, and holdout takes the rest
            if self.held_out and split != "test" and self._holds_out(i) != (split == "holdout"):
                continue
            yield self.make(i, split)

    def _holds_out(self, index: int) -> bool:
        """Whether image `index` shows a held-out colour x kind (in any of its shapes)."""
        _, _, shapes = self._layout(index)
        return any(f"{s['color']} {s['kind']}" in self.held_out for s in shapes)

    def _layout(self, index: int):
        """(rng, background, shapes) of image `index`; rng then draws its captions."""
        rng = np.random.default_rng([self.seed, index])
        background = _pick(rng, BACKGROUNDS)
        count = int(rng.integers(1, self.max_shapes + 1))
        cells = rng.choice(len(POSITIONS), size=count, replace=False)
        shapes = []
        for cell in cells:
            color = _pick(rng, COLORS, exclude=_clashes(background))
            shapes.append(
                {
                    "color": color,
                    "kind": _pick(rng, SHAPES),
                    "size": _pick(rng, SIZES),
                    "position": list(POSITIONS)[cell],
                    "angle": float(rng.uniform(-MAX_ANGLE, MAX_ANGLE)),
                    "jitter": rng.uniform(-0.04, 0.04, size=2),
                }
            )
        return rng, background, shapes

    def _captions(self, index, shapes, background, rng) -> list[str]:
        english = _captions(shapes, background, rng)
        # other languages draw from their own stream, so the English captions stay as they were
        other = np.random.default_rng([self.seed, index, 1])
        return english + [
            text
            for code in self.languages[1:]
            for text in shapes_languages.captions(code, shapes, background, other)
        ]

    def make(self, index: int, split: str = "train") -> Record:
        """Renders image `index` (deterministic in (seed, index))."""
        rng, background, shapes = self._layout(index)
        image, mask = _render(shapes, background, self.image_size)
        first = shapes[0]
        label = list(COLORS).index(first["color"]) * len(SHAPES) + SHAPES.index(first["kind"])
        return Record(
            image=image,
            image_id=f"shapes/{index:06d}",
            split=split,
            captions=self._captions(index, shapes, background, rng),
            label=label,
            label_text=f"{first['color']} {first['kind']}",
            attributes=_attributes(first, background),
            mask=mask,
            source_file=f"shapes:{self.seed}:{index}",
        )


def attribute_names() -> list[str]:
    """Names of the one-hot attribute entries: colour, shape, size, position, background."""
    return (
        [f"color={c}" for c in COLORS]
        + [f"shape={k}" for k in SHAPES]
        + [f"size={s}" for s in SIZES]
        + [f"position={p}" for p in POSITIONS]
        + [f"background={b}" for b in BACKGROUNDS]
    )


def _attributes(shape: dict, background: str) -> np.ndarray:
    names = attribute_names()
    vector = np.zeros(len(names), np.float32)  # [A] one-hots
    for key, value in (
        ("color", shape["color"]),
        ("shape", shape["kind"]),
        ("size", shape["size"]),
        ("position", shape["position"]),
        ("background", background),
    ):
        vector[names.index(f"{key}={value}")] = 1.0
    return vector


def _pick(rng, options, exclude=()) -> str:
    names = [n for n in options if n not in exclude]
    return names[int(rng.integers(len(names)))]


def _clashes(background: str) -> tuple[str, ...]:
    # colours too close to the background to read
    return {"white": ("yellow", "cyan"), "gray": (), "black": ()}[background]


def _captions(shapes: list[dict], background: str, rng) -> list[str]:
    captions = []
    for template in _SHAPE_PHRASES:
        parts = [
            template.format(s=s["size"], c=s["color"], k=s["kind"], p=POSITIONS[s["position"]][1])
            for s in shapes
        ]
        text = " and ".join(parts)
        if rng.random() < 0.4:
            text += f" on a {background} background"
        captions.append(text)
    return captions


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple]:
    if kind == "square":
        corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        points = [(x * r * 0.85, y * r * 0.85) for x, y in corners]
    elif kind == "triangle":
        points = [
            (r * math.cos(a), r * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)
        ]
    elif kind == "diamond":
        points = [(0, -r), (r * 0.7, 0), (0, r), (-r * 0.7, 0)]
    elif kind == "star":
        points = [
            ((r if i % 2 == 0 else r * 0.45) * math.cos(-math.pi / 2 + i * math.pi / 5),
             (r if i % 2 == 0 else r * 0.45) * math.sin(-math.pi / 2 + i * math.pi / 5))
            for i in range(10)
        ]  # fmt: skip
    elif kind == "cross":
        a, b = r, r * 0.35
        points = [(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b),
                  (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)]  # fmt: skip
    else:
        raise ValueError(kind)
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in points]


def _render(shapes: list[dict], background: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draws the shapes. Returns image uint8 [size, size, 3] and mask uint8 [size, size]."""
    from PIL import Image, ImageDraw

    big = size * _SUPERSAMPLE
    image = Image.new("RGB", (big, big), BACKGROUNDS[background])
    mask = Image.new("L", (big, big), 0)
    draw, mask_draw = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    for s in shapes:
        (fx, fy), _ = POSITIONS[s["position"]]
        cx, cy = (fx + s["jitter"][0]) * big, (fy + s["jitter"][1]) * big
        r = SIZES[s["size"]] * big
        color = COLORS[s["color"]]
        if s["kind"] == "circle":
            box = [cx - r, cy - r, cx + r, cy + r]
            draw.ellipse(box, fill=color)
            mask_draw.ellipse(box, fill=255)
        else:
            points = _polygon(s["kind"], cx, cy, r, s["angle"])
            draw.polygon(points, fill=color)
            mask_draw.polygon(points, fill=255)
    image = image.resize((size, size), Image.Resampling.BOX)
    mask = mask.resize((size, size), Image.Resampling.BOX)
    return np.asarray(image), np.asarray(mask)
