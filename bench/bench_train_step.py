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
The machine's peak is the FLOP/s of two independent 2048x2048 matmuls in each precision
(two, so that both cores work under any --intra-op), measured in the same run (best of
several) right before each round's steps.

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

from bench.machine import machine

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


def make_matmul(dtype, size=2048):
    """Two independent compiled size x size matmuls in `dtype`, and their FLOPs.

    Two, so that the peak is the machine's under any threading: with one intra-op thread
    a single matmul runs on one core, two run side by side on two. With TensorFlow's
    default threading two give the same FLOP/s as one (measured here: 399 against 406
    GFLOP/s in bfloat16).
    """
    import tensorflow as tf

    a = tf.cast(tf.random.normal([size, size]), dtype)
    b = tf.cast(tf.random.normal([size, size]), dtype)

    @tf.function
    def matmul():
        return tf.cast(tf.matmul(a, b)[0, 0], tf.float32) + tf.cast(
            tf.matmul(b, a)[0, 0], tf.float32
        )

    matmul().numpy()
    return matmul, 2 * 2 * size**3


def matmul_peak(matmul, flops, repeats=6):
    """Best FLOP/s of the matmul over `repeats` runs, by wall clock and by process CPU time."""
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        matmul().numpy()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return flops / best_wall, flops / best_cpu


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
    """Wall and process-CPU seconds per step over n consecutive steps."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        logs = step(batch)
    float(logs["d_loss"])  # wait for the last step
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="steps per round and precision")
    parser.add_argument(
        "--inter-op", type=int, default=0, help="TF inter-op threads (0: TensorFlow's default)"
    )
    parser.add_argument(
        "--intra-op", type=int, default=0, help="TF intra-op threads (0: TensorFlow's default)"
    )
    args = parser.parse_args()

    import tensorflow as tf

    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    if args.intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)

    load_before = os.getloadavg()
    dtypes = {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16}
    matmuls = {p: make_matmul(dtypes[p]) for p in POLICIES}
    models = {p: build(p, args.batch_size) for p in POLICIES}
    flops = step_flops_per_image(models["float32"][0]) * args.batch_size  # per step
    # Per round and precision: the matmul peak, then the steps, so both see the same load.
    wall_ratios, cpu_ratios, seconds, peaks = ({p: [] for p in POLICIES} for _ in range(4))
    for _ in range(args.rounds):
        for policy in POLICIES:
            peak_wall, peak_cpu = matmul_peak(*matmuls[policy])
            _, step, batch = models[policy]
            wall, cpu = time_steps(step, batch, args.steps)
            seconds[policy].append(wall)
            peaks[policy].append(peak_wall)
            wall_ratios[policy].append(flops / wall / peak_wall)
            cpu_ratios[policy].append(flops / cpu / peak_cpu)
    load_after = os.getloadavg()

    rows, rates = [], {}
    med = statistics.median
    for policy in POLICIES:
        rate = rates[policy] = args.batch_size / med(seconds[policy])
        rows.append(
            f"| {policy} | {med(seconds[policy]):.3f} | {min(seconds[policy]):.3f} | "
            f"{rate:.1f} | {rate * flops / args.batch_size / 1e9:.0f} | "
            f"{med(peaks[policy]) / 1e9:.0f} | {100 * med(wall_ratios[policy]):.0f}% | "
            f"{100 * med(cpu_ratios[policy]):.0f}% | >= {100 * GOAL:.0f}% |"
        )
    flops /= args.batch_size
    best = max(rates, key=rates.get)
    gan = models["float32"][0]
    f_g = forward_flops(gan.generator)
    f_t = forward_flops(gan.discriminator.get_layer("d_trunk"))
    f_h = forward_flops(gan.discriminator.get_layer("d_head"))
    command = "python -m bench.bench_train_step " + " ".join(sys.argv[1:])
    fraction = med(cpu_ratios[best])
    met = "met" if fraction >= GOAL else "NOT met"
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
- peak: best of 6 runs of two independent 2048x2048 matmuls (float32 for float32,
  bfloat16 for mixed_bfloat16) measured right before each round's steps, so that both see the same load. "of peak
  (wall)" divides the step's FLOP/s by the matmul's, both by wall clock; "of peak (CPU)"
  divides FLOP per second of process CPU time, which discounts the time the other jobs
  held the cores (the fairer figure on a shared machine). Medians over the rounds.

| precision | s/step (median) | s/step (best) | images/s | GFLOP/s | matmul peak GFLOP/s | of peak (wall) | of peak (CPU) | goal |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Goal (>= {100 * GOAL:.0f}% of peak in the faster precision, here {best}, judged on the
CPU-time ratio {100 * fraction:.0f}%): {met}. On a loaded machine these ratios are rough:
rerun on a quiet machine for a firm verdict.
"""
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
