"""`fit(config, run_dir)`: trains a ConditionalGAN under any tf.distribute strategy.

The steps, in order: the strategy, the data and resume checks (setup.py), the
model and its restored checkpoint, the callbacks (a keras.callbacks.CallbackList),
then the loop (loop.py) and the final grids (samples.py). Resuming is exact:
weights, both optimizers, the step counter and the noise generator's state come
from the checkpoint, and loop.py rebuilds the epoch's data order.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time
from collections.abc import Callable

from tf_t2i.config import Config
from tf_t2i.errors import T2IError
from tf_t2i.training.callbacks import NonFiniteLossError
from tf_t2i.training.run_dir import RunPaths
from tf_t2i.training.samples import held_out_split, sample_conditions, write_final_grids
from tf_t2i.training.setup import (
    check_resume,
    reconcile,
    resolve_data,
    restore_latest,
    start_at,
)

__all__ = ["FitResult", "TrainingStopped", "fit", "reconcile", "resolve_data"]


class TrainingStopped(T2IError):
    """Training stopped early (a NaN or inf loss); the message names the last good checkpoint."""


@dataclasses.dataclass
class FitResult:
    """What a finished (or stopped) `fit` leaves behind.

    Attributes:
        run_dir: the run directory.
        step: the last completed step.
        total_steps: the step budget.
        start_step: the step training started (or resumed) at.
        checkpoint: the newest checkpoint prefix.
        last_sample: the newest sample grid (None on non-chief workers).
        seconds: wall time of the loop.
        images_per_sec: mean throughput of the loop.
        config: the resolved Config (as written to config.json).
        stopped_by: the signal that stopped training early ("SIGTERM", "SIGINT"),
            after a checkpoint of `step` was saved (stop.py); None if it ran to the end.
    """

    run_dir: pathlib.Path
    step: int
    total_steps: int
    start_step: int
    checkpoint: str | None
    last_sample: pathlib.Path | None
    seconds: float
    images_per_sec: float
    config: Config
    stopped_by: str | None = None


def fit(
    config: Config,
    run_dir: str | pathlib.Path,
    resume: bool | None = None,
    log: Callable[[str], None] | None = None,
    progress_stream=None,
) -> FitResult:
    """Trains the model of `config` on its data, writing the run directory.

    Args:
        config: the resolved Config (see tf_t2i.config.load_config).
        run_dir: where config.json, checkpoints, samples, metrics and logs go.
        resume: None continues from the run's latest checkpoint if there is
            one (rerunning a command continues it); True requires a checkpoint;
            False refuses a run directory that already has checkpoints.
        log: receives one-line status messages (default: print to stderr).
        progress_stream: where the progress bar goes (default stderr).

    Returns:
        FitResult.

    Raises:
        T2IError: a mismatch between config, data and run directory, found
            before training starts.
        TrainingStopped: a NaN or inf loss; the last good checkpoint is kept.

    SIGINT or SIGTERM (from the main thread of a single-worker run) ends training
    after the current step and saves it; the result's `stopped_by` names the
    signal, and rerunning continues from there (stop.py).
    """
    import keras

    previous_policy = keras.mixed_precision.dtype_policy()
    try:
        return _fit(config, run_dir, resume, log, progress_stream)
    finally:
        # the policy is process-global: leave it as the caller had it
        keras.mixed_precision.set_dtype_policy(previous_policy)


def _fit(config, run_dir, resume, log, progress_stream) -> FitResult:
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    config.validate()
    run_dir = pathlib.Path(run_dir)
    train = config.train

    # The strategy comes first: MultiWorkerMirroredStrategy must set up
    # collective ops before any other TensorFlow work.
    from tf_t2i.training.strategy import describe, num_workers, resolve_strategy, task_info

    strategy = resolve_strategy(train.strategy)
    is_chief, worker = task_info(strategy)
    paths = RunPaths(run_dir, worker)
    data_dir, manifest = resolve_data(config)
    config = reconcile(config, data_dir, manifest)
    from tf_t2i.training.checkpoint_check import fall_back

    fall_back(paths.checkpoints, log)  # a damaged latest checkpoint: resume from the one before
    check_resume(paths, config, resume)
    replicas = strategy.num_replicas_in_sync
    if train.batch_size % replicas:
        raise T2IError(
            f"train.batch_size {train.batch_size} is not divisible by the {replicas} replicas"
        )
    num_examples = manifest.num_examples(config.data.split)
    steps_per_epoch = num_examples // train.batch_size
    if steps_per_epoch == 0:
        raise T2IError(
            f"split {config.data.split!r} of {data_dir} has {num_examples} example(s), fewer "
            f"than one batch of {train.batch_size}: lower train.batch_size or add data"
        )
    # train.steps counts D steps (train_step calls); G updates once every model.d_steps
    total_steps = train.steps or train.epochs * steps_per_epoch

    import keras
    import tensorflow as tf

    from tf_t2i.models.build import build_gan
    from tf_t2i.training.loop import Phase, TrainingLoop
    from tf_t2i.training.precision import resolve_precision, set_precision
    from tf_t2i.training.run_dir import make_checkpoint, write_config

    policy = resolve_precision(train.precision, strategy)
    set_precision(policy)
    keras.utils.set_random_seed(train.seed)
    if train.deterministic:
        tf.config.experimental.enable_op_determinism()

    with strategy.scope():
        gan = build_gan(config.model, seed=train.seed)
        checkpoint = make_checkpoint(gan)
    manager = tf.train.CheckpointManager(
        checkpoint, str(paths.checkpoints), max_to_keep=train.keep_checkpoints
    )
    restore_latest(checkpoint, manager, paths)
    style_steps = train.style_steps if config.model.style_encoder else 0
    style_done = int(gan.s_optimizer.iterations.numpy()) if style_steps else 0
    gan_done = int(gan.step.numpy())
    if style_done and gan_done < total_steps:
        # a larger --steps on a run whose style phase began: S inverted the G it was trained
        # on, and G trains on, so S's phase runs again in full after the GAN (from S's
        # current weights); the global step, metrics.jsonl and checkpoints follow the GAN
        log(
            f"style encoder: G trains on from step {gan_done}, so the style encoder's "
            f"{style_done} steps are redone after the GAN"
        )
        gan.s_optimizer.iterations.assign(0)
        style_done = 0
    # global step: GAN steps, then style encoder steps numbered after them
    start_step = gan_done + style_done
    restored = manager.latest_checkpoint
    manager = start_at(start_step, checkpoint, manager, paths, train.keep_checkpoints, log)
    last_step = total_steps + style_steps
    if is_chief:
        write_config(run_dir, config)
    log(
        f"t2i fit: {config.name} | data {data_dir} ({num_examples} {config.data.split} examples) "
        f"| {describe(strategy)} | {policy} | batch {train.batch_size} | "
        f"steps {start_step}->{last_step} ({steps_per_epoch}/epoch)"
    )
    if start_step:
        log(f"resumed from {restored} at step {start_step}")
    if start_step >= last_step:
        log(f"nothing to do: the run is already at step {start_step} of {total_steps}")

    callbacks = _make_callbacks(
        config, paths, gan, manifest, data_dir, manager, is_chief, last_step, progress_stream
    )
    phases = [Phase(gan.train_step, gan_done, total_steps, 0, gan.metrics, gan=gan)]
    if style_steps:
        phases.append(
            Phase(
                gan.train_style_encoder_step,
                style_done,
                style_steps,
                base=total_steps,
                trackers=[gan.s_loss_tracker],
                epoch_salt=1_000_000,
            )
        )
    callback_list = keras.callbacks.CallbackList(callbacks, model=gan)
    from tf_t2i.training.stop import GracefulStop

    # several workers keep the old behaviour: one leaving alone would hang the others
    stop = GracefulStop(enabled=num_workers(strategy) == 1)
    loop = TrainingLoop(
        config, strategy, data_dir, steps_per_epoch, callback_list, start_step, last_step, stop
    )
    begin = time.monotonic()
    try:
        with stop:
            step = loop.run(phases, log)
    except NonFiniteLossError as err:
        _finish_stopped(callbacks)
        latest = manager.latest_checkpoint
        kept = f"last good checkpoint: {latest}" if latest else "no checkpoint was saved yet"
        raise TrainingStopped(
            f"training stopped: {err} ({kept}); lower the learning rates, check the data, "
            f"or rerun to continue from the checkpoint"
        ) from None
    if stop.requested:
        log(
            f"stopped by {stop.requested} at step {step} of {last_step}: checkpoint "
            f"{manager.latest_checkpoint} saved; rerun the same command to continue"
        )
    elif is_chief and step > start_step:
        for path in write_final_grids(config, gan, manifest, data_dir, paths.samples):
            log(f"grid: {path}")
    seconds = time.monotonic() - begin
    trained = step - start_step
    sample = next((c.last_path for c in callbacks if hasattr(c, "last_path")), None)
    return FitResult(
        run_dir=run_dir,
        step=step,
        total_steps=last_step,
        start_step=start_step,
        checkpoint=manager.latest_checkpoint,
        last_sample=sample,
        seconds=seconds,
        images_per_sec=trained * train.batch_size / seconds if seconds > 0 else 0.0,
        config=config,
        stopped_by=stop.requested,
    )


def _make_callbacks(config, paths, gan, manifest, data_dir, manager, is_chief, total, stream):
    """The callbacks in order: NaN guard, checkpoints, then (chief only) outputs."""
    from tf_t2i.training import callbacks as cb
    from tf_t2i.training.grids import SampleGrids
    from tf_t2i.training.metrics_log import (
        LossPlot,
        MetricsLog,
        PeriodicEvaluation,
        TensorBoardScalars,
    )

    train = config.train
    guard = cb.NanGuard()
    saver = cb.CheckpointSaver(manager, train.checkpoint_every)
    callbacks = [guard, saver]
    if not is_chief:
        return callbacks
    import tensorflow as tf

    paths.root.mkdir(parents=True, exist_ok=True)
    writer = tf.summary.create_file_writer(str(paths.logs)) if train.tensorboard else None
    metrics = MetricsLog(paths.metrics, train.log_every)
    sample_fn, rows, cols, labels = sample_conditions(config, gan, manifest, data_dir)
    callbacks += [
        metrics,
        LossPlot(paths.losses, metrics, train.sample_every),
        SampleGrids(
            sample_fn,
            paths.samples,
            rows,
            cols,
            labels,
            train.sample_every,
            gif_path=paths.progress_gif,
            writer=writer,
        ),
    ]
    if writer is not None:
        callbacks.append(TensorBoardScalars(writer, train.log_every))
    if train.eval_every:
        callbacks.append(
            PeriodicEvaluation(
                _evaluate_fn(config, gan, data_dir, manifest),
                paths.metrics,
                train.eval_every,
                writer,
            )
        )
    callbacks.append(cb.ProgressBar(total, train.log_every, stream=stream))
    return callbacks


def _evaluate_fn(config: Config, gan, data_dir, manifest):
    """() -> figures of `t2i evaluate`'s protocol for the GAN being trained."""
    from tf_t2i.evaluation.evaluate import evaluate_gan

    def evaluate():
        return evaluate_gan(
            gan,
            data_dir,
            split=held_out_split(config, manifest),
            num_samples=config.train.eval_samples,
            seed=config.train.seed,
            train_missing_evaluator=True,  # trained once per data set, then reused
            log=lambda message: print(message, file=sys.stderr, flush=True),
        )

    return evaluate


def _finish_stopped(callbacks) -> None:
    """After a NaN: redraw the loss plot and the gif, save nothing else."""
    from tf_t2i.training.callbacks import ProgressBar
    from tf_t2i.training.grids import SampleGrids, write_gif
    from tf_t2i.training.metrics_log import LossPlot

    for callback in callbacks:
        if isinstance(callback, LossPlot):
            callback.draw()
        if isinstance(callback, ProgressBar):
            callback.on_train_end()
        if isinstance(callback, SampleGrids) and callback.gif_path is not None:
            write_gif(sorted(callback.samples_dir.glob("step_*.png")), callback.gif_path)
