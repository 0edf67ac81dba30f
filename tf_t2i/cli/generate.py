"""`t2i generate`: images from a run dir, an exported SavedModel, or a server."""

import click

from tf_t2i.cli.errors import user_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("args", nargs=-1)
@click.option("--server", metavar="URL[/MODEL]", help="TF Serving / `t2i serve` REST endpoint.")
@click.option(
    "-n",
    "--num",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Images per condition (rows of an interpolation).",
)
@click.option(
    "--seed", type=click.IntRange(0, 2**62), help="Noise seed (default: random, printed)."
)
@click.option(
    "-o",
    "--out",
    default="generated.png",
    show_default=True,
    type=click.Path(),
    help="Output PNG; several images without --grid go to OUT-<i>.png.",
)
@click.option("--grid", is_flag=True, help="Write one grid (a row per condition).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option(
    "--interpolate",
    nargs=2,
    metavar="TEXT_A TEXT_B",
    help="Images along the line between two captions (GAN-INT).",
)
@click.option(
    "--steps",
    default=8,
    show_default=True,
    type=click.IntRange(2, 64),
    help="Images per interpolation strip.",
)
@click.option(
    "--truncation",
    type=click.FloatRange(min=0.0),
    default=None,
    help="Sample with truncated noise: |z| <= 2, times this scale (below 1: closer to each "
    "caption's typical image, less varied); 0: plain N(0, 1) noise  [default: the model's "
    "model.truncation]",
)
@click.option(
    "--style-from",
    "style_from",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Draw the captions in the style of this image (repeatable).",
)
@user_errors
def generate(
    args, server, num, seed, out, grid, interpolate, steps, truncation, style_from, overwrite
):
    """Generates images from captions (or the model's other conditions).

    ARGS is SOURCE then CAPTION...; with --server, only CAPTION.... SOURCE is a
    run dir (runs/NAME) or a SavedModel / model dir (savedmodels/NAME[/VERSION]).
    For class models give class ids, for attribute models comma-separated
    vectors, for mask models mask PNG files, for unconditional models nothing.

    \b
    t2i generate runs/shapes "a red circle" "a blue square" -n 8 --seed 1 --grid
    t2i generate savedmodels/shapes "a red circle" -o circle.png
    t2i generate --server http://localhost:8501/shapes "a red circle"
    t2i generate runs/shapes --interpolate "a red circle" "a blue square" --steps 8 -n 2
    t2i generate runs/shapes --style-from photo.png "a green triangle"
    t2i generate runs/shapes "a red circle" -n 8 --truncation 0.7

    Without --truncation the model samples as its recipe says (model.truncation;
    an export, served or not, keeps it). --truncation S draws here the noise an
    export at truncation S draws from --seed (N(0, 1) redrawn beyond 2, then
    times S); --truncation 0 draws plain N(0, 1) noise. An interpolation always
    samples at the model's truncation.
    """
    import os
    import random

    import numpy as np

    from tf_t2i.errors import T2IError
    from tf_t2i.serving.backends import open_backend, save_images

    if server:
        source, conditions = None, list(args)
    elif args:
        source, conditions = args[0], list(args[1:])
    else:
        raise T2IError("give a SOURCE (run dir or SavedModel dir) or --server URL/MODEL")
    if truncation is not None and (interpolate or style_from):
        raise T2IError(
            "--truncation applies to sampling from captions: an interpolation draws its one "
            "noise per row in the model (at model.truncation), and style transfer takes its "
            "noise from the style image"
        )
    if seed is None:
        seed = random.randrange(2**31)
        click.echo(f"seed: {seed}", err=True)
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise T2IError(f"-o {out}: the folder {out_dir} does not exist")
    backend = open_backend(source, server)

    if interpolate:
        rows = []
        for row in range(num):  # one strip per seed: seed, seed+1, ...
            inputs = {
                "text_a": np.array(interpolate[0].encode()),
                "text_b": np.array(interpolate[1].encode()),
                "steps": np.array(steps, np.int32),
                "seed": np.array(seed + row, np.int64),
            }
            rows.append(backend.run("interpolate", inputs)["images"])
        images, columns = np.concatenate(rows), steps
    elif style_from:
        texts = _texts(conditions, "--style-from")
        pairs = [(path, text) for path in style_from for text in texts]
        inputs = {
            "image": np.array([_read_bytes(p) for p, _ in pairs], dtype=object),
            "text": np.array([t.encode() for _, t in pairs], dtype=object),
        }
        images, columns = backend.run("style_transfer", inputs)["images"], len(texts)
    else:
        inputs = _condition_inputs(backend.input_names("serving_default"), conditions, num)
        rows = len(next(iter(inputs.values()))) if inputs else num
        seeds = np.full([rows], seed, np.int64)
        if truncation is None:  # the model (a server's export too) draws at its own truncation
            inputs["seed"] = seeds
        else:
            inputs["noise"] = _seeded_noise(backend, seeds, truncation)
        images, columns = backend.run("serving_default", inputs)["images"], num
    paths = save_images(images, out, grid=grid, columns=columns, overwrite=overwrite)
    shown = paths[0] if len(paths) == 1 else f"{paths[0]} ... {paths[-1]}"
    click.echo(f"wrote {len(images)} image(s) to {shown}")


def _seeded_noise(backend, seeds, truncation):
    """float32 [N, Z]: the noise an export at `truncation` draws from `seeds` (int64 [N]).

    export/ops.py's seeded_noise, drawn here, so --truncation equal to the model's
    own gives the images the model draws from the seed.
    """
    from tf_t2i.errors import T2IError
    from tf_t2i.export.ops import seeded_noise

    z_dim = backend.noise_dim("serving_default")
    if z_dim is None:
        raise T2IError(f"{backend.description}: serving_default takes no noise, so no --truncation")
    return seeded_noise(seeds, z_dim, truncation).numpy()


def _texts(conditions, what):
    if not conditions:
        from tf_t2i.errors import T2IError

        raise T2IError(f"{what}: give at least one caption")
    return conditions


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def _condition_inputs(names, conditions, num):
    """Positional conditions -> serving_default inputs, each repeated `num` times.

    Returns:
        dict input name -> np.ndarray with N = len(conditions) * num rows.
    """
    import numpy as np

    from tf_t2i.errors import T2IError

    kinds = [name for name in names if name in ("text", "attributes", "label", "mask")]
    if not kinds:  # unconditional
        if conditions:
            raise T2IError(f"this model is unconditional: drop the conditions {conditions}")
        return {}
    if len(kinds) > 1:
        raise T2IError(f"this model takes {kinds}: use the REST client for several conditions")
    kind = kinds[0]
    if not conditions:
        raise T2IError(f"give at least one condition ({kind}) after SOURCE")
    values = []
    for i, value in enumerate(conditions):
        try:
            if kind == "text":
                values.append(value.encode("utf-8"))
            elif kind == "label":
                values.append(int(value))
            elif kind == "attributes":
                values.append([float(x) for x in value.split(",")])
            else:
                values.append(_read_bytes(value))
        except ValueError:
            raise T2IError(f"condition {i + 1} ({value!r}): not a valid {kind}") from None
    dtype = {"text": object, "mask": object, "label": np.int64, "attributes": np.float32}[kind]
    array = np.array(values, dtype=dtype)
    return {kind: np.repeat(array, num, axis=0)}
