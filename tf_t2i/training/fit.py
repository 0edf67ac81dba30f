"""`fit(config, run_dir)`: trains a ConditionalGAN under any tf.distribute strategy.

One custom loop serves every strategy (default, Mirrored, MultiWorkerMirrored,
TPU): each step is `strategy.run(gan.train_step, (batch,))` on a dataset from
`strategy.distribute_datasets_from_function`, and the per-replica metric
results are averaged with `strategy.reduce`. Keras 3's `Model.fit` fails under
MultiWorkerMirroredStrategy (keras-team/keras#20585: a PerReplica batch in its
symbolic build, scalar logs reduced on axis 0); this loop avoids the private
APIs a workaround would need.

Resuming is exact: the data of epoch e is `make_dataset(seed=f(seed, e))`, so a
run restored at step s rebuilds epoch s // steps_per_epoch and skips the
batches already used; weights, both optimizers, the step counter and the noise
generator's state come from the checkpoint.
"""

from __future__ import annotations

import dataclasses
import pathlib
import shlex
import sys
import time
from collections.abc import Callable

from tf_t2i.config import Config
from tf_t2i.errors import T2IError
from tf_t2i.training.callbacks import NonFiniteLossError
from tf_t2i.training.run_dir import RunPaths
from tf_t2i.training.samples import held_out_split, sample_conditions, write_final_grids

# Log keys whose values are strings or bookkeeping, not losses.
_RESERVED_LOG_KEYS = ("images_per_sec", "eta_sec", "epoch")


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
    from tf_t2i.training.strategy import describe, resolve_strategy, task_info

    strategy = resolve_strategy(train.strategy)
    is_chief, worker = task_info(strategy)
    paths = RunPaths(run_dir, worker)
    data_dir, manifest = resolve_data(config)
    config = reconcile(config, data_dir, manifest)
    from tf_t2i.training.checkpoint_check import fall_back

    fall_back(paths.checkpoints, log)  # a damaged latest checkpoint: resume from the one before
    _check_resume(paths, config, resume)
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
    total_steps = train.steps or train.epochs * steps_per_epoch

    import keras
    import tensorflow as tf

    from tf_t2i.data.input import make_dataset
    from tf_t2i.models.build import build_gan
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
    if manager.latest_checkpoint:
        try:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        except (ValueError, AssertionError, tf.errors.OpError) as err:
            from tf_t2i.training.run_dir import missing_model_keys

            raise T2IError(
                f"{manager.latest_checkpoint}: cannot resume, the checkpoint does not fit this "
                f"model ({missing_model_keys(paths.root) or 'written by another tf_t2i version?'})"
                f": {str(err).splitlines()[0]}"
            ) from None
    style_steps = train.style_steps if config.model.style_encoder else 0
    style_done = int(gan.s_optimizer.iterations.numpy()) if style_steps else 0
    gan_done = int(gan.step.numpy())
    # global step: GAN steps, then style encoder steps numbered after them
    start_step = gan_done + style_done
    last_step = total_steps + style_steps
    if is_chief:
        write_config(run_dir, config)
    log(
        f"t2i fit: {config.name} | data {data_dir} ({num_examples} {config.data.split} examples) "
        f"| {describe(strategy)} | {policy} | batch {train.batch_size} | "
        f"steps {start_step}->{last_step} ({steps_per_epoch}/epoch)"
    )
    if start_step:
        log(f"resumed from {manager.latest_checkpoint} at step {start_step}")
    if start_step >= last_step:
        log(f"nothing to do: the run is already at step {start_step} of {total_steps}")

    callbacks = _make_callbacks(
        config,
        paths,
        gan,
        manifest,
        data_dir,
        manager,
        is_chief,
        start_step,
        last_step,
        progress_stream,
    )

    def epoch_dataset(epoch: int, offset: int):
        def dataset_fn(input_context):
            dataset = make_dataset(
                data_dir,
                config.data.split,
                train.batch_size,
                image_size=config.model.image_size,
                training=True,
                seed=_epoch_seed(train.seed, epoch),
                repeat=True,  # an epoch is steps_per_epoch batches; shards never run dry
                caption_average=config.data.caption_average,
                cache=config.data.cache,
                drop_remainder=True,
                input_context=input_context,
            )
            # each global step takes one batch per replica that this pipeline feeds
            per_step = input_context.num_replicas_in_sync // input_context.num_input_pipelines
            return dataset.skip(offset * per_step)

        return iter(strategy.distribute_datasets_from_function(dataset_fn))

    begin = time.monotonic()
    clock = {"start": begin, "steps": 0, "rate": 0.0, "first": True}

    def run_phase(step_fn, done, phase_steps, base, trackers, epoch_salt, poison_at=0):
        """Runs steps done+1..phase_steps of one phase; global step = base + phase step."""
        while done < phase_steps:
            epoch, offset = divmod(done, steps_per_epoch)
            iterator = epoch_dataset(epoch + epoch_salt, offset)
            for _ in range(offset, min(steps_per_epoch, offset + phase_steps - done)):
                logs = step_fn(iterator, bool(poison_at) and base + done + 1 == poison_at)
                done += 1
                step = base + done
                logs = {key: float(value) for key, value in logs.items()}
                now = time.monotonic()
                clock["steps"] += 1
                if clock["first"]:  # the first step of a phase traces the graph
                    clock.update(start=now, steps=0, first=False)
                elif now > clock["start"]:
                    clock["rate"] = clock["steps"] * train.batch_size / (now - clock["start"])
                rate = clock["rate"]
                logs.update(
                    images_per_sec=rate,
                    eta_sec=(last_step - step) * train.batch_size / rate if rate else float("nan"),
                    epoch=float(epoch),
                )
                for callback in callbacks:
                    callback.on_train_batch_end(step, logs)
                if step % train.log_every == 0:
                    for tracker in trackers:
                        tracker.reset_state()  # logged values are means over one log interval
                    clock.update(start=time.monotonic(), steps=0)
        return base + done

    for callback in callbacks:
        callback.on_train_begin({"step": start_step})
    try:
        step = run_phase(
            _make_step_fn(strategy, gan=gan),
            gan_done,
            total_steps,
            0,
            gan.metrics,
            0,
            poison_at=train.nan_at_step,
        )
        if style_steps and style_done < style_steps:
            # Reed sec. 4.4: the style encoder learns after the GAN, with G frozen
            log(f"style encoder: steps {style_done}->{style_steps} (G frozen)")
            clock["first"] = True
            step = run_phase(
                _make_step_fn(strategy, gan.train_style_encoder_step),
                style_done,
                style_steps,
                total_steps,
                [gan.s_loss_tracker],
                1_000_000,
                poison_at=train.nan_at_step,
            )
        step = max(step, start_step)
    except NonFiniteLossError as err:
        _finish_stopped(callbacks)
        latest = manager.latest_checkpoint
        kept = f"last good checkpoint: {latest}" if latest else "no checkpoint was saved yet"
        raise TrainingStopped(
            f"training stopped: {err} ({kept}); lower the learning rates, check the data, "
            f"or rerun to continue from the checkpoint"
        ) from None
    for callback in callbacks:
        callback.on_train_end({"step": step})
    if is_chief and step > start_step:
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
    )


# ------------------------------------------------------------------ set-up helpers


def resolve_data(config: Config):
    """Finds (or, for built-in sources, makes) the data set directory.

    Returns:
        (data_dir, Manifest).

    Raises:
        T2IError: no data set, with the `t2i convert` command that makes it.
    """
    from tf_t2i.data.schema import MANIFEST_FILE, read_manifest
    from tf_t2i.data.sources import BUILT_IN

    data = config.data
    if data.dir:
        data_dir = pathlib.Path(data.dir).expanduser()
        if not (data_dir / MANIFEST_FILE).is_file():
            raise T2IError(
                f"data.dir {data.dir}: no {MANIFEST_FILE} there; make it with: "
                f"{convert_command(config)}"
            )
    elif data.source in BUILT_IN:
        from tf_t2i.data.builtin import ensure_builtin

        data_dir = ensure_builtin(data.source, encoder=data.encoder, **data.options)
    else:
        raise T2IError(
            f"data.dir is not set for source {data.source!r}: convert the data first with "
            f"`{convert_command(config)}` and pass --data DIR (or --set data.dir=DIR)"
        )
    return data_dir.resolve(), read_manifest(data_dir)


def convert_command(config: Config) -> str:
    """The `t2i convert` command line that makes the recipe's data set."""
    data = config.data
    words = ["t2i", "convert", data.source]
    if data.path:
        words.append(data.path)
    words += ["--out", data.dir or f"data/{config.name}"]
    if data.encoder != "use-m3":
        words += ["--encoder", data.encoder]
    for key, value in data.options.items():
        if key in _CONVERT_FLAGS:  # a conversion setting: its own flag
            if value is True:
                words.append(_CONVERT_FLAGS[key])
            elif value not in (None, False):
                words += [_CONVERT_FLAGS[key], str(value)]
        else:  # a source option
            words += ["-o", f"{key}={value}"]
    return shlex.join(words)


# convert() settings that recipes may set in data.options -> their `t2i convert` flag
_CONVERT_FLAGS = {
    "image_size": "--image-size",
    "stored_size": "--stored-size",
    "resize": "--resize",
    "image_format": "--image-format",
    "channels": "--channels",
    "shard_size": "--shard-size",
    "num_shards": "--shards",
    "workers": "--workers",
    "limit": "--limit",
    "strict": "--strict",
    "batch_size": "--batch-size",
}


def reconcile(config: Config, data_dir: pathlib.Path, manifest) -> Config:
    """Checks the model against the data set; fills sizes the data determines.

    The embedding size, the number of attributes and classes come from the
    manifest; a model asking for more than the data holds is an error.

    Returns:
        The Config with data.dir set to `data_dir` and the model sizes filled.

    Raises:
        T2IError: encoder, image size, channels, conditions or split do not match.
    """
    model = config.model
    where = f"{data_dir}/dataset.json"
    split = config.data.split
    manifest.split_info(split)  # raises naming the splits there are
    if manifest.num_examples(split) == 0:
        raise T2IError(f"{where}: split {split!r} is empty")
    updates: dict = {}
    if "text" in model.conditions:
        from tf_t2i.text.precomputed import spec_matches

        spec = manifest.encoder.get("spec")
        if not spec_matches(config.data.encoder, spec):
            raise T2IError(
                f"{where}: caption embeddings come from encoder {spec!r} but the config asks "
                f"for data.encoder={config.data.encoder!r}; reconvert or set data.encoder"
            )
        updates["embedding_dim"] = manifest.embedding_dim
    if model.image_size > manifest.image_size:
        raise T2IError(
            f"{where}: images are stored at {manifest.image_size}px, smaller than "
            f"model.image_size={model.image_size}; reconvert with --image-size "
            f"{model.image_size} or lower model.image_size"
        )
    if model.channels != manifest.channels:
        raise T2IError(
            f"{where}: images have {manifest.channels} channel(s) but "
            f"model.channels={model.channels}"
        )
    for condition, field, count in (
        ("attributes", "num_attributes", manifest.num_attributes),
        ("class", "num_classes", manifest.num_classes),
    ):
        auxiliary = field == "num_classes" and model.aux_weight > 0
        if condition not in model.conditions and not auxiliary:
            continue
        if count == 0:
            needer = f"the '{condition}' condition" if not auxiliary else "model.aux_weight"
            raise T2IError(f"{where}: {needer} needs {condition} in the data")
        if getattr(model, field) not in (0, count):
            raise T2IError(
                f"{where}: the data has {count} {condition} but model.{field}="
                f"{getattr(model, field)}"
            )
        updates[field] = count
    if "mask" in model.conditions and not manifest.has_masks:
        raise T2IError(f"{where}: the 'mask' condition needs masks in the data")
    if config.train.lr_decay_epochs:  # Reed et al.: halve the rates every 100 epochs
        per_epoch = max(1, manifest.num_examples(split) // config.train.batch_size)
        updates["lr_decay_steps"] = config.train.lr_decay_epochs * per_epoch
    model = dataclasses.replace(model, **updates)
    model.validate()
    data = dataclasses.replace(config.data, dir=str(data_dir))
    return dataclasses.replace(config, data=data, model=model)


def _check_resume(paths: RunPaths, config: Config, resume: bool | None) -> None:
    """Refuses to mix runs: resume rules and an unchanged model section."""
    import tensorflow as tf

    from tf_t2i.training.run_dir import read_config

    latest = (
        tf.train.latest_checkpoint(str(paths.checkpoints)) if paths.checkpoints.is_dir() else None
    )
    if resume is True and latest is None:
        raise T2IError(f"--resume: {paths.checkpoints} holds no checkpoint to continue from")
    if resume is False and latest is not None:
        raise T2IError(
            f"{paths.root} already holds a run (checkpoint {latest}); continue it with "
            f"--resume or choose another --run-dir"
        )
    if latest is not None and paths.config.is_file():
        # `config` is reconciled with the data: sizes from the manifest are filled in
        old, new = read_config(paths.root).model.to_dict(), config.model.to_dict()
        changed = sorted(key for key in old if old[key] != new.get(key))
        if changed:
            raise T2IError(
                f"{paths.config}: the run was trained with a different model "
                f"({', '.join(f'model.{key}' for key in changed)}); use another --run-dir"
            )


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch) % (2**31 - 1)


def _make_step_fn(strategy, train_fn=None, gan=None):
    """A tf.function running one step on every replica: `train_fn` (a per-replica step on a
    batch dict), or the GAN's step (`gan`, which picks G's turn outside strategy.run);
    returns the global means of the per-replica metric results."""
    import tensorflow as tf

    from tf_t2i.training.gan_step import gan_step, replica_mean

    def poisoned(batch):  # the debugging switch train.nan_at_step
        return dict(batch, images=batch["images"] * float("nan"))

    @tf.function
    def step(iterator, poison):
        batch = next(iterator)
        transform = poisoned if poison else None
        if gan is not None:
            return gan_step(strategy, gan, batch, transform)

        def replica_step(replica_batch):
            return train_fn(poisoned(replica_batch) if poison else replica_batch)

        return replica_mean(strategy, strategy.run(replica_step, args=(batch,)))

    return step


def _make_callbacks(
    config, paths, gan, manifest, data_dir, manager, is_chief, start, total, progress_stream
):
    """The callbacks in order: NaN guard, checkpoints, then (chief only) outputs."""
    from tf_t2i.training import callbacks as cb

    train = config.train
    guard = cb.NanGuard()
    saver = cb.CheckpointSaver(manager, train.checkpoint_every)
    callbacks = [guard, saver]
    if not is_chief:
        return callbacks
    import tensorflow as tf

    paths.root.mkdir(parents=True, exist_ok=True)
    writer = tf.summary.create_file_writer(str(paths.logs)) if train.tensorboard else None
    metrics = cb.MetricsLog(paths.metrics, train.log_every, start_step=start)
    sample_fn, rows, cols, labels = sample_conditions(config, gan, manifest, data_dir)
    callbacks += [
        metrics,
        cb.LossPlot(paths.losses, metrics, train.sample_every),
        cb.SampleGrids(
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
        callbacks.append(cb.TensorBoardScalars(writer, train.log_every))
    if train.eval_every:
        callbacks.append(
            cb.PeriodicEvaluation(
                _evaluate_fn(config, gan, data_dir, manifest),
                paths.metrics,
                train.eval_every,
                writer,
            )
        )
    callbacks.append(cb.ProgressBar(total, train.log_every, stream=progress_stream))
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
    from tf_t2i.training import callbacks as cb

    for callback in callbacks:
        if isinstance(callback, cb.LossPlot):
            callback.draw()
        if isinstance(callback, cb.ProgressBar):
            callback.on_train_end()
        if isinstance(callback, cb.SampleGrids) and callback.gif_path is not None:
            cb.write_gif(sorted(callback.samples_dir.glob("step_*.png")), callback.gif_path)
