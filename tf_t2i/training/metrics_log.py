"""Logging callbacks: metrics.jsonl, losses.png, TensorBoard scalars, periodic evaluation.

Each is a StepCallback (callbacks.py): it acts on the global step under the
custom loop and `keras.Model.fit` alike. metrics.jsonl is one JSON object per
logging step ({"step", "time", "d_loss", ...}), read back with `read_metrics`.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import time

from tf_t2i.files import atomic_write, read_metrics
from tf_t2i.training.callbacks import LOSS_KEYS, StepCallback


class MetricsLog(StepCallback):
    """Appends one JSON line per logging step to metrics.jsonl.

    On resume, lines after the restored step (written by the interrupted run
    after its last checkpoint) are dropped first, so the file describes one
    consistent history.
    """

    def __init__(self, path: str | os.PathLike, every: int):
        super().__init__()
        self.path = pathlib.Path(path)
        self.every = every
        self.history: list[dict] = []

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.history = [
            record
            for record in read_metrics(self.path)
            if "step" in record and record["step"] <= self.step
        ]
        payload = "".join(json.dumps(record) + "\n" for record in self.history)
        atomic_write(self.path, payload.encode("utf-8"))

    def on_step_end(self, step, logs):
        if step % self.every:
            return
        record = {"step": step, "time": round(time.time(), 3)}
        record.update({key: _json_number(value) for key, value in logs.items()})
        self.history.append(record)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def _json_number(value):
    value = float(value)
    return value if math.isfinite(value) else str(value)


class PeriodicEvaluation(StepCallback):
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

    def on_step_end(self, step, logs):
        if step % self.every:
            return
        results = dict(self.evaluate_fn(), step=step)
        with open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"event": "evaluate", **results}, default=float) + "\n")
        if self.writer is not None:
            for key, value in results.items():
                if isinstance(value, int | float) and key != "step":
                    summary_scalar(self.writer, f"eval/{key}", float(value), step)


class LossPlot(StepCallback):
    """Redraws losses.png (D and G loss against step) every `every` steps.

    Reads the history kept by a MetricsLog, so the plot and metrics.jsonl agree.
    """

    def __init__(self, path: str | os.PathLike, metrics: MetricsLog, every: int):
        super().__init__()
        self.path = pathlib.Path(path)
        self.metrics = metrics
        self.every = every

    def on_step_end(self, step, logs):
        if step % self.every == 0:
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
        atomic_write(self.path, buffer.getvalue())


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


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


class TensorBoardScalars(StepCallback):
    """Writes every log value as a TensorBoard scalar every `every` steps."""

    def __init__(self, writer, every: int):
        super().__init__()
        self.writer = writer
        self.every = every

    def on_step_end(self, step, logs):
        if step % self.every:
            return
        for key, value in logs.items():
            summary_scalar(self.writer, key, float(value), step)

    def on_train_end(self, logs=None):
        self.writer.flush()
