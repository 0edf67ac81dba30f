"""The machine line every benchmark section records, and the host's speed.

The issue's time budgets ("after 30 minutes") mean this machine at full speed: a
2048x2048 bfloat16 matmul at about 875 GFLOP/s. The host is sometimes throttled to
half of that; a budget is then scaled by the measured ratio (`scaled_seconds`) and
both figures are reported.
"""

import os
import time

from tf_t2i.training.precision import cpu_model

__all__ = [
    "FULL_SPEED_GFLOPS",
    "cpu_model",
    "machine",
    "make_matmul",
    "matmul_gflops",
    "matmul_peak",
    "scaled_seconds",
    "synthetic_batch",
]

FULL_SPEED_GFLOPS = 875.0  # 2048x2048 bf16 matmul on this 2-core machine, unthrottled


def machine() -> str:
    """'N cores, CPU model'."""
    return f"{os.cpu_count()} cores, {cpu_model()}"


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


def matmul_gflops() -> float:
    """GFLOP/s of the 2048x2048 bfloat16 matmul (make_matmul, best wall time of matmul_peak)."""
    import tensorflow as tf

    return matmul_peak(*make_matmul(tf.bfloat16))[0] / 1e9


def synthetic_batch(batch_size: int, size: int, dim: int = 512, num_classes: int = 0) -> dict:
    """A fixed training batch of random images and embeddings (and labels if num_classes).

    What the train-step benchmarks time the step on: seeded, the same every call.
    """
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    batch = {
        "images": tf.constant(rng.uniform(-1, 1, (batch_size, size, size, 3)), tf.float32),
        "embeddings": tf.constant(rng.normal(size=(batch_size, dim)), tf.float32),
        "wrong_embeddings": tf.constant(rng.normal(size=(batch_size, dim)), tf.float32),
    }
    if num_classes:
        batch["labels"] = tf.constant(rng.integers(0, num_classes, batch_size), tf.int64)
    return batch


def scaled_seconds(seconds: float, gflops: float) -> float:
    """A budget at full speed -> the same amount of work on a host measured at `gflops`.

    Never shorter than the budget itself: a host faster than the reference keeps it.
    """
    return seconds * max(1.0, FULL_SPEED_GFLOPS / gflops)


def section_header(title: str, module: str, argv=None, detail: str = "") -> list[str]:
    """A results section's first lines: its title, the date and commit (and `detail`),
    and the command that reruns `module` with `argv` (default: this process's)."""
    import datetime
    import shlex
    import subprocess
    import sys

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    stamp = f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, commit {commit}"
    command = shlex.join(["python", "-m", module, *(argv or sys.argv[1:])])
    return [
        f"## {title}",
        "",
        f"{stamp}{', ' + detail if detail else ''}.",
        "",
        f"    {command}",
        "",
    ]
