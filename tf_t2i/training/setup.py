"""Before training: the data set, the model reconciled with it, resume rules, restore.

`fit` calls these in order: `resolve_data` finds (or makes) the data set,
`reconcile` fills the model sizes the data determines and refuses mismatches,
`check_resume` refuses to mix runs, and `restore_latest` loads the run's newest
checkpoint. Each raises T2IError with the fix before any training work.
`start_at` then keeps the checkpoints to one history when training restarts
below the newest of them.
"""

from __future__ import annotations

import dataclasses
import pathlib

from tf_t2i.config import Config
from tf_t2i.errors import T2IError
from tf_t2i.models.config import WEIGHTLESS_FIELDS
from tf_t2i.training.run_dir import RunPaths


def resolve_data(config: Config):
    """Finds (or, for built-in sources, makes) the data set directory.

    Returns:
        (data_dir, Manifest).

    Raises:
        T2IError: no data set, with the `t2i convert` command that makes it.
    """
    from tf_t2i.cli.convert import convert_command
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


def check_resume(paths: RunPaths, config: Config, resume: bool | None) -> None:
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
        # model.kernels and model.truncation leave the weights alone: a run may change them
        changed = sorted(
            key for key in old if key not in WEIGHTLESS_FIELDS and old[key] != new.get(key)
        )
        if changed:
            raise T2IError(
                f"{paths.config}: the run was trained with a different model "
                f"({', '.join(f'model.{key}' for key in changed)}); use another --run-dir"
            )


def restore_latest(checkpoint, manager, paths: RunPaths) -> None:
    """Restores `manager.latest_checkpoint` (if any) into `checkpoint`.

    Raises:
        T2IError: the checkpoint does not fit the model, naming the model keys
            that differ when the run's config.json tells.
    """
    import tensorflow as tf

    if not manager.latest_checkpoint:
        return
    try:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as err:
        from tf_t2i.training.run_dir import missing_model_keys

        raise T2IError(
            f"{manager.latest_checkpoint}: cannot resume, the checkpoint does not fit this "
            f"model ({missing_model_keys(paths.root) or 'written by another tf_t2i version?'})"
            f": {str(err).splitlines()[0]}"
        ) from None


def start_at(step: int, checkpoint, manager, paths: RunPaths, keep: int, log):
    """Leaves no checkpoint numbered above `step`, where training starts (again).

    Training restarts below the run's newest checkpoint when a finished run
    with a style phase is continued: the GAN goes on from its last step, and
    the style phase (numbered after it) is redone. The restored state is saved
    as ckpt-STEP, so that an interrupted continuation still has a checkpoint,
    and those numbered above it move to superseded/ (checkpoint_check.supersede).

    Returns:
        The CheckpointManager to save with (a new one if checkpoints moved).
    """
    import tensorflow as tf

    from tf_t2i.training.checkpoint_check import save, step_of, supersede

    restored = manager.latest_checkpoint
    # decided by the restored state alone, the same on every worker (saving is collective)
    if restored and step_of(restored) > step:
        save(manager, step)
    if not supersede(paths.checkpoints, step, log):
        return manager
    return tf.train.CheckpointManager(checkpoint, str(paths.checkpoints), max_to_keep=keep)
