"""Conditional accuracy per caption template and class, for a run on a templated data set.

`t2i evaluate` gives one accuracy over the held-out captions. When a GAN draws
one image per caption whatever the noise, that figure is made of captions
that are always right and captions that are always wrong; this table shows
which. For every caption the data set's source writes (template x class), it
draws --samples images with fixed seeds and scores them with the data set's
evaluator, with G_ema and, when the run has one, with G itself.

    .venv/bin/python -m bench.per_caption RUN --data DIR [--samples 32] [--out FILE.md]

Only for built-in sources with caption templates (digits).
"""

import argparse
import pathlib

import numpy as np


def _captions(source: str) -> tuple[list[str], list[str]]:
    """(templates, class names) of a built-in templated source."""
    if source != "digits":
        raise SystemExit(f"per_caption: only the digits source has templates, not {source!r}")
    from tf_t2i.data.sources.digits import NAMES, TEMPLATES

    return list(TEMPLATES), list(NAMES)


def table(run_dir, data_dir, samples: int) -> list[str]:
    """Markdown lines: one row per (generator, template), one column per class."""
    from tf_t2i.data.schema import read_manifest
    from tf_t2i.evaluation.evaluator import Evaluator
    from tf_t2i.text.encoder import load_encoder
    from tf_t2i.training.run_dir import load_run

    run = load_run(run_dir)
    templates, names = _captions(read_manifest(data_dir).source["name"])
    encoder = load_encoder(run.encoder_spec)
    evaluator = Evaluator.load(pathlib.Path(data_dir) / "evaluator" / "evaluator.keras", data_dir)
    generators = [True, False] if run.gan.generator_ema is not None else [False]
    lines = [
        f"| generator | template | {' | '.join(names)} | mean |",
        "|---|---|" + "---|" * (len(names) + 1),
    ]
    for use_ema in generators:
        for template in templates:
            captions = [template.format(name=n, digit=d) for d, n in enumerate(names)]
            embeddings = np.asarray(encoder.encode(captions))
            accuracies = []
            for label, embedding in enumerate(embeddings):
                batch = np.repeat(embedding[None], samples, axis=0)
                images = run.gan.generate({"embeddings": batch}, seed=label, use_ema=use_ema)
                predicted = np.argmax(evaluator.predict(images.numpy())["probs"], axis=-1)
                accuracies.append(float(np.mean(predicted == label)))
            cells = " | ".join(f"{a:.2f}" for a in accuracies)
            which = "G_ema" if use_ema else "G"
            lines.append(f"| {which} | `{template}` | {cells} | {np.mean(accuracies):.3f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("--data", type=pathlib.Path, required=True)
    parser.add_argument("--samples", type=int, default=32, help="images per caption")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="append the table here")
    args = parser.parse_args()
    lines = table(args.run_dir, args.data, args.samples)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
