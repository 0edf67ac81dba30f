"""Benchmark: serving latency and throughput of an exported 64x64 text-to-image SavedModel.

Builds a Reed-size generator (64x64, ngf=64, z=100, use-m3 text embeddings of
512), wraps it with the use-m3 encoder in the export's ServingModule, writes
the SavedModel with `write_savedmodel` and loads it back with
`tf.saved_model.load` (what TF Serving's Python-free twin `t2i serve` does).
Timed: `serving_default` (raw text in, uint8 images + PNGs out) at batch 1
(latency p50/p95) and batch 64 (images/s); `from_embedding` (the generator
and PNG encoding alone, no text encoder) at the same sizes; and batch 1
through the local REST server (JSON + HTTP on top). Untrained weights: the
cost of a forward pass does not depend on their values. Warm-up calls are
excluded.

    .venv/bin/python -m bench.bench_serving

Writes bench/results/serving.md. Goals: batch-1 p50 <= 30 ms, batch 64 >= 300 images/s.
"""

import argparse
import datetime
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time

import numpy as np

from bench.machine import cpu_model

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "serving.md"
GOAL_P50_MS = 30.0
GOAL_IMAGES_PER_S = 300.0
CAPTIONS = [
    "a small red bird with a short beak",
    "this flower has large pink petals and a yellow center",
    "a blue square next to a green circle",
    "a bird with white wings and a black crown",
    "the petals are purple with dark veins",
    "a yellow triangle on a white background",
]


def timed(fns, repeats):
    """Seconds per call of each fn, interleaved (fn1, fn2, fn1, ...) after one warm-up each.

    Interleaving spreads the other jobs' load evenly over the paths compared.

    Returns:
        list (one per fn) of lists of `repeats` durations.
    """
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return times


def percentile(values, q):
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-repeats", type=int, default=50)
    parser.add_argument("--batch-repeats", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    from tf_t2i.export.savedmodel import write_savedmodel
    from tf_t2i.export.serving_module import ServingModule
    from tf_t2i.models.build import build_gan
    from tf_t2i.models.config import ModelConfig
    from tf_t2i.serving.client import RestClient
    from tf_t2i.serving.server import make_server
    from tf_t2i.text.encoder import load_encoder

    keras.mixed_precision.set_global_policy("float32")
    config = ModelConfig(image_size=64, ngf=64, ndf=64, z_dim=100, conditions=["text"])
    gan = build_gan(config, seed=0)
    encoder = load_encoder("use-m3")
    params = sum(int(np.prod(v.shape)) for v in gan.generator.trainable_variables)
    with tempfile.TemporaryDirectory() as tmp:
        module = ServingModule(gan.generator, config, text_encoder=encoder.module)
        export = write_savedmodel(module, tmp, "bench").path
        model = tf.saved_model.load(str(export))

        def text_call(n):
            texts = tf.constant([CAPTIONS[i % len(CAPTIONS)] for i in range(n)])
            seeds = tf.range(n, dtype=tf.int64)
            return lambda: model.serving_default(text=texts, seed=seeds)["png_bytes"].numpy()

        def embedding_call(n):
            embeddings = tf.random.stateless_normal([n, config.embedding_dim], seed=[0, 1])
            seeds = tf.range(n, dtype=tf.int64)
            return lambda: model.from_embedding(embeddings=embeddings, seed=seeds)[
                "png_bytes"
            ].numpy()

        server = make_server(tmp, port=0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        client = RestClient(server.url, "bench")
        n = args.batch_size

        def rest_call(size):
            inputs = {
                "text": [CAPTIONS[i % len(CAPTIONS)] for i in range(size)],
                "seed": list(range(size)),
            }
            return lambda: client.predict(inputs)

        load = os.getloadavg()
        ones = timed([text_call(1), embedding_call(1), rest_call(1)], args.latency_repeats)
        many = timed([text_call(n), embedding_call(n)], args.batch_repeats)
        rest_many = timed([rest_call(n)], max(2, args.batch_repeats // 2))[0]
        server.shutdown()
        server.server_close()
        labels = (
            "serving_default (text in)",
            "from_embedding (no text encoder)",
            "REST `:predict` via `t2i serve` (JSON)",
        )
        rows = [
            (
                label,
                percentile(one, 50),
                percentile(one, 95),
                n / statistics.median(batch),
                n / min(batch),
            )
            for label, one, batch in zip(labels, ones, many + [rest_many], strict=True)
        ]
        load_after = os.getloadavg()

    command = " ".join(["python -m bench.bench_serving"] + sys.argv[1:])
    lines = [
        "## Serving: exported 64x64 text-to-image SavedModel",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores, {cpu_model()}; load average before / after: "
        f"{load[0]:.1f} / {load_after[0]:.1f} (other jobs share the cores)",
        f"- command: `.venv/bin/{command}`",
        f"- model: Reed-size generator (64x64x3, ngf=64, z=100, {params / 1e6:.1f}M parameters) "
        "+ use-m3 text encoder in the graph, float32, loaded with `tf.saved_model.load`; "
        "outputs uint8 images and PNG bytes. Batch 1: "
        f"{args.latency_repeats} calls; batch {args.batch_size}: median of "
        f"{args.batch_repeats} calls; the paths are timed interleaved; warm-up excluded. "
        "REST rows carry the images as JSON lists of ints (12,288 per image) plus "
        "base64 PNGs, both ways through Python's json.",
        "",
        f"| path | batch 1 p50 (ms) | batch 1 p95 (ms) | batch {args.batch_size} median "
        f"(images/s) | batch {args.batch_size} best call (images/s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, p50, p95, rate, best in rows:
        lines.append(f"| {label} | {p50:.1f} | {p95:.1f} | {rate:.0f} | {best:.0f} |")
    lines.append(f"| goal | <= {GOAL_P50_MS:.0f} | | >= {GOAL_IMAGES_PER_S:.0f} | |")
    p50, rate = rows[0][1], rows[0][3]
    verdict = (
        f"Goals (serving_default): batch-1 p50 {'met' if p50 <= GOAL_P50_MS else 'NOT met'} "
        f"({p50:.1f} ms); batch-{args.batch_size} throughput "
        f"{'met' if rate >= GOAL_IMAGES_PER_S else 'NOT met'} ({rate:.0f} images/s)."
    )
    lines += ["", verdict, ""]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
