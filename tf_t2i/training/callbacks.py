"""What `fit` does around each step, on Keras's callback API: the step count, NaN guard,
checkpoints and the progress bar. Logs and plots are in metrics_log.py, sample grids in
grids.py.

Every callback here numbers steps itself (StepCallback), so it is correct under both
drivers: the custom loop in loop.py (a `keras.callbacks.CallbackList`) and
`keras.Model.fit`, which passes `on_train_batch_end` the index of the batch within
its epoch, not the global step.

Every file is written to a temporary name and renamed, so a run killed at any
moment leaves the previous complete version in place.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence

import keras

LOSS_KEYS = ("d_loss", "g_loss")
# every loss the NaN guard watches (s_loss: the style encoder phase)
GUARDED_KEYS = ("d_loss", "g_loss", "s_loss")


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or inf loss."""


def initial_step(model, logs=None) -> int:
    """The global step training starts at.

    `logs["step"]` when the driver gives it (loop.py: GAN steps plus style encoder
    steps), else the model's own counter, restored with its checkpoint:
    `model.step` (ConditionalGAN counts D steps) or the optimizer's iterations.
    """
    if logs and "step" in logs:
        return int(logs["step"])
    counter = getattr(model, "step", None)
    if counter is None:
        counter = getattr(getattr(model, "optimizer", None), "iterations", None)
    if counter is None:
        return 0
    return int(counter.numpy()) if hasattr(counter, "numpy") else int(counter)


class StepCallback(keras.callbacks.Callback):
    """A callback that acts on the global step, under `Model.fit` and loop.py alike.

    Keras passes `on_train_batch_end` the batch index within the epoch (0-based; with
    `steps_per_execution` > 1 the last index of the execution), so the steps done are
    counted from the change in that index, as keras.callbacks.ModelCheckpoint does,
    starting from `initial_step` at `on_train_begin`. Subclasses implement
    `on_step_end(step, logs)`; `self.step` is the number of completed steps.
    """

    def __init__(self):
        super().__init__()
        self.step = 0
        self._last_batch = -1

    def on_train_begin(self, logs=None):
        self.step = initial_step(getattr(self, "_model", None), logs)
        self._last_batch = -1

    def on_train_batch_end(self, batch, logs=None):
        batch = int(batch)
        self.step += batch + 1 if batch <= self._last_batch else batch - self._last_batch
        self._last_batch = batch
        self.on_step_end(self.step, logs or {})

    def on_step_end(self, step: int, logs: dict) -> None:
        """Called after each step with the global step number (1 = the first step)."""


class NanGuard(StepCallback, keras.callbacks.TerminateOnNaN):
    """Keras's `TerminateOnNaN(raise_error=True)` for the GAN's losses.

    Raises NonFiniteLossError at the first NaN or inf among `keys` (TerminateOnNaN
    watches only "loss", which a GAN does not have). Runs first in the callback
    list, so the step's state never reaches a checkpoint: the last checkpoint on
    disk is the last good one.
    """

    def __init__(self, keys: Sequence[str] = GUARDED_KEYS):
        StepCallback.__init__(self)
        self.raise_error = True
        self.keys = tuple(keys)

    def on_step_end(self, step, logs):
        bad = {
            key: value
            for key, value in logs.items()
            if key in self.keys and not math.isfinite(float(value))
        }
        if bad:
            values = ", ".join(f"{key}={float(value)}" for key, value in bad.items())
            raise NonFiniteLossError(f"non-finite loss at step {step}: {values}")


class CheckpointSaver(StepCallback):
    """Saves a `tf.train.CheckpointManager` checkpoint every `every` steps and at the end.

    Checkpoints are numbered by global step (ckpt-N). CheckpointManager writes the
    tensor files first and then rewrites its `checkpoint` index file atomically,
    so an interrupted save leaves the index pointing at the previous complete
    checkpoint. Each saved checkpoint is then hashed into ckpt-N.sha256.json
    (checkpoint_check.py).
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
        from tf_t2i.training.checkpoint_check import save

        return save(self.manager, step)

    def on_step_end(self, step, logs):
        if step % self.every == 0:
            self.save(step)

    def on_train_end(self, logs=None):
        self.save(self.step)


# Progbar's colours, and the backspaces and returns of its in-place redraw
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*m|[\x08\r]")
# the part of Progbar's bar still to go (grey): dots once the colours are gone
_BAR_TO_GO = re.compile("\x1b\\[37m(\u2501+)")


class ProgressBar(StepCallback):
    """`keras.utils.Progbar` over the steps of this run, with the losses and images/s.

    Redrawn in place on a terminal; one plain line every `every` steps otherwise
    (logs, CI, subprocesses). The bar counts the steps of this call (a resumed run
    starts at 0), so Keras's time-per-step and ETA are of this run alone.

    Args:
        total_steps: the global step training ends at.
        every: steps between lines when the stream is not a terminal.
        stream: where the bar goes (default stderr; Progbar itself writes to stdout).
    """

    def __init__(self, total_steps: int, every: int, stream=None):
        super().__init__()
        self.total = total_steps
        self.every = every
        self.stream = stream or sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = 0
        self.progbar: keras.utils.Progbar | None = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.start = self.step
        self.progbar = keras.utils.Progbar(
            max(1, self.total - self.start),
            interval=0.2 if self.interactive else 0.0,
            stateful_metrics=(*GUARDED_KEYS, "img/s"),  # already means over a log interval
        )
        self.progbar._dynamic_display = self.interactive  # Progbar assumes a terminal

    def on_step_end(self, step, logs):
        if not self.interactive and step % self.every and step != self.total:
            return
        values = [(key, float(logs[key])) for key in GUARDED_KEYS if key in logs]
        values.append(("img/s", float(logs.get("images_per_sec", 0.0))))
        self.draw(step - self.start, values)

    def draw(self, current: int, values: list) -> None:
        """Progbar.update, its output sent to `self.stream` (plain lines off a terminal)."""
        import io
        from contextlib import redirect_stdout

        if self.interactive:
            with redirect_stdout(self.stream):
                self.progbar.update(current, values)
        else:
            buffer = io.StringIO()
            with redirect_stdout(buffer):
                self.progbar.update(current, values)
            line = _BAR_TO_GO.sub(lambda to_go: "." * len(to_go[1]), buffer.getvalue())
            line = _TERMINAL_CODES.sub("", line).strip()
            if line:
                self.stream.write(line + "\n")
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self.interactive and self.progbar is not None and self.step < self.total:
            self.stream.write("\n")  # stopped early: end the redrawn line
            self.stream.flush()
