"""Which seen colour x kind classes a shapes model gets wrong, over several noise seeds.

`t2i evaluate` scores one noise draw (seed 0) of the test captions, so a class
accuracy near its goal (0.97 on shapes-64) moves by about a point between draws.
This draws every test caption of a seen class (not held out) with --seeds other
noise seeds (100, 101, ...), with G_ema and, with --raw, G itself, at each
--truncations scale ("none": plain N(0, 1); else `t2i evaluate --truncation`'s
noise), and scores the images with the data set's evaluator. Per row: the
seen-class accuracy of each seed and their mean, the error rate by the size the
caption names, and the commonest confusions (caption's class -> evaluator's).

    python -m bench.seen_errors RUN [RUN ...] --data DIR [--seeds 4] [--truncations none 0.7] [--raw]

writes bench/results/seen_errors.md.
"""

from __future__ import annotations

import argparse
import collections
import pathlib

import numpy as np

from bench.machine import section_header

RESULTS = pathlib.Path(__file__).parent / "results" / "seen_errors.md"
FIRST_SEED = 100  # t2i evaluate draws with seed 0


def named_size(caption: str) -> str:
    """The size word a shapes caption names, or "unnamed"."""
    from tf_t2i.data.sources.shapes import SIZES

    words = caption.lower().split()
    return next((size for size in SIZES if size in words), "unnamed")


def score(generate_fn, evaluator, real, seen, sizes, z_dim, names, seeds, truncation) -> dict:
    """Seen-class accuracy per seed, errors by named size, and confusions (test captions)."""
    from tf_t2i.evaluation.evaluate import TRUNCATION_BOUND, _generate_all
    from tf_t2i.evaluation.published import truncate

    accuracies, confusions = [], collections.Counter()
    errors, totals = collections.Counter(), collections.Counter()
    for seed in range(FIRST_SEED, FIRST_SEED + seeds):
        z = np.random.default_rng(seed).standard_normal((len(sizes), z_dim))
        z = truncate(z, truncation, TRUNCATION_BOUND, np.random.default_rng([seed, 1]))
        images = _generate_all(generate_fn, {"embeddings": real["embeddings"]}, z)
        predicted = evaluator.predict(images)["probs"].argmax(-1)
        right = predicted == real["labels"]
        accuracies.append(float(right[seen].mean()))
        for i in np.flatnonzero(seen):
            totals[sizes[i]] += 1
            if not right[i]:
                errors[sizes[i]] += 1
                confusions[(names[real["labels"][i]], names[predicted[i]])] += 1
    return {
        "accuracies": accuracies,
        "by_size": {size: (errors[size], totals[size]) for size in sorted(totals)},
        "confusions": confusions.most_common(5),
    }


def row(name, figures) -> str:
    per_seed = " / ".join(f"{a:.3f}" for a in figures["accuracies"])
    sizes = ", ".join(f"{s} {e}/{t}" for s, (e, t) in figures["by_size"].items())
    confused = ", ".join(f"{a} -> {b} ({n})" for (a, b), n in figures["confusions"])
    mean = np.mean(figures["accuracies"])
    return f"| {name} | {per_seed} | {mean:.3f} | {sizes} | {confused} |"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories of text-conditioned shapes models")
    parser.add_argument("--data", required=True, help="the converted shapes data set")
    parser.add_argument("--seeds", type=int, default=4, help="noise draws per caption")
    parser.add_argument("--truncations", nargs="+", default=["none", "0.7"])
    parser.add_argument("--raw", action="store_true", help="also score G, not only G_ema")
    args = parser.parse_args(argv)
    from tf_t2i.data.schema import read_manifest
    from tf_t2i.evaluation.evaluate import _collect_real, gan_generate_fn, get_evaluator
    from tf_t2i.training.run_dir import load_run

    data_dir = pathlib.Path(args.data).expanduser()
    manifest = read_manifest(data_dir)
    names = list(manifest.class_names)
    held = set(manifest.held_out_classes or [])
    real = _collect_real(data_dir, "test", 10**6)
    evaluator = get_evaluator(data_dir)
    sizes = [named_size(c.decode() if isinstance(c, bytes) else str(c)) for c in real["captions"]]
    seen = np.array([names[label] not in held for label in real["labels"]])
    lines = [
        *section_header(
            "Seen-class errors of shapes models, over noise seeds", "bench.seen_errors"
        ),
        f"{int(seen.sum())} test captions of seen classes, {args.seeds} noise draws each "
        f"(seeds {FIRST_SEED}-{FIRST_SEED + args.seeds - 1}); errors by the size the caption "
        "names, as errors/draws; confusions as caption's class -> evaluator's class (count).",
        "",
        "| run, generator, noise | seen-class accuracy per seed | mean | errors by named size "
        "| commonest confusions |",
        "|---|---|---|---|---|",
    ]
    for run_dir in args.runs:
        run = load_run(run_dir)
        generators = [True, False] if args.raw and run.gan.generator_ema is not None else [True]
        for use_ema in generators:
            drawer = "G_ema" if use_ema and run.gan.generator_ema is not None else "G"
            for text in args.truncations:
                truncation = None if text == "none" else float(text)
                figures = score(
                    gan_generate_fn(run.gan, use_ema), evaluator, real, seen, sizes,
                    run.gan.model_config.z_dim, names, args.seeds, truncation,
                )  # fmt: skip
                noise = "plain" if truncation is None else f"truncation {truncation}"
                lines.append(row(f"`{run_dir}` ({run.step}), {drawer}, {noise}", figures))
                print(lines[-1], flush=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
