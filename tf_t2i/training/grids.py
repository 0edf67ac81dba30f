"""Sample grids: images tiled with captions, the grids `fit` writes during training, the gif.

`image_grid` lays out float images in [-1, 1]; `SampleGrids` writes
samples/step_XXXXXX.png every `every` steps (a StepCallback, so under
`keras.Model.fit` too) and joins them into progress.gif at the end.
"""

from __future__ import annotations

import functools
import os
import pathlib
from collections.abc import Callable, Sequence

import numpy as np

from tf_t2i.data.images import to_uint8
from tf_t2i.files import atomic_write
from tf_t2i.training.callbacks import StepCallback


def image_grid(
    images: np.ndarray,
    rows: int,
    cols: int,
    labels: Sequence[str] = (),
    label_width: int = 190,
    column_labels: Sequence[str] = (),
):
    """Tiles images row by row into one PIL image, rows labelled on the left, columns on top.

    Args:
        images: float32 [rows*cols, H, W, C] in [-1, 1]; row r holds images
            r*cols ... r*cols+cols-1.
        rows, cols: grid layout.
        labels: one caption per row (drawn in a left margin), or none.
        label_width: margin width in pixels when labels are given.
        column_labels: one caption per column (drawn in a top margin), or none.

    Returns:
        A PIL.Image (RGB). Images smaller than 64 px are enlarged for viewing.
    """
    from PIL import Image, ImageDraw

    tiles = to_uint8(images, rgb=True)
    height, width = tiles.shape[1:3]
    scale = max(1, 64 // max(height, width))
    height, width = height * scale, width * scale
    pad = 2
    margin = label_width if labels else 0
    chars = max(6, width // 6)  # characters per line of a column label
    top = 0
    if column_labels:
        top = 13 * max(_wrap(text, chars, 6).count("\n") + 1 for text in column_labels) + 4
    grid = Image.new(
        "RGB", (margin + cols * (width + pad) + pad, top + rows * (height + pad) + pad), "white"
    )
    for index, tile in enumerate(tiles[: rows * cols]):
        row, col = divmod(index, cols)
        picture = Image.fromarray(tile).resize((width, height), Image.NEAREST)
        grid.paste(picture, (margin + pad + col * (width + pad), top + pad + row * (height + pad)))
    draw = ImageDraw.Draw(grid)
    for row, label in enumerate(labels[:rows]):
        text = _wrap(label, 30)
        draw.multiline_text(
            (4, top + pad + row * (height + pad) + 2), text, fill="black", font=label_font(text)
        )
    for col, label in enumerate(column_labels[:cols]):
        text = _wrap(label, chars, 6)
        position = (margin + pad + col * (width + pad), 2)
        draw.multiline_text(position, text, fill="black", font=label_font(text))
    return grid


LABEL_SIZE = 11  # px


def label_font(text: str):
    """The font a grid label is drawn in: the first of `_font_files()` that has a glyph
    for every character of `text` (captions in any language), else the first one.

    PIL's built-in font has ASCII only: "carré" or "großes" came out with boxes.
    """
    from PIL import ImageFont

    needed = {ord(char) for char in text if not char.isspace()}
    files = _font_files()
    chosen = next((path for path in files if needed <= _charmap(path)), files[0] if files else None)
    if chosen is None:
        return ImageFont.load_default(size=LABEL_SIZE)
    return _truetype(chosen)


@functools.cache
def _font_files() -> tuple[str, ...]:
    """DejaVu Sans (shipped with matplotlib: Latin, Greek, Cyrillic), then the system's
    fonts (a CJK font, where one is installed, draws Chinese or Japanese captions)."""
    import matplotlib
    from matplotlib import font_manager

    dejavu = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    system = sorted(font_manager.findSystemFonts(fontext="ttf"))
    return tuple(path for path in [dejavu, *system] if os.path.isfile(path))


@functools.cache
def _charmap(path: str) -> frozenset[int]:
    """The code points a font file has glyphs for (empty if it cannot be read)."""
    from matplotlib import ft2font

    try:
        return frozenset(ft2font.FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


@functools.cache
def _truetype(path: str):
    from PIL import ImageFont

    return ImageFont.truetype(path, LABEL_SIZE)


def _wrap(text: str, width: int, max_lines: int = 4) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:max_lines])


class SampleGrids(StepCallback):
    """Writes samples/step_XXXXXX.png from fixed conditions and fixed noise.

    Rows are conditions (captions), columns fixed noise vectors, so grids at
    different steps are comparable; at the end the grids become progress.gif.

    Args:
        sample_fn: () -> float32 [rows*cols, H, W, C] in [-1, 1].
        samples_dir: where the PNGs go.
        rows, cols: grid layout; labels: one caption per row.
        every: steps between grids.
        gif_path: progress.gif written at the end (None: no gif).
        writer: a tf.summary writer for TensorBoard image summaries, or None.
    """

    def __init__(
        self,
        sample_fn: Callable[[], np.ndarray],
        samples_dir: str | os.PathLike,
        rows: int,
        cols: int,
        labels: Sequence[str],
        every: int,
        gif_path: str | os.PathLike | None = None,
        writer=None,
    ):
        super().__init__()
        self.sample_fn = sample_fn
        self.samples_dir = pathlib.Path(samples_dir)
        self.rows, self.cols = rows, cols
        self.labels = list(labels)
        self.every = every
        self.gif_path = pathlib.Path(gif_path) if gif_path else None
        self.writer = writer
        self.last_step = -1
        self.last_path: pathlib.Path | None = None

    def write(self, step: int) -> pathlib.Path:
        """Renders and saves the grid for `step`; returns its path."""
        import io

        grid = image_grid(self.sample_fn(), self.rows, self.cols, self.labels)
        path = self.samples_dir / f"step_{step:06d}.png"
        buffer = io.BytesIO()
        grid.save(buffer, format="PNG")
        atomic_write(path, buffer.getvalue())
        if self.writer is not None:
            from tf_t2i.training.metrics_log import summary_image

            summary_image(self.writer, "samples", buffer.getvalue(), grid.size, step)
        self.last_step, self.last_path = step, path
        return path

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        if self.step == 0:
            self.write(0)

    def on_step_end(self, step, logs):
        if step % self.every == 0:
            self.write(step)

    def on_train_end(self, logs=None):
        if self.step != self.last_step:
            self.write(self.step)
        if self.gif_path is not None:
            write_gif(sorted(self.samples_dir.glob("step_*.png")), self.gif_path)


def write_gif(frames: Sequence[pathlib.Path], path: str | os.PathLike, ms: int = 400) -> None:
    """Joins PNG frames into an animated GIF (the last frame held longer)."""
    import io

    from PIL import Image

    if not frames:
        return
    images = [Image.open(frame).convert("RGB") for frame in frames]
    durations = [ms] * (len(images) - 1) + [ms * 5]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
    )
    atomic_write(path, buffer.getvalue())
