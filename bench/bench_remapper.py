"""Benchmark: the train step with grappler's remapper failing (Keras's LeakyReLU in D) or
running (models.layers.LeakyReLU, whose gradient reads the activation's output).

With Keras's LeakyReLU after D's first conv (which has a bias), the remapper fuses
Conv2D + BiasAdd + LeakyRelu while the LeakyRelu gradient still reads the BiasAdd, fails
("remapper failed: ... fanout ... LeakyReluGrad exist for missing node ... BiasAdd") and
leaves the whole step's graph unfused. Both variants are built in one process and timed
in alternating rounds (paired), on the default job's model (the shapes recipe: 32x32,
ngf = ndf = 32, projection, minibatch spread, mode seeking; batch 32) on a synthetic
batch, with the matmul peak printed beside them. C++ stderr is captured while each step
is traced and optimised, to count the remapper's failures:

    .venv/bin/python -m bench.bench_remapper --rounds 10 --steps 5

Prints a markdown section (paste it into bench/results/kernels.md).
"""

import argparse
import os
import statistics
import sys

from bench.bench_train_step import device, time_steps
from bench.machine import make_matmul, matmul_peak, synthetic_batch


def build_variant(variant, policy, batch_size):
    """The default job's GAN with D's trunk activations from Keras ("keras") or the project
    ("project"), its compiled step and a batch; and the remapper failures while compiling."""
    import dataclasses
    import tempfile

    import keras
    import tensorflow as tf

    from tf_t2i.config import load_config
    from tf_t2i.models import discriminator
    from tf_t2i.models.build import build_gan

    # the shapes data's 48 colour x kind classes and USE-m3's 512-d embeddings
    config = dataclasses.replace(load_config("shapes").model, num_classes=48, embedding_dim=512)
    original = discriminator.LeakyReLU
    if variant == "keras":
        discriminator.LeakyReLU = keras.layers.LeakyReLU
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        gan = build_gan(config, seed=0)
    finally:
        discriminator.LeakyReLU = original
        keras.mixed_precision.set_dtype_policy("float32")
    batch = synthetic_batch(batch_size, config.image_size, config.embedding_dim, num_classes=48)
    step = tf.function(gan.train_step, reduce_retracing=True, jit_compile=False)
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            for _ in range(2):  # trace, then one step with warm caches
                float(step(batch)["d_loss"])
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        failures = log.read().decode(errors="replace").count("remapper failed")
    return step, batch, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--precision", default="mixed_bfloat16")
    args = parser.parse_args()

    import tensorflow as tf

    variants = ("keras", "project")
    models = {v: build_variant(v, args.precision, args.batch_size) for v in variants}
    matmul = make_matmul(tf.bfloat16 if "bfloat16" in args.precision else tf.float32)
    seconds, cpu, peaks = {v: [] for v in variants}, {v: [] for v in variants}, []
    for _ in range(args.rounds):
        peaks.append(matmul_peak(*matmul)[0])
        for variant in variants:
            step, batch, _ = models[variant]
            wall, cpu_seconds = time_steps(step, batch, args.steps)
            seconds[variant].append(wall)
            cpu[variant].append(cpu_seconds)
    med = statistics.median

    def paired(times):
        ratios = [b / a for a, b in zip(times["keras"], times["project"], strict=True)]
        q1, mid, q3 = statistics.quantiles(ratios, n=4)
        return f"{mid:.3f} (quartiles {q1:.3f}-{q3:.3f})"

    names = {
        "keras": "keras.layers.LeakyReLU (before)",
        "project": "models.layers.LeakyReLU (after)",
    }
    rows = "\n".join(
        f"| {names[v]} | {models[v][2]} | {med(seconds[v]):.3f} | {min(seconds[v]):.3f} | "
        f"{med(cpu[v]):.3f} |"
        for v in variants
    )
    print(f"""## The remapper fix: D's LeakyReLU gradient from its output

- device: {device()}; load average {", ".join(f"{x:.1f}" for x in os.getloadavg())}
- command: `.venv/bin/python -m bench.bench_remapper {" ".join(sys.argv[1:])}`
- the shapes recipe's model, {args.precision}, batch {args.batch_size}, {args.rounds} alternating rounds of {args.steps} steps;
  2048x2048 matmul: {med(peaks) / 1e9:.0f} GFLOP/s (median over the rounds)

| D's trunk activation | "remapper failed" lines | s/step (median) | s/step (best) | CPU s/step (median) |
|---|---:|---:|---:|---:|
{rows}

Paired ratio after / before, wall clock: {paired(seconds)}; process CPU time: {paired(cpu)}.
""")


if __name__ == "__main__":
    main()
