"""Where the 64x64 GAN step's time goes: each conv of G and D alone, against the matmul peak.

The train step is almost all convolutions: every 4x4 stride-2 conv of D and transposed
conv of G runs forward, as an input gradient and as a filter gradient. This times each
of those kernels alone (TensorFlow's CPU kernels, float32, batch 64, best of several
runs) and reports its FLOP/s as a fraction of a 2048x2048 matmul in the same dtype
measured in the same run. The FLOP-weighted mean over the step's kernels is the ceiling
that the whole step can reach with these kernels, whatever the Python around them does.
`--dtype bfloat16` times the kernels that mixed_bfloat16 runs.

Each layer also gets a fourth row: the filter gradient as one dilated forward conv
(tf_t2i.models.cpu_conv.filter_gradient). The networks use it where
`filter_gradient_method` says so (marked "used"). The second ceiling counts the kernels
the library actually runs.

    python -m bench.bench_conv_layers [--batch-size 64] [--repeats 8] [--dtype bfloat16]

Writes bench/results/conv_layers.md (float32) or conv_layers_bfloat16.md.
"""

import argparse
import datetime
import os
import pathlib
import sys
import time

from bench.machine import machine

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# (network, input side, input channels, output channels): ngf = ndf = 64 at 64x64
D_CONVS = [("D", 64, 3, 64), ("D", 32, 64, 128), ("D", 16, 128, 256), ("D", 8, 256, 512)]
G_CONVS = [("G", 4, 512, 256), ("G", 8, 256, 128), ("G", 16, 128, 64), ("G", 32, 64, 3)]


def best_seconds(fn, repeats):
    fn()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def conv_kernels(batch, side, c_in, c_out, transposed, dtype="float32"):
    """The kernels of one layer as (name, callable) and the layer's forward FLOPs.

    A transposed conv (side -> 2 side) is the gradient of the conv 2 side -> side with
    the channels swapped: the same three kernels, with forward and input gradient
    exchanged. The fourth, "filter gradient (matmul)", is the library's alternative.
    """
    import tensorflow as tf

    from tf_t2i.models import cpu_conv

    def run(fn):
        compiled = tf.function(fn)
        return lambda: compiled()[0, 0, 0, 0].numpy()

    if transposed:
        side, c_in, c_out = side * 2, c_out, c_in
    out = side // 2  # the conv: side x side x c_in -> out x out x c_out
    x = tf.cast(tf.random.normal([batch, side, side, c_in]), dtype)
    w = tf.cast(tf.random.normal([4, 4, c_in, c_out]), dtype)
    dy = tf.cast(tf.random.normal([batch, out, out, c_out]), dtype)
    flops = 2 * batch * out * out * 16 * c_in * c_out
    conv = run(lambda: tf.nn.conv2d(x, w, 2, "SAME"))
    conv_input_gradient = run(
        lambda: tf.nn.conv2d_transpose(dy, w, [batch, side, side, c_in], 2, "SAME")
    )
    filter_gradient = run(
        lambda: tf.raw_ops.Conv2DBackpropFilter(
            input=x,
            filter_sizes=[4, 4, c_in, c_out],
            out_backprop=dy,
            strides=[1, 2, 2, 1],
            padding="SAME",
        )[None]
    )
    forward, input_gradient = (
        (conv_input_gradient, conv) if transposed else (conv, conv_input_gradient)
    )
    kernels = [
        ("forward", forward),
        ("input gradient", input_gradient),
        ("filter gradient", filter_gradient),
        ("filter gradient (conv)", run(lambda: cpu_conv.filter_gradient(x, dy)[None])),
    ]
    method = cpu_conv.filter_gradient_method(side, dtype)
    return kernels, flops, "filter gradient" + ("" if method == "tf" else f" ({method})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    args = parser.parse_args()

    import tensorflow as tf

    load_before = os.getloadavg()
    a = tf.cast(tf.random.normal([2048, 2048]), args.dtype)
    matmul = tf.function(lambda: tf.matmul(a, a)[0, :1])
    peak = 2 * 2048**3 / best_seconds(lambda: matmul().numpy(), args.repeats)

    rows, total_flops, tf_seconds, used_seconds = [], 0, 0.0, 0.0
    for network, side, c_in, c_out in D_CONVS + G_CONVS:
        transposed = network == "G"
        kernels, flops, used_filter_gradient = conv_kernels(
            args.batch_size, side, c_in, c_out, transposed, args.dtype
        )
        out = side * 2 if transposed else side // 2
        layer = f"{network} {side}x{side}x{c_in} -> {out}x{out}x{c_out}"
        total_flops += 3 * flops
        for kind, fn in kernels:
            seconds = best_seconds(fn, args.repeats)
            alternative = kind.endswith(")")
            if not alternative:
                tf_seconds += seconds
            used = ""
            if kind == used_filter_gradient or not kind.startswith("filter gradient"):
                used_seconds += seconds
                used = " (used)" if kind.startswith("filter gradient") else ""
            rows.append(
                f"| {layer} | {kind}{used} | {flops / 1e9:.2f} | {seconds * 1e3:.1f} "
                f"| {flops / seconds / 1e9:.0f} | {100 * flops / seconds / peak:.0f}% |"
            )
    ceiling = total_flops / tf_seconds / peak
    used_ceiling = total_flops / used_seconds / peak
    load_after = os.getloadavg()
    command = "python -m bench.bench_conv_layers " + " ".join(sys.argv[1:])
    text = f"""## The step's convolutions one by one (64x64, batch {args.batch_size}, {args.dtype})

- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC
- machine: {machine()}; load average before / after:
  {", ".join(f"{x:.1f}" for x in load_before)} / {", ".join(f"{x:.1f}" for x in load_after)}
- command: `.venv/bin/{command.strip()}`
- each kernel alone, `tf.function`, best of {args.repeats}; peak: 2048x2048 {args.dtype}
  matmul in the same run, {peak / 1e9:.0f} GFLOP/s

| layer | kernel | GFLOP | ms | GFLOP/s | of peak |
|---|---|---:|---:|---:|---:|
{chr(10).join(rows)}

All kernels together (each layer's three kernels once, FLOP-weighted):
{100 * ceiling:.0f}% of the matmul peak with TensorFlow's kernels, {100 * used_ceiling:.0f}% with the
ones the networks run (forward, input gradient and the filter gradient marked
"used"). This is the ceiling of the whole train step on this machine; the step itself
(bench_train_step) adds batch norm, activations, the optimizers and the loss.
"""
    suffix = "" if args.dtype == "float32" else f"_{args.dtype}"
    result = RESULTS / f"conv_layers{suffix}.md"
    result.parent.mkdir(parents=True, exist_ok=True)
    result.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
