"""The run directory written by `t2i fit`, and `load_run` for export and evaluation.

    runs/NAME/
      config.json            the resolved Config (data.dir is the data set used)
      checkpoints/           tf.train.CheckpointManager: ckpt-STEP.{index,data-*}
                             and the `checkpoint` index file
      samples/step_XXXXXX.png
      metrics.jsonl          one JSON object per logging step
      losses.png             D and G losses against step
      progress.gif           the sample grids in order
      logs/                  TensorBoard event files
      worker-N/checkpoints/  checkpoints of non-chief workers (multi-worker runs)

A checkpoint holds the generator, its moving average (model.ema_decay), the
discriminator, its auxiliary classifier and the style encoder (if any), both optimizers (slots, iteration counts, loss scale), the step counter
and the state of the model's random seed generators.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys

from tf_t2i.config import Config, read_recipe
from tf_t2i.errors import T2IError
from tf_t2i.models.config import RENAMED_FIELDS, WEIGHTLESS_FIELDS

CONFIG_FILE = "config.json"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
LOGS = "logs"
METRICS = "metrics.jsonl"
LOSSES = "losses.png"
PROGRESS_GIF = "progress.gif"


@dataclasses.dataclass
class RunPaths:
    """Where each artefact of a run lives.

    Args:
        root: the run directory.
        worker: this process's worker index; workers other than 0 keep their
            checkpoints under worker-N/ so that workers sharing a disk never
            write the same files.
    """

    root: pathlib.Path
    worker: int = 0

    def __post_init__(self):
        self.root = pathlib.Path(self.root)

    @property
    def config(self) -> pathlib.Path:
        return self.root / CONFIG_FILE

    @property
    def checkpoints(self) -> pathlib.Path:
        if self.worker:
            return self.root / f"worker-{self.worker}" / CHECKPOINTS
        return self.root / CHECKPOINTS

    @property
    def samples(self) -> pathlib.Path:
        return self.root / SAMPLES

    @property
    def logs(self) -> pathlib.Path:
        return self.root / LOGS

    @property
    def metrics(self) -> pathlib.Path:
        return self.root / METRICS

    @property
    def losses(self) -> pathlib.Path:
        return self.root / LOSSES

    @property
    def progress_gif(self) -> pathlib.Path:
        return self.root / PROGRESS_GIF


def make_checkpoint(gan):
    """A tf.train.Checkpoint of everything training needs to continue exactly.

    Args:
        gan: a ConditionalGAN (built, with its optimizers).

    Returns:
        tf.train.Checkpoint with generator, discriminator, d_optimizer,
        g_optimizer, step, and where present generator_ema, classifier, style_encoder, s_optimizer and
        the state of each keras.random.SeedGenerator the model owns.
    """
    import keras
    import tensorflow as tf

    objects = {
        "generator": gan.generator,
        "discriminator": gan.discriminator,
        "d_optimizer": gan.d_optimizer,
        "g_optimizer": gan.g_optimizer,
        "step": gan.step,
    }
    if getattr(gan, "generator_ema", None) is not None:
        objects["generator_ema"] = gan.generator_ema
    if getattr(gan, "classifier", None) is not None:
        objects["classifier"] = gan.classifier
    if getattr(gan, "style_encoder", None) is not None:
        objects["style_encoder"] = gan.style_encoder
    if getattr(gan, "s_optimizer", None) is not None:
        objects["s_optimizer"] = gan.s_optimizer
    for name, value in sorted(vars(gan).items()):
        if isinstance(value, keras.random.SeedGenerator):
            objects[f"rng_{name}"] = value.state
    return tf.train.Checkpoint(**objects)


def latest_checkpoint(run_dir: str | pathlib.Path, worker: int = 0) -> str | None:
    """The prefix of the newest complete checkpoint of a run, or None."""
    import tensorflow as tf

    directory = RunPaths(run_dir, worker).checkpoints
    if not directory.is_dir():
        return None
    return tf.train.latest_checkpoint(str(directory))


def checkpoint_step(prefix: str) -> int:
    """The step number of a checkpoint prefix (".../ckpt-120" -> 120)."""
    try:
        return int(str(prefix).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise T2IError(f"not a tf_t2i checkpoint prefix: {prefix}") from None


def write_config(run_dir: str | pathlib.Path, config: Config) -> pathlib.Path:
    """Writes config.json atomically; returns its path."""
    from tf_t2i.files import atomic_write

    path = RunPaths(run_dir).config
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, config.to_json())
    return path


def read_config(run_dir: str | pathlib.Path) -> Config:
    """The Config a run was trained with (its config.json)."""
    path = RunPaths(run_dir).config
    if not path.is_file():
        raise T2IError(f"{run_dir} is not a tf_t2i run directory: {path} is missing")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise T2IError(f"{path}: not valid JSON ({err})") from None
    model = values.get("model") if isinstance(values, dict) else None
    if isinstance(model, dict) and any(key in RENAMED_FIELDS for key in model):
        # written by a tf_t2i from before the renames: the same values under the new names
        # (a recipe a user writes gets an error naming the new key instead)
        values["model"] = {RENAMED_FIELDS.get(key, key): value for key, value in model.items()}
        config = Config.from_dict(values, where=str(path))
        return config if config.name else dataclasses.replace(config, name=path.parent.name)
    return read_recipe(path)


def missing_model_keys(run_dir: str | pathlib.Path) -> str:
    """'config.json lacks model.ngf, model.z_dim (defaults were used)', or "" if none is missing.

    A model built from defaults instead of the trained values does not fit
    its checkpoint; this names the keys that caused it.
    """
    path = RunPaths(run_dir).config
    try:
        written = json.loads(path.read_text(encoding="utf-8")).get("model") or {}
    except (OSError, ValueError, AttributeError):
        return ""
    expected = Config().model.to_dict()
    # weightless fields (kernels, truncation) cannot make a checkpoint misfit
    missing = sorted(key for key in expected if key not in written and key not in WEIGHTLESS_FIELDS)
    if not missing:
        return ""
    keys = ", ".join(f"model.{key}" for key in missing)
    return f"{path} lacks {keys}, so their defaults were used"


@dataclasses.dataclass
class LoadedRun:
    """A trained run, ready for export, generation or evaluation.

    Attributes:
        run_dir: the run directory.
        config: the full Config of the run.
        model_config: config.model (a ModelConfig).
        gan: the ConditionalGAN restored from the checkpoint.
        step: the training step of that checkpoint.
        checkpoint: the checkpoint prefix restored.
        manifest: the data set's Manifest, or None if its directory is gone.
        encoder_spec: the text encoder spec the run's embeddings came from.
    """

    run_dir: pathlib.Path
    config: Config
    model_config: object
    gan: object
    step: int
    checkpoint: str
    manifest: object | None
    encoder_spec: str


def load_run(run_dir: str | pathlib.Path, checkpoint: str | None = None) -> LoadedRun:
    """Rebuilds a run's ConditionalGAN and restores its latest checkpoint.

    Builds under the float32 policy (the checkpointed weights are float32
    whatever the training precision) in the default strategy.

    Args:
        run_dir: a directory written by `t2i fit`.
        checkpoint: a specific checkpoint prefix; default the latest.

    Returns:
        LoadedRun.

    Raises:
        T2IError: not a run directory, or no checkpoint in it.
    """
    import keras
    import tensorflow as tf

    from tf_t2i.data.schema import read_manifest
    from tf_t2i.models.build import build_gan
    from tf_t2i.training import checkpoint_check

    run_dir = pathlib.Path(run_dir)
    config = read_config(run_dir)
    prefix = checkpoint
    if prefix is None:
        prefix, damaged = checkpoint_check.newest_good(RunPaths(run_dir).checkpoints)
        if damaged and prefix is None:
            raise T2IError(f"{run_dir}: no intact checkpoint: {checkpoint_check.describe(damaged)}")
        if damaged:
            print(
                f"warning: {checkpoint_check.describe(damaged)}; using {prefix}",
                file=sys.stderr,
                flush=True,
            )
    if prefix is None:
        raise T2IError(
            f"{run_dir} has no checkpoint yet ({RunPaths(run_dir).checkpoints} is empty)"
        )
    keras.mixed_precision.set_global_policy("float32")
    gan = build_gan(config.model)
    try:
        # expect_partial: optimizer slots (and a loss scale) are not needed to generate
        make_checkpoint(gan).restore(prefix).expect_partial()
    except (ValueError, tf.errors.OpError) as err:
        why = missing_model_keys(run_dir) or "written by another tf_t2i version?"
        raise T2IError(
            f"{prefix}: the checkpoint does not fit the model of {RunPaths(run_dir).config} "
            f"({why}): {str(err).splitlines()[0]}"
        ) from None
    manifest = None
    if config.data.dir and (pathlib.Path(config.data.dir) / "dataset.json").is_file():
        manifest = read_manifest(config.data.dir)
    encoder_spec = manifest.encoder["spec"] if manifest is not None else config.data.encoder
    return LoadedRun(
        run_dir=run_dir,
        config=config,
        model_config=config.model,
        gan=gan,
        step=int(gan.step.numpy()),
        checkpoint=prefix,
        manifest=manifest,
        encoder_spec=encoder_spec,
    )
