"""The options of `t2i evaluate` that compute FID as published tables do
(tf_t2i/evaluation/published.py), and the command body that runs them."""

import click

PROTOCOL_NAMES = ["dfgan-cub", "ttur", "custom"]

_OPTIONS = [
    click.option(
        "--protocol",
        type=click.Choice(PROTOCOL_NAMES),
        default=None,
        help="Compute FID as a published table does (TF 2015 Inception graph; every setting "
        "goes to --out): dfgan-cub = DF-GAN's 10 passes, truncation 0.88, their .npz; "
        "ttur = one pass, plain noise; custom = the options below.",
    ),
    click.option(
        "--inception-graph",
        type=click.Path(dir_okay=False),
        default=None,
        help="classify_image_graph_def.pb of inception-2015-12-05.tgz (with --protocol).",
    ),
    click.option(
        "--reference-stats",
        type=click.Path(dir_okay=False),
        default=None,
        help="Published .npz of mu and sigma (e.g. bird_val256_FIDK0.npz)  "
        "[default: the split's real images]",
    ),
    click.option(
        "--passes",
        type=click.IntRange(min=1),
        default=None,
        help="Images per held-out caption set (overrides the protocol).",
    ),
    click.option(
        "--truncation",
        type=click.FloatRange(min=0.0),
        default=None,
        help="Sample with truncated noise: |z| <= 2, times this scale (0: plain noise). "
        "Applies to every figure, and overrides a --protocol's  [default: the model's "
        "model.truncation; with --protocol, the protocol's]",
    ),
]


def published_fid_options(command):
    """Adds the published-FID options to a Click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def run_published(source, data_dir, split, seed, out, raw_generator, protocol, inception_graph,
                  reference_stats, passes, truncation):  # fmt: skip
    """Runs `--protocol` and prints the figure with its protocol line."""
    from tf_t2i.errors import T2IError
    from tf_t2i.evaluation.published import evaluate_published, protocol_settings

    if inception_graph is None:
        raise T2IError(
            "--protocol needs --inception-graph PATH: the classify_image_graph_def.pb of "
            "inception-2015-12-05.tgz (TTUR's FID network); tf_t2i does not download it"
        )
    split = None if split == "test" else split  # "test" is every protocol's default
    settings = protocol_settings(
        None if protocol == "custom" else protocol,
        passes=passes,
        truncation=truncation,
        split=split,
    )
    results = evaluate_published(
        source, data_dir, settings, inception_graph, reference_stats, seed, out,
        use_ema=not raw_generator,
    )  # fmt: skip
    click.echo(results["protocol_line"])
    click.echo(f"figures written to {out}")
