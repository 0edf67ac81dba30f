"""Benchmark: evaluation time — training the evaluator, and one `t2i evaluate` protocol run.

On a recipe's data set (default: the default job's built-in shapes), in one
process:

- trains the evaluator (`train_evaluator`, the code of `t2i evaluator train`)
  and records its wall time and its accuracy on the real held-out split;
- runs the evaluation protocol (`evaluate_gan`, what `t2i evaluate` and
  `t2i fit`'s periodic evaluation run) on the recipe's GAN, twice: the first
  call loads the evaluator and traces the networks, the second is what each
  further evaluation during training costs. The GAN is freshly built:
  evaluation time does not depend on how trained it is.

    .venv/bin/python -m bench.bench_evaluate [--recipe shapes] [--epochs 10]

Writes bench/results/evaluate.md.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

from bench.machine import machine

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "evaluate.md"
# a periodic evaluation should cost little next to training: at most this
# fraction of the default job's 30-minute budget per call
GOAL_FRACTION = 0.02
BUDGET_SECONDS = 30 * 60


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="shapes")
    parser.add_argument("--epochs", type=int, default=15, help="evaluator training epochs")
    parser.add_argument("--num-samples", type=int, default=1000)
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tf_t2i.config import load_config
    from tf_t2i.data.builtin import ensure_builtin
    from tf_t2i.data.schema import read_manifest
    from tf_t2i.evaluation.evaluate import evaluate_gan
    from tf_t2i.evaluation.evaluator_training import train_evaluator
    from tf_t2i.models.build import build_gan

    config = load_config(args.recipe)
    data_dir = ensure_builtin(
        config.data.source, encoder=config.data.encoder, **config.data.options
    )
    manifest = read_manifest(data_dir)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp, "evaluator.keras")
        start = time.perf_counter()
        train_evaluator(data_dir, out, epochs=args.epochs, log=lambda *_: None)
        train_seconds = time.perf_counter() - start
        info = json.loads(out.with_suffix(".json").read_text())
        gan = build_gan(config.model)
        runs = []
        for _ in range(2):
            start = time.perf_counter()
            results = evaluate_gan(gan, data_dir, num_samples=args.num_samples, evaluator_path=out)
            runs.append(time.perf_counter() - start)
    load_after = os.getloadavg()

    n = results["num_samples"]
    generated = n + results["diversity_captions"] * results["diversity_samples_per_caption"]
    num_train = manifest.splits["train"]["num_examples"]
    accuracy = info["real_accuracy"]
    goal = GOAL_FRACTION * BUDGET_SECONDS
    rows = [
        f"| evaluator training ({num_train} images, {args.epochs} epochs) | {train_seconds:.1f} s "
        f"| {num_train * args.epochs / train_seconds:.0f} images/s | once per data set |",
        f"| evaluation, first call (load + trace) | {runs[0]:.1f} s | "
        f"{generated / runs[0]:.0f} generated images/s | — |",
        f"| evaluation, repeat call (as in `t2i fit`) | {runs[1]:.1f} s | "
        f"{generated / runs[1]:.0f} generated images/s | <= {goal:.0f} s "
        f"({100 * GOAL_FRACTION:.0f}% of a 30-min budget): "
        f"{'met' if runs[1] <= goal else 'NOT met'} |",
    ]
    command = "python -m bench.bench_evaluate " + " ".join(sys.argv[1:])
    text = (
        f"""## Evaluation time

Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: {machine()},
Python {platform.python_version()}. Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after.
Command: `{command.strip()}`

Recipe `{args.recipe}`: data set {data_dir.name} ({manifest.crop_size}x{manifest.crop_size},
{len(manifest.class_names)} classes, {len(manifest.attribute_names)} attributes). The protocol used
{n} held-out captions ({n // 2} vs {n - n // 2} for FID/KID and the real-vs-real baseline) plus
{results["diversity_captions"]} captions x {results["diversity_samples_per_caption"]} samples for
diversity: {generated} generated images, {n} real ones, each through the evaluator.

| step | time | rate | reference / goal |
|---|---|---|---|
{chr(10).join(rows)}

Evaluator accuracy on the real '{info["accuracy_split"]}' split: """
        + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items())
        + "\n"
    )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
