"""Runs every benchmark in one process-per-benchmark sweep and writes BENCHMARKS.md.

Each `bench/bench_*.py` writes its own section to `bench/results/<name>.md`
(figures, the command that made them, the date and the machine); this script
runs them in turn and concatenates the sections.

    python -m bench.run_all            # run all, then assemble
    python -m bench.run_all --collect  # only assemble existing sections
"""

import argparse
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# Benchmarks run more than once, with these arguments (each run writes its own section).
EXTRA_RUNS = {"bench_conv_layers": [[], ["--dtype", "bfloat16"]]}

HEADER = """# Benchmarks

Figures measured on this project's machine (2 CPU cores, no GPU). Each section
names the command that produced it; rerun it to reproduce. `make bench` reruns
everything and rewrites this file.
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--collect", action="store_true", help="only assemble sections")
    args = parser.parse_args()
    if not args.collect:
        for script in sorted((ROOT / "bench").glob("bench_*.py")):
            for extra in EXTRA_RUNS.get(script.stem, [[]]):
                print(f"== {script.stem} {' '.join(extra)}", flush=True)
                command = [sys.executable, "-m", f"bench.{script.stem}", *extra]
                subprocess.run(command, cwd=ROOT, check=True)
    sections = [p.read_text(encoding="utf-8").strip() for p in sorted(RESULTS.glob("*.md"))]
    (ROOT / "BENCHMARKS.md").write_text(HEADER + "\n" + "\n\n".join(sections) + "\n")
    print(f"wrote {ROOT / 'BENCHMARKS.md'} ({len(sections)} sections)")


if __name__ == "__main__":
    main()
