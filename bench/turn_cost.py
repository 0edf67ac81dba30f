"""Benchmark: what G's turn (model.style_rotation) costs in the default job's train step.

Three GANs of the shapes recipe (32x32, batch 32, mixed_bfloat16, the CPU kernels) are
built in one process: with the turn as the CPU kernels run it (`CpuNoiseRotation`: the
XLA-compiled resampling with its gradients written out), with the turn by the plain
`rotate_images` (TensorFlow's own gradients; what the stock kernels run), and without
the turn. Their `tf.function(train_step)` steps are timed in interleaved rounds on one
synthetic in-memory batch (no input pipeline), so that all three see the same load; each
figure is the median over the rounds. A step runs G three times (x^, GAN-INT's
interpolated caption, mode seeking's second z), so the turn runs three times forward
and three times backward.

The second table times one turn alone (forward, and the gradients for the images and
the angles) at 32x32 and 64x64, batch 32, float32 (G's turn runs in float32 under every
precision).

    .venv/bin/python -m bench.turn_cost [--rounds 6] [--steps 20]

Writes bench/results/turn_cost.md.
"""

import argparse
import dataclasses
import pathlib
import statistics
import time

from bench.machine import machine, matmul_gflops, section_header, synthetic_batch

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
VARIANTS = ("compiled turn", "plain turn", "no turn")


def build_step(variant: str, batch_size: int = 32):
    """The recipe's GAN for `variant`, its traced step and a synthetic batch."""
    import keras

    from tf_t2i.config import load_config
    from tf_t2i.models.build import build_gan

    config = load_config("shapes").model
    rotation = 0.0 if variant == "no turn" else config.style_rotation
    model_config = dataclasses.replace(
        config, style_rotation=rotation, num_classes=48, embedding_dim=512, kernels="cpu"
    )
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        gan = build_gan(model_config, seed=0)
        return _traced_step(gan, variant, model_config.image_size, batch_size)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _traced_step(gan, variant, size, batch_size):
    import tensorflow as tf

    from tf_t2i.models import layers

    batch = synthetic_batch(batch_size, size, num_classes=48)
    step = tf.function(gan.train_step, reduce_retracing=True, jit_compile=False)
    original = layers.CpuNoiseRotation._turn
    if variant == "plain turn":  # traced once with the plain resampling, kept in the graph
        layers.CpuNoiseRotation._turn = lambda self, training: layers.rotate_images
    try:
        for _ in range(3):  # trace, then warm caches
            float(step(batch)["d_loss"])
    finally:
        layers.CpuNoiseRotation._turn = original
    return step, batch


def time_turn(size: int, rounds: int, repeats: int = 100) -> dict:
    """Median ms of one turn's forward, and of its gradients, compiled and plain."""
    import tensorflow as tf

    from tf_t2i.models import layers

    images = tf.random.uniform([32, size, size, 3], -1, 1, seed=1)
    angles = tf.random.uniform([32], -0.25, 0.25, seed=2)
    upstream = tf.random.normal([32, size, size, 3], seed=3)

    def both(turn):
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                tape.watch([images, angles])
                loss = tf.reduce_sum(turn(images, angles) * upstream)
            return tape.gradient(loss, [images, angles])

        return run

    calls = {
        "compiled forward": lambda: layers._rotate_compiled(images, angles),
        "compiled gradients": lambda: layers._rotation_gradients(upstream, images, angles)[0],
        "compiled forward + backward": both(layers.rotate_images_compiled),
        "plain forward + backward": both(layers.rotate_images),
    }
    times = {name: [] for name in calls}
    for call in calls.values():
        call()
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(repeats):
                out = call()
            (out[0] if isinstance(out, list) else out).numpy()
            times[name].append(1e3 * (time.perf_counter() - start) / repeats)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20, help="steps per round and variant")
    args = parser.parse_args()

    gflops_before = matmul_gflops()
    steps = {variant: build_step(variant) for variant in VARIANTS}
    seconds = {variant: [] for variant in VARIANTS}
    for _ in range(args.rounds):
        for variant, (step, batch) in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                logs = step(batch)
            float(logs["d_loss"])
            seconds[variant].append((time.perf_counter() - start) / args.steps)
    turns = {size: time_turn(size, args.rounds) for size in (32, 64)}
    gflops_after = matmul_gflops()

    base = statistics.median(seconds["no turn"])
    lines = section_header(
        "G's turn in the default job's train step",
        "bench.turn_cost",
        detail=f"{machine()}, 2048x2048 bf16 matmul {gflops_before:.0f} / {gflops_after:.0f} "
        "GFLOP/s before / after (875 at full speed)",
    )
    lines += [
        f"The shapes recipe's train step (32x32, batch 32, mixed_bfloat16, CPU kernels), "
        f"{args.rounds} interleaved rounds of {args.steps} steps; median ms per step.",
        "",
        "| variant | ms/step (median) | ms/step (best) | vs no turn |",
        "|---|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        median = statistics.median(seconds[variant])
        lines.append(
            f"| {variant} | {1e3 * median:.1f} | {1e3 * min(seconds[variant]):.1f} "
            f"| {100 * (median / base - 1):+.1f}% |"
        )
    lines += [
        "",
        "One turn of 32 images (float32), median ms per call over the rounds (each call "
        "includes its dispatch from Python):",
        "",
        "| size | " + " | ".join(turns[32]) + " |",
        "|---|" + "---:|" * len(turns[32]),
    ]
    for size, row in turns.items():
        lines.append(f"| {size}x{size} | " + " | ".join(f"{ms:.2f}" for ms in row.values()) + " |")
    lines.append("")
    text = "\n".join(lines)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "turn_cost.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
