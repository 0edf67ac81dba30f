"""Choosing the Keras mixed-precision policy (`--precision auto`)."""

from __future__ import annotations

import json
import pathlib
import time

from tf_t2i.errors import T2IError

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# CPU flags meaning native bfloat16 arithmetic (AVX-512 BF16, Intel AMX).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo: str | pathlib.Path = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes in bfloat16 natively (flags in /proc/cpuinfo)."""
    try:
        text = pathlib.Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags") or line.startswith("Features"):
            flags = set(line.partition(":")[2].split())
            return any(flag in flags for flag in BF16_CPU_FLAGS)
    return False


def resolve_precision(
    name: str, strategy=None, *, cpuinfo: str | pathlib.Path = "/proc/cpuinfo"
) -> str:
    """Turns a precision name into a Keras dtype policy name.

    `auto` picks mixed_bfloat16 on TPU, mixed_float16 on GPU, and on CPU
    mixed_bfloat16 where the CPU has native bf16 and a measured convolution step is
    faster in it, float32 otherwise. Native bf16 is not always faster: on an AMD EPYC
    (Zen 5) the probe ran 1.9x faster than in float32, on the project's Intel Xeon
    (avx512_bf16, no AMX) 1.9x slower (see cpu_bf16_is_faster). float16 on a CPU is
    emulated (18x slower here), so `auto` never picks it there. The choice depends on the
    device only, never on `model.kernels` (models/kernels.py), and vice versa.

    Args:
        name: auto | float32 | mixed_float16 | mixed_bfloat16.
        strategy: the tf.distribute strategy in use (TPU detection).
        cpuinfo: the file to read CPU flags from.

    Returns:
        A policy name for `keras.mixed_precision.set_global_policy`.
    """
    if name in POLICIES:
        return name
    if name != "auto":
        raise T2IError(f"unknown precision {name!r}; choose auto or one of {', '.join(POLICIES)}")
    import tensorflow as tf

    if strategy is not None and isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    if not cpu_has_native_bf16(cpuinfo):
        return "float32"
    return "mixed_bfloat16" if cpu_bf16_is_faster() else "float32"


def cpu_bf16_is_faster(cache_file: pathlib.Path | None = None, probe=None) -> bool:
    """Whether a conv's forward and backward run faster in bfloat16 than float32 here.

    Measured once per CPU model, core count and TensorFlow version (about a second) and
    remembered in the cache (`precision.json`), since the answer depends on the CPU
    (AMX or not) and on which kernels the TensorFlow build has.

    Args:
        cache_file: where to remember the answer; default the tf_t2i cache.
        probe: dtype name -> seconds (tests inject one); default conv_probe_seconds.
    """
    import os

    import tensorflow as tf

    from tf_t2i.cache import cache_dir

    # "probe 2": the probe runs the networks' own conv (answers of the first probe, on
    # TensorFlow's bf16 filter-gradient kernel, no longer hold)
    key = f"{cpu_model()}|{len(os.sched_getaffinity(0))} cores|tf {tf.__version__}|probe 2"
    cache_file = cache_file or cache_dir() / "precision.json"
    try:
        known = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return bool(known[key]["bf16_faster"])
    probe = probe or conv_probe_seconds
    seconds = {name: probe(name) for name in ("float32", "bfloat16")}
    known[key] = {"seconds": seconds, "bf16_faster": seconds["bfloat16"] < seconds["float32"]}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(known, indent=1))
        tmp.replace(cache_file)
    except OSError:
        pass  # a read-only cache only costs the probe next time
    return known[key]["bf16_faster"]


def conv_probe_seconds(dtype: str, repeats: int = 5) -> float:
    """Best time of a DCGAN-sized conv's forward, input and weight gradients in `dtype`.

    The conv is D's middle block at 64x64, batch 32: 16x16x128 -> 8x8x256, 4x4 stride 2,
    run as the networks run it (cpu_conv.conv_down, with the filter gradient that
    filter_gradient_method picks), so that the probe times the kernels training will use.
    """
    import tensorflow as tf

    from tf_t2i.models.cpu_conv import conv_down, filter_gradient_method

    x = tf.cast(tf.random.stateless_normal([32, 16, 16, 128], seed=[0, 0]), dtype)
    w = tf.cast(tf.random.stateless_normal([4, 4, 128, 256], seed=[0, 1]), dtype)
    method = filter_gradient_method(16, dtype)

    @tf.function
    def step(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = conv_down(x, w, method)
            total = tf.reduce_sum(tf.cast(y, tf.float32))
        return tape.gradient(total, [x, w])

    step(x, w)[1].numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step(x, w)[1].numpy()
        best = min(best, time.perf_counter() - start)
    return best


def cpu_model(cpuinfo: str | pathlib.Path = "/proc/cpuinfo") -> str:
    """The CPU's model name from /proc/cpuinfo (or what the platform says)."""
    import platform

    try:
        for line in pathlib.Path(cpuinfo).read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def set_precision(policy: str) -> None:
    """Sets the global Keras dtype policy (before the models are built)."""
    import keras

    keras.mixed_precision.set_global_policy(policy)
