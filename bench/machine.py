"""The machine line every benchmark section records, and the host's speed.

The issue's time budgets ("after 30 minutes") mean this machine at full speed: a
2048x2048 bfloat16 matmul at about 875 GFLOP/s. The host is sometimes throttled to
half of that; a budget is then scaled by the measured ratio (`scaled_seconds`) and
both figures are reported.
"""

import os
import time

from tf_t2i.training.precision import cpu_model

__all__ = ["FULL_SPEED_GFLOPS", "cpu_model", "machine", "matmul_gflops", "scaled_seconds"]

FULL_SPEED_GFLOPS = 875.0  # 2048x2048 bf16 matmul on this 2-core machine, unthrottled


def machine() -> str:
    """'N cores, CPU model'."""
    return f"{os.cpu_count()} cores, {cpu_model()}"


def matmul_gflops(size: int = 2048, repeats: int = 20) -> float:
    """GFLOP/s of a size x size bfloat16 matmul (best of three rounds of `repeats`)."""
    import tensorflow as tf

    a = tf.random.normal([size, size], dtype=tf.bfloat16)
    b = tf.random.normal([size, size], dtype=tf.bfloat16)
    for _ in range(3):  # warm-up: thread pools, kernel selection
        tf.matmul(a, b).numpy()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            c = tf.matmul(a, b)
        c.numpy()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * size**3 / best / 1e9


def scaled_seconds(seconds: float, gflops: float) -> float:
    """A budget at full speed -> the same amount of work on a host measured at `gflops`.

    Never shorter than the budget itself: a host faster than the reference keeps it.
    """
    return seconds * max(1.0, FULL_SPEED_GFLOPS / gflops)
