"""What `fit` does around each step: logs, plots, sample grids, checkpoints, NaN guard.

Each is a `keras.callbacks.Callback`, driven by the training loop in fit.py
(which calls `on_train_begin`, `on_train_batch_end(step, logs)` with the
number of completed steps and a dict of Python floats, and `on_train_end`),
so they also work with `keras.Model.fit`.

Every file is written to a temporary name and renamed, so a run killed at any
moment leaves the previous complete version in place.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import sys
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

LOSS_KEYS = ("d_loss", "g_loss")
# every loss the NaN guard watches (s_loss: the style encoder phase)
GUARDED_KEYS = ("d_loss", "g_loss", "s_loss")


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or inf loss."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` via a temporary file and a rename."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255]; one channel is repeated to RGB."""
    images = np.asarray(images, dtype=np.float32)
    images = np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


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
    from PIL import Image, ImageDraw, ImageFont

    tiles = to_uint8(images)
    height, width = tiles.shape[1:3]
    scale = max(1, 64 // max(height, width))
    height, width = height * scale, width * scale
    pad = 2
    margin = label_width if labels else 0
    font = ImageFont.load_default(size=11)
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
            (4, top + pad + row * (height + pad) + 2), text, fill="black", font=font
        )
    for col, label in enumerate(column_labels[:cols]):
        text = _wrap(label, chars, 6)
        draw.multiline_text((margin + pad + col * (width + pad), 2), text, fill="black", font=font)
    return grid


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


class NanGuard(keras.callbacks.Callback):
    """Stops training at the first NaN or inf loss, before anything is saved.

    Runs first in the callback list, so the step's state never reaches a
    checkpoint: the last checkpoint on disk is the last good one.
    """

    def __init__(self, keys: Sequence[str] = GUARDED_KEYS):
        super().__init__()
        self.keys = tuple(keys)

    def on_train_batch_end(self, batch, logs=None):
        bad = {
            key: value
            for key, value in (logs or {}).items()
            if key in self.keys and not math.isfinite(value)
        }
        if bad:
            values = ", ".join(f"{key}={value}" for key, value in bad.items())
            raise NonFiniteLossError(f"non-finite loss at step {batch}: {values}")


class CheckpointSaver(keras.callbacks.Callback):
    """Saves a `tf.train.CheckpointManager` checkpoint every `every` steps and at the end.

    CheckpointManager writes the tensor files first and then rewrites its
    `checkpoint` index file atomically, so an interrupted save leaves the
    index pointing at the previous complete checkpoint. Each saved checkpoint
    is then hashed into ckpt-N.sha256.json (checkpoint_check.py).
    """

    def __init__(self, manager, every: int):
        super().__init__()
        self.manager = manager
        self.every = every
        self.last_saved = -1

    def save(self, step: int) -> str | None:
        if step == self.last_saved:
            return None
        self.last_saved = step
        prefix = self.manager.save(checkpoint_number=step)
        from tf_t2i.training.checkpoint_check import record

        record(prefix)  # hashed as read back from disk; checked again before a restore
        return prefix

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every == 0:
            self.save(batch)

    def on_train_end(self, logs=None):
        step = (logs or {}).get("step")
        if step is not None:
            self.save(int(step))


class MetricsLog(keras.callbacks.Callback):
    """Appends one JSON line per logging step to metrics.jsonl.

    On resume, lines after the restored step (written by the interrupted run
    after its last checkpoint) are dropped first, so the file describes one
    consistent history.
    """

    def __init__(self, path: str | os.PathLike, every: int, start_step: int = 0):
        super().__init__()
        self.path = pathlib.Path(path)
        self.every = every
        self.start_step = start_step
        self.history: list[dict] = []

    def on_train_begin(self, logs=None):
        self.history = [
            record for record in read_metrics(self.path) if record["step"] <= self.start_step
        ]
        payload = "".join(json.dumps(record) + "\n" for record in self.history)
        atomic_write_bytes(self.path, payload.encode("utf-8"))

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every:
            return
        record = {"step": int(batch), "time": round(time.time(), 3)}
        record.update({key: _json_number(value) for key, value in (logs or {}).items()})
        self.history.append(record)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def _json_number(value):
    value = float(value)
    return value if math.isfinite(value) else str(value)


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a metrics.jsonl (a torn last line is ignored)."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "step" in record:
            records.append(record)
    return records


class PeriodicEvaluation(keras.callbacks.Callback):
    """Runs `t2i evaluate`'s protocol on the in-memory GAN every `every` steps.

    Args:
        evaluate_fn: () -> dict of figures (tf_t2i.evaluation.evaluate.evaluate_gan bound
            to the GAN and data set).
        metrics_path: metrics.jsonl; one {"event": "evaluate", "step", ...} line per run.
        every: steps between evaluations.
        writer: a tf.summary writer for "eval/<figure>" scalars, or None.
    """

    def __init__(self, evaluate_fn, metrics_path, every: int, writer=None):
        super().__init__()
        self.evaluate_fn = evaluate_fn
        self.metrics_path = pathlib.Path(metrics_path)
        self.every = every
        self.writer = writer

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every:
            return
        results = dict(self.evaluate_fn(), step=int(batch))
        with open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"event": "evaluate", **results}, default=float) + "\n")
        if self.writer is not None:
            for key, value in results.items():
                if isinstance(value, int | float) and key != "step":
                    summary_scalar(self.writer, f"eval/{key}", float(value), batch)


class LossPlot(keras.callbacks.Callback):
    """Redraws losses.png (D and G loss against step) every `every` steps.

    Reads the history kept by a MetricsLog, so the plot and metrics.jsonl agree.
    """

    def __init__(self, path: str | os.PathLike, metrics: MetricsLog, every: int):
        super().__init__()
        self.path = pathlib.Path(path)
        self.metrics = metrics
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every == 0:
            self.draw()

    def on_train_end(self, logs=None):
        self.draw()

    def draw(self) -> None:
        import io

        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt

        history = [record for record in self.metrics.history if "event" not in record]
        if not history:
            return
        figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
        steps = [record["step"] for record in history]
        for key, colour in zip(LOSS_KEYS, ("tab:red", "tab:blue"), strict=True):
            values = [_float(record.get(key)) for record in history]
            axis.plot(steps, values, label=key, color=colour, linewidth=1)
        axis.set_xlabel("step")
        axis.set_ylabel("loss")
        axis.set_title("discriminator and generator losses")
        axis.grid(alpha=0.3)
        axis.legend()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        atomic_write_bytes(self.path, buffer.getvalue())


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class SampleGrids(keras.callbacks.Callback):
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
        atomic_write_bytes(path, buffer.getvalue())
        if self.writer is not None:
            summary_image(self.writer, "samples", buffer.getvalue(), grid.size, step)
        self.last_step, self.last_path = step, path
        return path

    def on_train_begin(self, logs=None):
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        step = int((logs or {}).get("step", 0))
        if step == 0:
            self.write(0)

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every == 0:
            self.write(batch)

    def on_train_end(self, logs=None):
        step = int((logs or {}).get("step", self.last_step))
        if step != self.last_step:
            self.write(step)
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
    atomic_write_bytes(path, buffer.getvalue())


# TensorFlow 2.21 no longer installs the tensorboard package, whose
# tf.summary.scalar/image implementations are missing without it; these write
# the same records (TensorBoard's "scalars" and "images" plugin formats) with
# the core op tf.summary.write.


def _plugin_metadata(plugin: str) -> bytes:
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin
    return metadata.SerializeToString()


def summary_scalar(writer, tag: str, value: float, step: int) -> None:
    """Writes a TensorBoard scalar (float32) with `writer`."""
    import tensorflow as tf

    with writer.as_default():
        tf.summary.write(
            tag, tf.constant(value, tf.float32), step=step, metadata=_plugin_metadata("scalars")
        )


def summary_image(writer, tag: str, png: bytes, size: tuple[int, int], step: int) -> None:
    """Writes one PNG as a TensorBoard image summary ([width, height, png] strings)."""
    import tensorflow as tf

    width, height = size
    tensor = tf.constant([str(width).encode(), str(height).encode(), png])
    with writer.as_default():
        tf.summary.write(tag, tensor, step=step, metadata=_plugin_metadata("images"))


class TensorBoardScalars(keras.callbacks.Callback):
    """Writes every log value as a TensorBoard scalar every `every` steps."""

    def __init__(self, writer, every: int):
        super().__init__()
        self.writer = writer
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every:
            return
        for key, value in (logs or {}).items():
            summary_scalar(self.writer, key, value, batch)

    def on_train_end(self, logs=None):
        self.writer.flush()


class ProgressBar(keras.callbacks.Callback):
    """One status line: step/total, a bar, d_loss, g_loss, images/s and ETA.

    Redrawn in place on a terminal; one line every `every` steps otherwise
    (logs, CI, subprocesses).
    """

    def __init__(self, total_steps: int, every: int, stream=None, width: int = 24):
        super().__init__()
        self.total = total_steps
        self.every = every
        self.stream = stream or sys.stderr
        self.width = width
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if self.interactive:
            if now - self._last_draw < 0.2 and batch != self.total:
                return
            self._last_draw = now
            self.stream.write("\r" + self.line(batch, logs or {}))
        elif batch % self.every == 0 or batch == self.total:
            self.stream.write(self.line(batch, logs or {}) + "\n")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def line(self, step: int, logs: dict) -> str:
        done = min(1.0, step / max(1, self.total))
        filled = int(round(done * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        rate = logs.get("images_per_sec", 0.0)
        parts = [f"step {step}/{self.total} [{bar}]"]
        parts += [f"{key} {logs[key]:.3f}" for key in GUARDED_KEYS if key in logs]
        parts.append(f"{rate:.0f} img/s")
        eta = logs.get("eta_sec")
        if eta is not None and math.isfinite(eta):
            parts.append(f"eta {int(eta) // 60}:{int(eta) % 60:02d}")
        return "  ".join(parts)
