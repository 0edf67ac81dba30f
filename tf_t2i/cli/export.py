"""`t2i export`: a trained run -> a SavedModel for TF Serving."""

import re

import click

from tf_t2i.cli.errors import user_errors
from tf_t2i.cli.limits import caption_limit_options
from tf_t2i.text.limits import CaptionLimits


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--name", help="Model name (default: the run directory's name).")
@click.option("--version", type=click.IntRange(min=1), help="Version (default: the next free one).")
@click.option(
    "--out",
    default="savedmodels",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Export root: the model goes to OUT/NAME/VERSION/.",
)
@caption_limit_options
@user_errors
def export(run_dir, name, version, out, max_caption_bytes, max_caption_tokens):
    """Exports a run's latest checkpoint as a SavedModel for TF Serving.

    The SavedModel takes raw text (the text encoder is inside its graph) and
    returns uint8 images and PNG files. Signatures: serving_default,
    from_embedding, interpolate, style_transfer (if trained); attribute, class
    and mask models take those inputs instead of text. An existing version is
    never overwritten.

    \b
    t2i export runs/shapes                     # -> savedmodels/shapes/1
    t2i export runs/shapes --name shapes --version 3 --out /models
    """
    from tf_t2i.errors import T2IError
    from tf_t2i.export.savedmodel import export_run

    if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise T2IError(f"--name {name!r}: use letters, digits, '_', '.', '-' (it is a URL part)")
    limits = CaptionLimits(max_caption_bytes, max_caption_tokens)
    result = export_run(run_dir, out_root=out, name=name, version=version, caption_limits=limits)
    click.echo(f"wrote {result.path}  (model {result.name!r}, version {result.version})")
    click.echo(f"signatures: {', '.join(result.signatures)}")
