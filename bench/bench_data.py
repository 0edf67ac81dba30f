"""Benchmark: conversion images/s (`convert`) and input pipeline images/s (`make_dataset`).

Conversion: the built-in shapes source (rendering included) stored at 76 px
for 64 px crops, PNG, five captions per image embedded by use-m3, with 1 and
2 worker processes; and the 1,797 digits upsampled to 64 px (templated
captions); encoder loading excluded.

Pipeline: `make_dataset(..., batch_size=64, seed=0)` on that data set, training
mode (decode, 76 -> 64 random crop + flip of image and mask, random caption,
wrong-pair sampling), after a warm-up; once reading the shards, once from the
in-memory cache. Goal: >= 1,000 images/s, i.e. >= 10x what a 64x64 train step
consumes on this machine (~100 images/s).

    .venv/bin/python -m bench.bench_data

Writes bench/results/data.md.
"""

import argparse
import datetime
import os
import pathlib
import shutil
import tempfile
import time

from bench.machine import cpu_model

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "data.md"
GOAL = 1000.0


def time_conversion(encoder, out_dir, num_images, workers):
    from tf_t2i.data.convert import convert
    from tf_t2i.data.sources.shapes import ShapesSource

    source = ShapesSource(num_images=num_images, image_size=76, seed=0)
    start = time.perf_counter()
    manifest = convert(source, out_dir, encoder=encoder, image_size=64, stored_size=76,
                       workers=workers, progress=False)  # fmt: skip
    seconds = time.perf_counter() - start
    total = sum(manifest.num_examples(s) for s in manifest.splits)
    return total / seconds


def time_digits(encoder, out_dir):
    from tf_t2i.data.convert import convert
    from tf_t2i.data.sources.digits import DigitsSource

    start = time.perf_counter()
    manifest = convert(DigitsSource(image_size=64), out_dir, encoder=encoder, image_size=64,
                       progress=False)  # fmt: skip
    seconds = time.perf_counter() - start
    return sum(manifest.num_examples(s) for s in manifest.splits) / seconds


def time_pipeline(data_dir, batches, batch_size, cache):
    from tf_t2i.data.input import make_dataset

    ds = make_dataset(data_dir, "train", batch_size, seed=0, cache=cache)
    it = iter(ds)
    for _ in range(max(10, batches // 5)):  # warm-up (and fills the cache)
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(it)
    batch["images"].numpy()
    seconds = time.perf_counter() - start
    return batches * batch_size / seconds, batches / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="shapes images to convert")
    parser.add_argument("--batches", type=int, default=100, help="timed pipeline batches")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tf_t2i.text.encoder import load_encoder

    encoder = load_encoder("use-m3")
    load_before = os.getloadavg()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_data_"))
    try:
        conv = {w: time_conversion(encoder, work / f"w{w}", args.images, w) for w in (1, 2)}
        digits = time_digits(encoder, work / "digits")
        data_dir = work / "w1"
        pipe = time_pipeline(data_dir, args.batches, args.batch_size, cache=False)
        pipe_cached = time_pipeline(data_dir, args.batches, args.batch_size, cache=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    def verdict(value):
        return "met" if value >= GOAL else "NOT met"

    command = (
        f".venv/bin/python -m bench.bench_data --images {args.images} "
        f"--batches {args.batches} --batch-size {args.batch_size}"
    )
    lines = [
        "## Data: conversion and input pipeline throughput",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores, {cpu_model()}; load average before / after: "
        f"{', '.join(f'{x:.1f}' for x in load_before)} / "
        f"{', '.join(f'{x:.1f}' for x in load_after)}",
        f"- command: `{command}`",
        f"- data: {args.images} built-in shapes images, stored 76x76 PNG with masks, 5 captions "
        "each (use-m3, 512-d); pipeline output 64x64, batch "
        f"{args.batch_size}, {args.batches} timed batches after a warm-up. Other jobs shared "
        "the machine, so absolute rates vary.",
        "",
        "| stage | images/s | batches/s | goal |",
        "|---|---:|---:|---:|",
        f"| convert (render + PNG + use-m3 + write), 1 process | {conv[1]:.0f} | | |",
        f"| convert, `--workers 2` | {conv[2]:.0f} | | |",
        f"| convert digits (1,797 images, 50 distinct captions), 1 process | {digits:.0f} | | |",
        f"| make_dataset, from shards | {pipe[0]:.0f} | {pipe[1]:.1f} | >= {GOAL:.0f} images/s |",
        f"| make_dataset, `cache=True` | {pipe_cached[0]:.0f} | {pipe_cached[1]:.1f} | |",
        "",
        "Shapes conversion is bound by the text encoder: its 5 captions per image are "
        "nearly all distinct, and use-m3 embeds about 500 captions/s here "
        "(bench/results/encoder.md), so ~100 images/s whatever the number of workers. "
        "Conversion embeds each distinct caption once, so templated captions (digits) "
        "leave it bound by image decoding and PNG encoding.",
        "",
        f"Goal (pipeline >= {GOAL:.0f} images/s from shards): {verdict(pipe[0])}.",
    ]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
