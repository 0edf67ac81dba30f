"""`t2i fit`: train a text-to-image GAN from a recipe, flags and overrides."""

from __future__ import annotations

import pathlib
import sys

import click

from tf_t2i.cli.errors import user_errors
from tf_t2i.config import CONDITIONS, PRECISIONS, STRATEGIES

MODELS = ("dcgan", "gan-cls", "gan-int", "gan-int-cls")


@click.command("fit")
@click.option(
    "--recipe",
    default=None,
    metavar="NAME|PATH",
    help="Recipe: a name in pipelines/ (shapes, digits, cub, ...) or a YAML file. Default: shapes.",
)
@click.option("--config", "recipe_alias", default=None, hidden=True)  # the old name of --recipe
@click.option(
    "--data",
    default=None,
    metavar="DIR|shapes|digits",
    help="A data set directory from `t2i convert`, or a built-in source.",
)
@click.option("--model", type=click.Choice(MODELS), default=None, help="GAN variant.")
@click.option(
    "--condition",
    type=click.Choice([*CONDITIONS, "none"]),
    default=None,
    help="What G is conditioned on.",
)
@click.option("--image-size", type=int, default=None, help="Image side (28, 32, 64, 128).")
@click.option("--batch-size", type=int, default=None, help="Global batch size.")
@click.option("--epochs", type=int, default=None, help="Train for this many epochs.")
@click.option(
    "--steps",
    type=int,
    default=None,
    help="Train for this many steps (train_step calls: one D update each, a G update "
    "every model.d_steps).",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=None,
    help="Keras dtype policy; auto picks by device.  [recipe default: auto]",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default=None,
    help="tf.distribute strategy; auto picks TPU, TF_CONFIG cluster, GPUs.  [recipe default: auto]",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=None,
    help="Run directory.  [default: runs/NAME]",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --run-dir from its config.json and latest checkpoint "
    "(rerunning the same command also continues).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any recipe key, e.g. --set train.sample_every=50 --set model.ngf=32.",
)
@click.option("--dry-run", is_flag=True, help="Print the resolved recipe and exit.")
@click.option("-v", "--verbose", is_flag=True, help="Show TensorFlow's C++ log lines.")
@user_errors
def fit(
    recipe,
    recipe_alias,
    data,
    model,
    condition,
    image_size,
    batch_size,
    epochs,
    steps,
    precision,
    strategy,
    run_dir,
    resume,
    overrides,
    dry_run,
    verbose,
):
    """Train a GAN; with no arguments, GAN-INT-CLS on the built-in shapes.

    \b
    t2i fit                                   # default job: a few minutes on a laptop CPU
    t2i fit --recipe digits --steps 3000
    t2i fit --recipe cub --data data/cub --run-dir runs/cub
    t2i fit --recipe shapes --set model.ngf=32 --set train.sample_every=50
    t2i fit --run-dir runs/shapes --resume --steps 4000   # continue, with a larger budget
    TF_CONFIG='{...}' t2i fit --strategy multi-worker     # one process per worker

    SIGTERM or Ctrl-C stops after the current step and saves it (a second one
    stops at once); rerunning the command continues from there.

    The run directory gets config.json, checkpoints/, samples/step_XXXXXX.png,
    metrics.jsonl, losses.png, progress.gif and TensorBoard logs/.
    """
    from tf_t2i.cli.quiet import set_tensorflow_logging
    from tf_t2i.config import load_config
    from tf_t2i.data.sources import BUILT_IN
    from tf_t2i.training.run_dir import RunPaths, read_config

    if verbose:
        set_tensorflow_logging(verbose=True)
    if recipe is not None and recipe_alias is not None:
        raise click.UsageError("give --recipe (or its old name --config) once")
    recipe = recipe if recipe is not None else recipe_alias
    flags = flag_overrides(
        data=data,
        model=model,
        condition=condition,
        image_size=image_size,
        batch_size=batch_size,
        epochs=epochs,
        steps=steps,
        precision=precision,
        strategy=strategy,
    )
    if resume and recipe is None and run_dir is not None and RunPaths(run_dir).config.is_file():
        # --resume alone: the run's own resolved config, plus any new flags
        config = (
            read_config(run_dir).with_overrides(flags, where="option").with_overrides(overrides)
        )
        config = config.validate()
    else:
        config = load_config(recipe).with_overrides(flags, where="option")
        if image_size is not None and not config.data.dir and config.data.source in BUILT_IN:
            # a built-in data set is rendered at the size the model trains at
            config = config.with_value("data.options.image_size", image_size, where="option")
        config = config.with_overrides(overrides).validate()
    run_dir = run_dir or pathlib.Path("runs") / config.name
    if resume and recipe is None and not RunPaths(run_dir).config.is_file():
        from tf_t2i.errors import T2IError

        raise T2IError(
            f"--resume: {RunPaths(run_dir).config} is missing, so the recipe {run_dir} was "
            "trained with is unknown; restore it, or give --recipe RECIPE to resume with that"
        )
    if dry_run:
        click.echo(f"# run dir: {run_dir}")
        click.echo(config.to_json(), nl=False)
        return

    from tf_t2i.training.fit import fit as run_fit

    result = run_fit(config, run_dir, resume=True if resume else None)
    trained = result.step - result.start_step
    if result.stopped_by:
        import signal

        # fit has logged the step and checkpoint; the status is the shell's for the signal
        click.echo(f"stopped by {result.stopped_by}: step {result.step}/{result.total_steps}")
        click.echo(f"checkpoint: {result.checkpoint}")
        sys.stdout.flush()
        sys.exit(128 + signal.Signals[result.stopped_by].value)
    click.echo(
        f"done: step {result.step}/{result.total_steps} ({trained} steps in "
        f"{result.seconds:.0f} s, {result.images_per_sec:.0f} images/s)"
    )
    if result.last_sample is not None:
        click.echo(f"samples:    {result.last_sample}")
        click.echo(f"progress:   {result.run_dir / 'progress.gif'}")
        click.echo(f"losses:     {result.run_dir / 'losses.png'}")
        click.echo(f"tensorboard --logdir {result.run_dir / 'logs'}")
    click.echo(f"checkpoint: {result.checkpoint}")
    sys.stdout.flush()


def flag_overrides(**flags) -> list[str]:
    """Turns the command's shortcut options into `key=value` overrides."""
    from tf_t2i.config import MODEL_VARIANTS
    from tf_t2i.data.sources import BUILT_IN

    items = []
    data = flags.get("data")
    if data is not None:
        if data in BUILT_IN:
            items += [f"data.source={data}", "data.dir="]
        else:
            items.append(f"data.dir={data}")
    if flags.get("model"):
        for key, value in MODEL_VARIANTS[flags["model"]].items():
            items.append(f"model.{key}={_yaml(value)}")
    condition = flags.get("condition")
    if condition:
        items.append(
            "model.conditions=[]" if condition == "none" else f"model.conditions=[{condition}]"
        )
        if condition == "mask":  # a recipe's turn of G's image would move it off its mask
            items.append("model.style_rotation=0")
    if flags.get("image_size") is not None:
        items.append(f"model.image_size={flags['image_size']}")
    if flags.get("batch_size") is not None:
        items.append(f"train.batch_size={flags['batch_size']}")
    if flags.get("epochs") is not None and flags.get("steps") is not None:
        raise click.UsageError("give --epochs or --steps, not both")
    if flags.get("epochs") is not None:
        items += [f"train.epochs={flags['epochs']}", "train.steps=0"]
    if flags.get("steps") is not None:
        items.append(f"train.steps={flags['steps']}")
    for key in ("precision", "strategy"):
        if flags.get(key):
            items.append(f"train.{key}={flags[key]}")
    return items


def _yaml(value) -> str:
    import json

    return json.dumps(value)
