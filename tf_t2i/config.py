"""The full training configuration: named YAML recipes plus `key=value` overrides.

A `Config` has three sections:

    data   where the examples come from (a built-in source converted on demand,
           or a directory written by `t2i convert`) and how they are read;
    model  `tf_t2i.models.config.ModelConfig` (networks and GAN objective);
    train  batch size, budget, precision, strategy, intervals, seed, samples.

Recipes live in `pipelines/NAME.yaml` at the repository root:

    name: shapes
    description: ...
    data:  {source: shapes, options: {num_images: 4000}}
    model: {image_size: 32, conditions: [text]}
    train: {batch_size: 64, steps: 1500}

`load_config("shapes", ["train.steps=10"])` reads the recipe, applies the
overrides and type-checks every value; an unknown key is an error naming the
key (and the recipe file and line).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

import tf_t2i
from tf_t2i import config_values
from tf_t2i.errors import T2IError
from tf_t2i.models.config import CONDITION_KEYS, ModelConfig, renamed_field_error
from tf_t2i.training.precision import POLICIES
from tf_t2i.training.strategy import STRATEGIES

DEFAULT_RECIPE = "shapes"


def pipelines_dir() -> pathlib.Path:
    """The recipe folder: pipelines/ beside tf_t2i/ in a checkout (editable install),
    else the copy a regular install puts in <prefix>/share/tf_t2i/pipelines."""
    checkout = pathlib.Path(tf_t2i.__file__).resolve().parents[1] / "pipelines"
    installed = pathlib.Path(sys.prefix, "share", "tf_t2i", "pipelines")
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


def recipe_names() -> list[str]:
    """Names of the recipes in pipelines/, sorted."""
    return sorted(path.stem for path in pipelines_dir().glob("*.yaml"))


@dataclasses.dataclass
class DataConfig:
    """Where the training examples come from.

    Attributes:
        source: source name for `t2i convert` ("shapes", "digits", "reed", "celeba",
            "sun", "tfds:NAME", "folder"). Built-in sources are converted into the
            cache on first use; others need `dir` (a converted data set).
        path: the raw data of a non built-in source (documentation for the
            `t2i convert` command that makes `dir`).
        dir: a data set directory written by `t2i convert` (holds dataset.json).
            Empty: the built-in source's cached conversion.
        options: conversion options for the source (image_size, num_images, seed...).
        encoder: text encoder spec the caption embeddings must come from.
        split: split to train on.
        sample_split: split whose first examples condition the sample grids
            (falls back to `split` when absent from the data set).
        caption_average: number of captions averaged per embedding (Reed: 4).
        cache: keep the split's decoded examples in memory (small data sets): t2i fit
            reads and decodes the shards once, in the first epoch, instead of every epoch.
    """

    source: str = "shapes"
    path: str = ""
    dir: str = ""
    options: dict = dataclasses.field(default_factory=dict)
    encoder: str = "use-m3"
    split: str = "train"
    sample_split: str = "test"
    caption_average: int = 1
    cache: bool = False


@dataclasses.dataclass
class TrainConfig:
    """How long and how to train, and what to record.

    Attributes:
        batch_size: global batch size (split across replicas).
        steps: number of training steps (batches); 0 means use `epochs`. Each step
            updates D once; G is updated on every `model.d_steps`-th step, so a
            run makes steps // d_steps G updates (as many as steps when d_steps = 1).
        epochs: number of passes over the split when `steps` is 0.
        lr_decay_epochs: multiply the learning rates by model.lr_decay_rate every
            this many epochs; fit() sets model.lr_decay_steps from the split's
            size and the batch size (0: keep model.lr_decay_steps).
        precision: auto | float32 | mixed_float16 | mixed_bfloat16.
        strategy: auto | default | mirrored | multi-worker | tpu.
        seed: seeds weights, noise and data order.
        deterministic: enable TensorFlow op determinism (slower; for exact resume).
        log_every: steps between metrics.jsonl lines / TensorBoard scalars.
        sample_every: steps between sample grids (samples/step_XXXXXX.png).
        checkpoint_every: steps between checkpoints.
        keep_checkpoints: checkpoints kept on disk.
        sample_captions: fixed captions of the sample grids (text models);
            empty: the first examples of `data.sample_split` and their captions.
        sample_rows: conditions per grid when taken from the data.
        samples_per_caption: grid columns (fixed noise vectors).
        tensorboard: write TensorBoard logs under logs/.
        eval_every: steps between evaluations with `t2i evaluate`'s protocol on
            `data.sample_split` (0: never); results go to metrics.jsonl and TensorBoard.
        eval_samples: captions generated from per evaluation.
        style_steps: steps of the style encoder phase after the GAN (Reed sec. 4.4;
            only with model.style_encoder).
        nan_at_step: debugging switch: feed a NaN batch at this step (0: never).
    """

    batch_size: int = 64
    steps: int = 0
    epochs: int = 1
    lr_decay_epochs: int = 0
    precision: str = "auto"
    strategy: str = "auto"
    seed: int = 0
    deterministic: bool = False
    log_every: int = 10
    sample_every: int = 100
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    sample_captions: list[str] = dataclasses.field(default_factory=list)
    sample_rows: int = 8
    samples_per_caption: int = 8
    tensorboard: bool = True
    eval_every: int = 0
    eval_samples: int = 500
    style_steps: int = 500
    nan_at_step: int = 0


# The names a recipe and `t2i fit` accept, each kept in one registry:
# precisions in training/precision.py, strategies in training/strategy.py,
# conditions in models/config.py (CONDITION_KEYS: name -> batch key).
PRECISIONS = ("auto", *POLICIES)
CONDITIONS = tuple(CONDITION_KEYS)

# Model sizes that fit() takes from the data set (0 in a recipe = "from the data").
DATA_DERIVED_MODEL_FIELDS = ("num_attributes", "num_classes")

# `--model` presets: how each paper variant sets the model switches.
MODEL_VARIANTS = {
    "dcgan": {"conditions": [], "cls": False, "interp": False},
    "gan-cls": {"cls": True, "interp": False},
    "gan-int": {"cls": False, "interp": True},
    "gan-int-cls": {"cls": True, "interp": True},
}


@dataclasses.dataclass
class Config:
    """A complete, resolved training configuration.

    Attributes:
        name: run name (default run directory: runs/NAME).
        description: one line about the recipe.
        data: DataConfig.
        model: tf_t2i.models.config.ModelConfig.
        train: TrainConfig.
    """

    name: str = DEFAULT_RECIPE
    description: str = ""
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        """A JSON/YAML-serialisable dict (the form written to config.json)."""
        return {
            "name": self.name,
            "description": self.description,
            "data": dataclasses.asdict(self.data),
            "model": config_values.plain(self.model.to_dict()),
            "train": dataclasses.asdict(self.train),
        }

    @classmethod
    def from_dict(cls, values: Mapping, where: str = "config") -> Config:
        """Builds a Config from nested dicts, checking keys and types.

        Args:
            values: {"name", "description", "data": {...}, "model": {...}, "train": {...}};
                missing keys keep their defaults.
            where: what the values came from, for error messages.

        Raises:
            T2IError: an unknown key or a value of the wrong type, naming it.
        """
        config = cls()
        for key, value in config_values.flatten(values):
            config = config.with_value(key, value, where=where)
        return config

    def with_value(self, key: str, value: Any, where: str = "--set") -> Config:
        """A copy with the dotted `key` (e.g. "train.batch_size") set to `value`."""
        parts = key.split(".")
        head = parts[0]
        if head in ("name", "description"):
            if len(parts) != 1:
                raise T2IError(f"{where}: unknown key {key!r}")
            return dataclasses.replace(
                self, **{head: config_values.check_value(value, str, key, where)}
            )
        if head not in ("data", "model", "train") or len(parts) < 2:
            raise T2IError(
                f"{where}: unknown key {key!r}; keys are name, description, "
                "data.*, model.*, train.*"
            )
        section = getattr(self, head)
        field_name = parts[1]
        hints = config_values.field_types(type(section))
        renamed = renamed_field_error(field_name, where) if head == "model" else None
        if renamed is not None:
            raise renamed
        if field_name not in hints:
            known = ", ".join(sorted(hints))
            raise T2IError(f"{where}: unknown key {key!r}; {head} keys are: {known}")
        if len(parts) > 2:
            # free-form dicts (data.options.*) take nested keys
            current = getattr(section, field_name)
            if not isinstance(current, dict):
                raise T2IError(f"{where}: unknown key {key!r}: {head}.{field_name} has no sub-keys")
            updated = dict(current)
            config_values.set_nested(updated, parts[2:], value)
            checked = updated
        else:
            checked = config_values.check_value(value, hints[field_name], key, where)
        # fields are checked one by one; whole-model validation waits for
        # validate(), as a recipe may set conditions before their sizes
        new_section = dataclasses.replace(section, **{field_name: checked})
        return dataclasses.replace(self, **{head: new_section})

    def with_overrides(self, overrides: Iterable[str], where: str = "--set") -> Config:
        """Applies `key=value` strings; values are parsed as YAML ("32", "[text]", "true")."""
        config = self
        for item in overrides:
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise T2IError(f"{where}: expected key=value, got {item!r}")
            try:
                value = yaml.safe_load(text) if text.strip() else ""
            except yaml.YAMLError as err:
                raise T2IError(f"{where}: cannot parse the value of {key!r}: {err}") from None
            config = config.with_value(key.strip(), value, where=f"{where} {key.strip()}")
        return config

    def validate(self) -> Config:
        """Checks values that are valid types but impossible; returns self."""
        train = self.train
        if train.precision not in PRECISIONS:
            raise T2IError(
                f"train.precision: {train.precision!r} is not one of {', '.join(PRECISIONS)}"
            )
        if train.strategy not in STRATEGIES:
            raise T2IError(
                f"train.strategy: {train.strategy!r} is not one of {', '.join(STRATEGIES)}"
            )
        for key in ("batch_size", "log_every", "sample_every", "checkpoint_every"):
            if getattr(train, key) < 1:
                raise T2IError(f"train.{key} must be at least 1, got {getattr(train, key)}")
        if train.keep_checkpoints < 1:
            raise T2IError(
                f"train.keep_checkpoints must be at least 1, got {train.keep_checkpoints}"
            )
        if train.steps < 0 or train.epochs < 0 or (train.steps == 0 and train.epochs == 0):
            raise T2IError("train.steps or train.epochs must be positive")
        if train.lr_decay_epochs < 0:
            raise T2IError(f"train.lr_decay_epochs must be >= 0, got {train.lr_decay_epochs}")
        for condition in self.model.conditions:
            if condition not in CONDITIONS:
                raise T2IError(
                    f"model.conditions: unknown condition {condition!r}; "
                    f"choose among {', '.join(CONDITIONS)} (or [] for none)"
                )
        # sizes left at 0 are filled from the data set's manifest by fit()
        from_data = {name: max(1, getattr(self.model, name)) for name in DATA_DERIVED_MODEL_FIELDS}
        dataclasses.replace(self.model, **from_data).validate()
        if self.data.caption_average < 1:
            raise T2IError("data.caption_average must be at least 1")
        return self

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"


def load_config(name_or_path: str | None = None, overrides: Iterable[str] = ()) -> Config:
    """Reads a recipe and applies `key=value` overrides.

    Args:
        name_or_path: a recipe name in pipelines/ ("shapes", "cub"), a path to a
            YAML file, or a run's config.json; None is the default recipe.
        overrides: "section.key=value" strings, applied in order.

    Returns:
        The validated Config.

    Raises:
        T2IError: unknown recipe, unreadable YAML, unknown key, wrong type.
    """
    path = find_recipe(name_or_path or DEFAULT_RECIPE)
    config = read_recipe(path)
    return config.with_overrides(overrides).validate()


def find_recipe(name_or_path: str) -> pathlib.Path:
    """Resolves a recipe name or path to an existing file."""
    candidate = pathlib.Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml", ".json") or len(candidate.parts) > 1:
        if not candidate.is_file():
            raise T2IError(f"recipe file not found: {name_or_path}")
        return candidate
    path = pipelines_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise T2IError(
            f"unknown recipe {name_or_path!r}; recipes in {pipelines_dir()}: "
            f"{', '.join(recipe_names()) or '(none)'}"
        )
    return path


def read_recipe(path: str | pathlib.Path) -> Config:
    """Parses a YAML recipe (or a run's config.json) into a Config.

    Errors name the file and, for an unknown key or bad value, its line.
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        values = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise T2IError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as err:
        raise T2IError(f"{path}: invalid YAML: {err}") from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise T2IError(f"{path}: a recipe is a mapping with data, model and train sections")
    lines = config_values.key_lines(text)
    config = Config(name=path.stem if path.suffix != ".json" else "")
    for key, value in config_values.flatten(values):
        where = f"{path}:{lines[key]}" if key in lines else str(path)
        config = config.with_value(key, value, where=where)
    if not config.name:
        config = dataclasses.replace(config, name=path.parent.name)
    return config
