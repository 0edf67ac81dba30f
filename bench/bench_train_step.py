"""Benchmark: images/s of the 64x64 GAN-INT-CLS train step, float32 vs mixed_bfloat16.

The models (Reed's networks, ngf = ndf = 64, 512-d text embeddings, batch 64), one per
precision and `--kernels` setting (model.kernels: the project's CPU kernels or stock
Keras, models/kernels.py), are built up front and timed in interleaved rounds in one
process, on a synthetic batch in memory (no input pipeline), with
`tf.function(train_step)`, XLA off. Tracing and the first step are excluded. Each figure
is the median step time over the rounds. It runs unchanged on a GPU machine (`auto`
kernels are then stock) and names the device it ran on.

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
    .venv/bin/python -m bench.bench_train_step --kernels cpu,stock   # paired, kernels.md

Writes bench/results/train_step.md (one kernel setting) or bench/results/kernels.md
(several, with the paired ratio of their step times per round and precision).
Goal: >= 75% of the matmul peak in the faster precision.
"""

import argparse
import datetime
import os
import pathlib
import statistics
import sys
import time

from bench.machine import cpu_model, machine, make_matmul, matmul_peak, synthetic_batch

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
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


def device() -> str:
    """The device the step runs on: the first GPU's (or TPU's) name, else the CPU model."""
    import tensorflow as tf

    for kind in ("GPU", "TPU"):
        found = tf.config.list_physical_devices(kind)
        if found:
            details = tf.config.experimental.get_device_details(found[0])
            return f"{kind} ({details.get('device_name', found[0].name)}) x {len(found)}"
    return f"CPU ({cpu_model()}, {len(os.sched_getaffinity(0))} cores)"


def build(policy, kernels, batch_size):
    """A default (64x64 GAN-INT-CLS) GAN under `policy` with `kernels` (model.kernels),
    its compiled step and a batch."""
    import keras
    import tensorflow as tf

    from tf_t2i.models.build import build_gan
    from tf_t2i.models.config import ModelConfig

    keras.mixed_precision.set_dtype_policy(policy)
    try:
        gan = build_gan(ModelConfig(kernels=kernels), seed=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    batch = synthetic_batch(batch_size, 64)
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


def _quartiles(values):
    """Median and quartiles of `values`, as "m (q1-q3)"."""
    q1, m, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return f"{m:.3f} ({q1:.3f}-{q3:.3f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="steps per round and model")
    parser.add_argument(
        "--kernels",
        default="auto",
        help="comma-separated model.kernels settings to time side by side (auto, cpu, stock)",
    )
    parser.add_argument(
        "--precisions", default=",".join(POLICIES), help="comma-separated dtype policies"
    )
    parser.add_argument(
        "--inter-op", type=int, default=0, help="TF inter-op threads (0: TensorFlow's default)"
    )
    parser.add_argument(
        "--intra-op", type=int, default=0, help="TF intra-op threads (0: TensorFlow's default)"
    )
    args = parser.parse_args()
    kernel_settings = args.kernels.split(",")
    policies = args.precisions.split(",")

    import tensorflow as tf

    from tf_t2i.models.kernels import resolve_kernels

    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    if args.intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)

    load_before = os.getloadavg()
    dtypes = {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}
    matmuls = {p: make_matmul(dtypes[p]) for p in policies}
    runs = [(k, p) for k in kernel_settings for p in policies]
    models = {run: build(run[1], run[0], args.batch_size) for run in runs}
    flops = step_flops_per_image(models[runs[0]][0]) * args.batch_size  # per step
    # Per round and model: the matmul peak, then the steps, so all see the same load.
    wall_ratios, cpu_ratios, seconds, cpu_seconds, peaks = ({r: [] for r in runs} for _ in range(5))
    for _ in range(args.rounds):
        for run in runs:
            peak_wall, peak_cpu = matmul_peak(*matmuls[run[1]])
            _, step, batch = models[run]
            wall, cpu = time_steps(step, batch, args.steps)
            seconds[run].append(wall)
            cpu_seconds[run].append(cpu)
            peaks[run].append(peak_wall)
            wall_ratios[run].append(flops / wall / peak_wall)
            cpu_ratios[run].append(flops / cpu / peak_cpu)
    load_after = os.getloadavg()

    rows, rates = [], {}
    med = statistics.median
    for run in runs:
        rate = rates[run] = args.batch_size / med(seconds[run])
        rows.append(
            f"| {run[0]} ({resolve_kernels(run[0])}) | {run[1]} | {med(seconds[run]):.3f} | "
            f"{min(seconds[run]):.3f} | {rate:.1f} | {rate * flops / args.batch_size / 1e9:.0f} | "
            f"{med(peaks[run]) / 1e9:.0f} | {100 * med(wall_ratios[run]):.0f}% | "
            f"{100 * med(cpu_ratios[run]):.0f}% | >= {100 * GOAL:.0f}% |"
        )
    paired = []
    for kernels in kernel_settings[1:]:
        for policy in policies:
            cells = []
            for times in (seconds, cpu_seconds):
                base, other = times[(kernel_settings[0], policy)], times[(kernels, policy)]
                cells.append(_quartiles([b / a for a, b in zip(base, other, strict=True)]))
            paired.append(f"| {kernels} / {kernel_settings[0]} | {policy} | {' | '.join(cells)} |")
    flops /= args.batch_size
    best = max(rates, key=rates.get)
    gan = models[runs[0]][0]
    f_g = forward_flops(gan.generator)
    f_t = forward_flops(gan.discriminator.get_layer("d_trunk"))
    f_h = forward_flops(gan.discriminator.get_layer("d_head"))
    command = "python -m bench.bench_train_step " + " ".join(sys.argv[1:])
    fraction = med(cpu_ratios[best])
    met = "met" if fraction >= GOAL else "NOT met"
    paired_text = (
        f"""
Paired step-time ratio per round (same round, same load; median and quartiles over
{args.rounds} rounds; above 1 means slower than `{kernel_settings[0]}`):

| kernels | precision | s/step ratio (wall) | s/step ratio (process CPU time) |
|---|---|---:|---:|
{chr(10).join(paired)}
"""
        if paired
        else ""
    )
    text = f"""## GAN-INT-CLS train step (64x64, batch {args.batch_size}, ngf = ndf = 64)

- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC
- device: {device()}
- machine: {machine()}; load average before / after the run:
  {", ".join(f"{x:.1f}" for x in load_before)} / {", ".join(f"{x:.1f}" for x in load_after)}
  (other jobs may share the cores, so absolute figures can be low and noisy; the models
  were interleaved, {args.rounds} rounds of {args.steps} steps each)
- command: `.venv/bin/{command.strip()}`
- step: `tf.function(ConditionalGAN.train_step)`, XLA off, synthetic in-memory batch;
  forward GFLOP/image: G {f_g / 1e9:.3f}, D trunk {f_t / 1e9:.3f}, D head {f_h / 1e9:.4f};
  step = 6 f_G + 9 f_T + 12 f_H = {flops / 1e9:.2f} GFLOP/image executed (analytic count,
  see the script; 6 f_G + 12 (f_T + f_H) = {(6 * f_g + 12 * (f_t + f_h)) / 1e9:.2f} without the
  trunk shared between the right and wrong pairs)
- peak: best of 6 runs of two independent 2048x2048 matmuls (float32 for float32,
  bfloat16 for mixed_bfloat16) measured right before each round's steps, so that all see
  the same load. "of peak (wall)" divides the step's FLOP/s by the matmul's, both by wall
  clock; "of peak (CPU)" divides FLOP per second of process CPU time, which discounts the
  time the other jobs held the cores (the fairer figure on a shared machine). Medians over
  the rounds.

| kernels (resolved) | precision | s/step (median) | s/step (best) | images/s | GFLOP/s | matmul peak GFLOP/s | of peak (wall) | of peak (CPU) | goal |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
{paired_text}
Goal (>= {100 * GOAL:.0f}% of peak in the fastest run, here {best[1]} with {best[0]} kernels,
judged on the CPU-time ratio {100 * fraction:.0f}%): {met}. On a loaded machine these ratios
are rough: rerun on a quiet machine for a firm verdict.
"""
    result = RESULTS / ("train_step.md" if len(kernel_settings) == 1 else "kernels.md")
    result.parent.mkdir(parents=True, exist_ok=True)
    result.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
