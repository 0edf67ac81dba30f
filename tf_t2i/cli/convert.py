"""`t2i convert`: raw data -> TFRecord shards + dataset.json; `convert_command` spells one."""

import shlex

import click

from tf_t2i.cli.errors import user_errors
from tf_t2i.cli.limits import caption_limit_options


def _parse_options(pairs):
    """KEY=VALUE strings -> dict, values read as YAML scalars (numbers, booleans, strings)."""
    import yaml

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        options[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return options


def _check_source_options(name, options):
    """Raises T2IError naming any option the source does not take."""
    import importlib
    import inspect

    from tf_t2i.data.sources import SOURCES
    from tf_t2i.errors import T2IError

    target = SOURCES.get(name.partition(":")[0])
    if target is None or not options:
        return  # get_source reports unknown sources
    module_name, cls_name = target.split(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except ModuleNotFoundError:
        return
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [p for p in params if p not in ("self", "path", "tfds_name")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise T2IError(
            f"source {name!r} has no option {', '.join(unknown)}; "
            f"its options are {', '.join(known) or 'none'}"
        )


@click.command()
@click.argument("source")
@click.argument("path", required=False, type=click.Path(exists=True))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Data set directory to write (shards, dataset.json, skipped.jsonl).",
)
@click.option(
    "--image-size",
    default=64,
    show_default=True,
    type=click.IntRange(8),
    help="Side the images are trained at.",
)
@click.option(
    "--stored-size",
    type=click.IntRange(8),
    help="Side the images are stored at, >= --image-size; larger keeps a margin "
    "for random crops (Reed et al.: 76 for 64). Default: --image-size.",
)
@click.option(
    "--resize",
    default="center-crop",
    show_default=True,
    type=click.Choice(["center-crop", "stretch", "pad"]),
    help="How non-square images become square.",
)
@click.option(
    "--image-format",
    default="png",
    show_default=True,
    type=click.Choice(["png", "jpeg"]),
    help="Encoding of the stored images.",
)
@click.option(
    "--channels",
    default="3",
    show_default=True,
    type=click.Choice(["1", "3"]),
    help="3 = RGB, 1 = grey.",
)
@click.option(
    "--shard-size",
    default=1000,
    show_default=True,
    type=click.IntRange(1),
    help="Inputs per shard (the unit of resumption).",
)
@click.option(
    "--shards",
    type=click.IntRange(1),
    help="Aim for this many shards per split instead (counts the inputs first).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Processes decoding and resizing images.",
)
@click.option(
    "--encoder",
    default=None,
    help="Text encoder spec: use-m3, a TF Hub handle, a SavedModel directory, or "
    "precomputed (the source's published embeddings).  [default: precomputed for "
    "stackgan and reed-t7, else use-m3]",
)
@click.option(
    "--batch-size",
    default=256,
    show_default=True,
    type=click.IntRange(1),
    help="Captions per text encoder call.",
)
@click.option("--limit", type=click.IntRange(1), help="Convert at most N inputs per split.")
@click.option(
    "--split",
    "splits",
    multiple=True,
    help="Convert only this split (repeatable). Default: all the source has.",
)
@click.option(
    "-o",
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A source option, e.g. -o num_images=5000 -o max_shapes=2 (repeatable).",
)
@click.option("--strict", is_flag=True, help="Stop at the first bad input, naming the file.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a data set in --out that was converted with other options.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@caption_limit_options
@user_errors
def convert(source, path, out_dir, image_size, stored_size, resize, image_format, channels,
            shard_size, shards, workers, encoder, batch_size, limit, splits, options, strict,
            overwrite, quiet, max_caption_bytes, max_caption_tokens):  # fmt: skip
    """Converts SOURCE (at PATH) into TFRecord shards with caption embeddings.

    SOURCE is one of shapes, digits (built in, no PATH), reed, celeba, sun,
    folder, stackgan, reed-t7, damsm (need PATH) or tfds:NAME. Rerun after an interruption to resume;
    bad inputs are listed in OUT/skipped.jsonl.

    \b
    Examples:
      t2i convert shapes --out data/shapes -o num_images=5000
      t2i convert digits --out data/digits --image-size 32
      t2i convert reed data/CUB_200_2011 --out data/cub --stored-size 76 --workers 2
      t2i convert folder my_images/ --out data/mine --strict
      t2i convert tfds:oxford_flowers102 --out data/flowers --limit 1000
      t2i convert stackgan data/birds --out data/cub --stored-size 76   # char-CNN-RNN
      t2i convert stackgan data/birds --out data/cub-use --encoder use-m3
    """
    from tf_t2i.data.builtin import builtin_source
    from tf_t2i.data.convert import convert as run_convert
    from tf_t2i.data.sources import BUILT_IN, get_source
    from tf_t2i.errors import T2IError
    from tf_t2i.text.limits import CaptionLimits

    source_options = _parse_options(options)
    _check_source_options(source, source_options)
    try:
        if source in BUILT_IN and path is None:
            src = builtin_source(source, stored_size or image_size, **source_options)
        else:
            src = get_source(source, path, **source_options)
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("tf_t2i.data.sources."):
            raise
        raise T2IError(f"source {source!r} is not available in this version of tf_t2i") from None
    if encoder is None:
        from tf_t2i.text.precomputed import default_encoder

        encoder = default_encoder(src)
    manifest = run_convert(
        src, out_dir, encoder=encoder, image_size=image_size, stored_size=stored_size,
        resize=resize, image_format=image_format, channels=int(channels),
        shard_size=shard_size, num_shards=shards, workers=workers, splits=splits or None,
        limit=limit, strict=strict, overwrite=overwrite, batch_size=batch_size,
        progress=not quiet, caption_limits=CaptionLimits(max_caption_bytes, max_caption_tokens),
    )  # fmt: skip
    for split, info in manifest.splits.items():
        click.echo(f"{split}: {info['num_examples']} examples in {len(info['shards'])} shard(s)")
    if manifest.skipped:
        reasons = ", ".join(f"{reason} {n}" for reason, n in manifest.skipped.items())
        click.echo(f"skipped: {reasons} (see {out_dir}/skipped.jsonl)")
    click.echo(f"wrote {out_dir}/dataset.json")


# convert() settings that recipes may set in data.options -> their `t2i convert` flag
CONVERT_FLAGS = {
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


def convert_command(config) -> str:
    """The `t2i convert` command line that makes a recipe's data set.

    Args:
        config: a tf_t2i.config.Config; its data section names the source, path,
            encoder and options (conversion settings become flags, the rest `-o`).
    """
    data = config.data
    words = ["t2i", "convert", data.source]
    if data.path:
        words.append(data.path)
    words += ["--out", data.dir or f"data/{config.name}"]
    if data.encoder != "use-m3":
        words += ["--encoder", data.encoder]
    for key, value in data.options.items():
        if key in CONVERT_FLAGS:  # a conversion setting: its own flag
            if value is True:
                words.append(CONVERT_FLAGS[key])
            elif value not in (None, False):
                words += [CONVERT_FLAGS[key], str(value)]
        else:  # a source option
            words += ["-o", f"{key}={value}"]
    return shlex.join(words)
