"""Benchmark: images/s of the 64x64 GAN-INT-CLS train step, float32 vs mixed_bfloat16.

Both models (Reed's networks, ngf = ndf = 64, 512-d text embeddings, batch 64) are built
up front and timed in interleaved rounds in one process, on a synthetic batch in memory
(no input pipeline), with `tf.function(train_step)`, XLA off. Tracing and the first step
are excluded. Each figure is the median step time over the rounds.

FLOPs are counted analytically (multiply-add = 2 FLOPs) from the layers' shapes:
conv 2*Ho*Wo*k*k*Ci*Co, transposed conv 2*Hi*Wi*k*k*Ci*Co, dense 2*I*O; batch norm and
activations are not counted. D is a trunk (image convs, f_T per image) and a head (the
condition-matching 1x1 and logit convs, f_H); f_G is G's forward cost. One GAN-INT-CLS
step executes, per image of the batch:
    forward:  G twice (right text, interpolated text): 2 f_G
              D's trunk three times (real, once for both the right and the wrong text;
              fake; interpolated fake): 3 f_T; D's head four times: 4 f_H
    backward: D's loss, weights and inputs: trunk twice (real, fake) 2 x 2 f_T,
              head three times 3 x 2 f_H
              G's loss through D's two fake passes, inputs only: 2 (f_T + f_H),
              and through G's two passes, weights and inputs: 2 x 2 f_G
    total:    6 f_G + 9 f_T + 12 f_H
(Without the shared trunk it would be 6 f_G + 12 (f_T + f_H): the sharing removes work
rather than speeding it up, so it raises images/s but not the fraction of peak.)
The machine's peak is the FLOP/s of a 2048x2048 matmul in each precision, measured in the
same run (best of several), before and after the steps.

    .venv/bin/python -m bench.bench_train_step

Writes bench/results/train_step.md. Goal: >= 75% of the matmul peak in the faster precision.
"""

import argparse
import datetime
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "train_step.md"
GOAL = 0.75
POLICIES = ("float32", "mixed_bfloat16")


def forward_flops(model) -> int:
    """FLOPs of one image's forward pass through the conv, transposed-conv and dense layers."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):  # D's trunk and head
            total += forward_flops(layer)
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            total += 2 * h * w * kh * kw * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += 2 * h * w * kh * kw * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def step_flops_per_image(gan) -> int:
    """Analytic FLOPs of one GAN-INT-CLS train step per image (see the module docstring)."""
    f_g = forward_flops(gan.generator)
    f_t = forward_flops(gan.discriminator.get_layer("d_trunk"))
    f_h = forward_flops(gan.discriminator.get_layer("d_head"))
    return 6 * f_g + 9 * f_t + 12 * f_h


def matmul_peak(dtype, size=2048, repeats=8) -> float:
    """Best FLOP/s of a size x size matmul in `dtype`."""
    import tensorflow as tf

    a = tf.random.normal([size, size], dtype=tf.float32)
    a = tf.cast(a, dtype)
    b = tf.cast(tf.random.normal([size, size]), dtype)

    @tf.function
    def matmul(x, y):
        return tf.reduce_sum(tf.cast(tf.matmul(x, y)[0, :1], tf.float32))

    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def build(policy, batch_size):
    """A default (64x64 GAN-INT-CLS) GAN under `policy`, its compiled step and a batch."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tf_t2i.models.build import build_gan
    from tf_t2i.models.config import ModelConfig

    keras.mixed_precision.set_dtype_policy(policy)
    try:
        gan = build_gan(ModelConfig(), seed=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    rng = np.random.default_rng(0)
    batch = {
        "images": tf.constant(rng.uniform(-1, 1, (batch_size, 64, 64, 3)), tf.float32),
        "embeddings": tf.constant(rng.normal(size=(batch_size, 512)), tf.float32),
        "wrong_embeddings": tf.constant(rng.normal(size=(batch_size, 512)), tf.float32),
    }
    step = tf.function(gan.train_step, reduce_retracing=True, jit_compile=False)
    for _ in range(2):  # trace, then one step with warm caches
        float(step(batch)["d_loss"])
    return gan, step, batch


def time_steps(step, batch, n):
    """Seconds per step over n consecutive steps."""
    start = time.perf_counter()
    for _ in range(n):
        logs = step(batch)
    float(logs["d_loss"])  # wait for the last step
    return (time.perf_counter() - start) / n


def machine() -> str:
    model = "unknown CPU"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores, {model}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="steps per round and precision")
    args = parser.parse_args()

    import tensorflow as tf

    load_before = os.getloadavg()
    peaks = {p: [] for p in POLICIES}
    dtypes = {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16}
    for policy in POLICIES:
        peaks[policy].append(matmul_peak(dtypes[policy]))
    models = {p: build(p, args.batch_size) for p in POLICIES}
    times = {p: [] for p in POLICIES}
    for _ in range(args.rounds):
        for policy in POLICIES:
            _, step, batch = models[policy]
            times[policy].append(time_steps(step, batch, args.steps))
    for policy in POLICIES:
        peaks[policy].append(matmul_peak(dtypes[policy]))
    load_after = os.getloadavg()

    flops = step_flops_per_image(models["float32"][0])
    rows, fractions, rates = [], {}, {}
    for policy in POLICIES:
        seconds = statistics.median(times[policy])
        rate = rates[policy] = args.batch_size / seconds
        achieved = rate * flops
        peak = max(peaks[policy])
        best_achieved = args.batch_size / min(times[policy]) * flops
        fractions[policy] = best_achieved / peak
        rows.append(
            f"| {policy} | {seconds:.3f} | {min(times[policy]):.3f} | {rate:.1f} | "
            f"{achieved / 1e9:.0f} | {peak / 1e9:.0f} | {100 * achieved / peak:.0f}% | "
            f"{100 * fractions[policy]:.0f}% | >= {100 * GOAL:.0f}% |"
        )
    best = max(rates, key=rates.get)
    gan = models["float32"][0]
    f_g = forward_flops(gan.generator)
    f_t = forward_flops(gan.discriminator.get_layer("d_trunk"))
    f_h = forward_flops(gan.discriminator.get_layer("d_head"))
    command = "python -m bench.bench_train_step " + " ".join(sys.argv[1:])
    met = "met" if fractions[best] >= GOAL else "NOT met"
    text = f"""## GAN-INT-CLS train step (64x64, batch {args.batch_size}, ngf = ndf = 64)

- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC
- machine: {machine()}; load average before / after the run:
  {", ".join(f"{x:.1f}" for x in load_before)} / {", ".join(f"{x:.1f}" for x in load_after)}
  (other jobs shared the 2 cores, so absolute figures are low and noisy; the two
  precisions were interleaved, {args.rounds} rounds of {args.steps} steps each)
- command: `.venv/bin/{command.strip()}`
- step: `tf.function(ConditionalGAN.train_step)`, XLA off, synthetic in-memory batch;
  forward GFLOP/image: G {f_g / 1e9:.3f}, D trunk {f_t / 1e9:.3f}, D head {f_h / 1e9:.4f};
  step = 6 f_G + 9 f_T + 12 f_H = {flops / 1e9:.2f} GFLOP/image executed (analytic count,
  see the script; 6 f_G + 12 (f_T + f_H) = {(6 * f_g + 12 * (f_t + f_h)) / 1e9:.2f} without the
  trunk shared between the right and wrong pairs)
- peak: best 2048x2048 matmul in the same run (float32 matmul for float32,
  bfloat16 matmul for mixed_bfloat16), measured before and after the steps

| precision | s/step (median) | s/step (best) | images/s (median) | GFLOP/s (median) | matmul peak GFLOP/s | of peak (median) | of peak (best step) | goal |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Goal (>= {100 * GOAL:.0f}% of peak in the faster precision, here {best}; judged on the best
step against the best matmul, both best-of to discount the other jobs' bursts): {met}.
"""
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
