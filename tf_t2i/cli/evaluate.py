"""`t2i evaluate` and `t2i evaluator train`: one fixed protocol for image quality
and condition fidelity (see tf_t2i/evaluation/evaluate.py)."""

import click

from tf_t2i.cli.errors import user_errors
from tf_t2i.cli.published_fid import published_fid_options, run_published

FEATURES = click.Choice(["evaluator", "inception"])

# the figures printed after an evaluation, in this order (all are in the JSON)
SUMMARY = [
    ("fid", "FID"),
    ("fid_real_baseline", "FID real-vs-real"),
    ("kid", "KID"),
    ("kid_real_baseline", "KID real-vs-real"),
    ("inception_score", "IS (evaluator)"),
    ("class_accuracy", "class accuracy"),
    ("class_accuracy_real", "class accuracy, real images"),
    ("attribute_accuracy", "attribute accuracy"),
    ("attribute_exact_match", "all attributes right"),
    ("diversity", "within-caption diversity"),
    ("diversity_real", "real within-class diversity"),
    ("diversity_ratio", "diversity / real, class"),
    ("diversity_caption_real", "real within-caption diversity"),
    ("diversity_caption_ratio", "diversity / real, caption"),
]


@click.group()
def evaluator():
    """The evaluator network behind `t2i evaluate`: a CNN trained on a data set's real images.

    \b
    t2i evaluator train --data data/shapes
    """


@evaluator.command("train")
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="A data set written by `t2i convert`.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="The .keras file to write  [default: DATA/evaluator/evaluator.keras]",
)
@click.option("--epochs", type=click.IntRange(min=1), default=15, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@user_errors
def train(data_dir, out, epochs, batch_size, seed):
    """Trains the evaluator (class + attribute classifier) on DATA's train split.

    Its accuracy on the real held-out split is printed and stored beside it
    with the data set's fingerprint; `t2i evaluate` refuses an evaluator made
    for other data.

    \b
    t2i evaluator train --data data/shapes
    t2i evaluator train --data data/digits --epochs 10 --out evaluators/digits.keras
    """
    from tf_t2i.evaluation.evaluator_training import train_evaluator

    path = train_evaluator(
        data_dir, out, epochs=epochs, batch_size=batch_size, seed=seed, log=click.echo
    )
    click.echo(f"evaluator saved to {path}")


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="The data set the model was trained on (its held-out captions are used).",
)
@click.option("--split", default="test", show_default=True, help="Held-out split to evaluate on.")
@click.option(
    "--num-samples",
    type=click.IntRange(min=4),
    default=1000,
    show_default=True,
    help="Captions to generate from (capped at the split size).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Fixes the noise: the same seed gives the same numbers.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default="metrics.json",
    show_default=True,
    help="Where to write the figures (JSON).",
)
@click.option(
    "--evaluator",
    "evaluator_path",
    type=click.Path(exists=True),
    default=None,
    help="Evaluator .keras file  [default: DATA/evaluator/evaluator.keras]",
)
@click.option(
    "--features",
    type=FEATURES,
    default="evaluator",
    show_default=True,
    help="Features for FID/KID/diversity: the evaluator's, or Inception-v3 ImageNet "
    "(local weights only).",
)
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="Inception-v3 no-top .h5  [default: the Keras cache]",
)
@click.option(
    "--raw-generator",
    is_flag=True,
    help="For a run with model.ema_decay: draw with G's own weights, not their moving average.",
)
@published_fid_options
@user_errors
def evaluate(
    source,
    data_dir,
    split,
    num_samples,
    seed,
    out,
    evaluator_path,
    features,
    inception_weights,
    raw_generator,
    **published,
):
    """Evaluates SOURCE (a run directory or a SavedModel) on DATA's held-out captions.

    Reports FID and KID against real images with the real-vs-real baseline
    for scale, an Inception-Score-style figure and conditional accuracy from
    the evaluator, and within-caption diversity with a mode-collapse alarm;
    for data with style groups (shapes: background) their spread over seeds
    and, with a style encoder, style transfer; with held-out classes
    (shapes -o holdout=8), zero-shot accuracy.
    The figures go to --out and, for a run directory, to its metrics.jsonl.
    Noise is sampled as the model samples (model.truncation, recorded in an
    export's model card); --truncation S overrides it, --truncation 0 is plain
    N(0, 1) noise.

    \b
    t2i evaluator train --data data/shapes        # once per data set
    t2i evaluate runs/shapes --data data/shapes
    t2i evaluate savedmodels/shapes/1 --data data/shapes --num-samples 500 --seed 1
    t2i evaluate runs/cub --data data/cub --protocol dfgan-cub \\
        --inception-graph classify_image_graph_def.pb --reference-stats bird_val256_FIDK0.npz
    """
    if published["protocol"] is not None:
        return run_published(source, data_dir, split, seed, out, raw_generator, **published)
    only_published = [
        f"--{name.replace('_', '-')}"
        for name in ("inception_graph", "reference_stats", "passes")
        if published[name] is not None
    ]
    if only_published:
        raise click.UsageError(
            f"{', '.join(only_published)} belong to a published FID: add --protocol "
            "(dfgan-cub, ttur, or custom for the options alone)"
        )
    from tf_t2i.evaluation.sources import evaluate_source
    from tf_t2i.evaluation.style import summary_lines

    results = evaluate_source(
        source,
        data_dir,
        split=split,
        num_samples=num_samples,
        seed=seed,
        evaluator_path=evaluator_path,
        features=features,
        inception_weights=inception_weights,
        out=out,
        use_ema=not raw_generator,
        truncation=published["truncation"],  # None: the model's own; 0: plain noise
    )
    drew = f", drawn by {results['generator']}" if "generator" in results else ""
    if results.get("truncation"):
        drew += f", truncation {results['truncation']['scale']:g}"
        drew += " (the model's)" if published["truncation"] is None else ""
    click.echo(
        f"{source}: {results['num_samples']} '{split}' captions, seed {seed}, "
        f"{results['features']} features{drew}, {results['seconds']:.1f} s"
    )
    for key, label in SUMMARY:
        if results.get(key) is not None:
            click.echo(f"  {label:<30} {results[key]:.4f}")
    for line in summary_lines(results):
        click.echo(line)
    if results.get("mode_collapse"):
        click.echo(
            f"  WARNING: mode collapse: samples of one caption vary "
            f"{results['diversity_ratio']:.2f}x as much as real images of one class"
        )
    click.echo(f"figures written to {out}")
    if "step" in results:
        click.echo(f"appended to {source}/metrics.jsonl (step {results['step']})")
