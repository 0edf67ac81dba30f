"""The default job's goals (issue "Style and content"), over several seeds.

For each seed it runs the default job as a user would, `t2i fit --set
train.seed=S` (the recipe `pipelines/shapes.yaml`), times it, then scores it
with `t2i evaluate` and writes bench/results/default_job.md:

  colour accuracy            >= 0.9   (group_accuracy.color of the evaluator)
  background spread          >= 0.8   of the maximum entropy, 32 seeds per caption
                                      that leaves the background free
  style transfer keeps the   >= 0.8   G(S(x), t) shows x's background
  style image's background
  at most about 10 minutes of `t2i fit` once the data is cached (this machine
  at full speed; the matmul probe of bench/machine.py gives the host's speed)

and, beside them, the rotation the captions leave free, read off the images
(tf_t2i/evaluation/rotation.py): its spread over seeds and whether style
transfer keeps it.

    .venv/bin/python -m bench.default_job --seeds 0 1          # train and score
    .venv/bin/python -m bench.default_job --runs runs/a runs/b # score existing runs
    .venv/bin/python -m bench.default_job --runs runs/a --reuse # their evaluation.json
    .venv/bin/python -m bench.default_job --runs runs/a --truncations own 0  # and plain noise
"""

import argparse
import datetime
import json
import pathlib
import shlex
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "default_job.md"
T2I = str(pathlib.Path(sys.executable).parent / "t2i")


def run(args, log) -> float:
    """Runs a t2i command (echoed to the log); returns its wall seconds."""
    log.append("t2i " + " ".join(shlex.quote(str(a)) for a in args))
    start = time.perf_counter()
    subprocess.run([T2I, *map(str, args)], cwd=ROOT, check=True)
    return time.perf_counter() - start


def score(
    run_dir: pathlib.Path, num_samples: int, log, reuse: bool = False, truncation=None
) -> dict:
    """`t2i evaluate` on a run (or, with reuse, the RUN/evaluation.json it wrote); its figures.

    With `truncation` (`t2i evaluate --truncation`) the figures go to
    RUN/evaluation-truncation<T>.json instead.
    """
    config = json.loads((run_dir / "config.json").read_text())
    data_dir = config["data"]["dir"]
    name = "evaluation.json" if truncation is None else f"evaluation-truncation{truncation:g}.json"
    out = run_dir / name
    if not (reuse and out.is_file()):
        if not pathlib.Path(data_dir, "evaluator", "evaluator.keras").is_file():
            run(["evaluator", "train", "--data", data_dir], log)
        command = ["evaluate", run_dir, "--data", data_dir, "--num-samples", num_samples]
        if truncation is not None:
            command += ["--truncation", truncation]
        run([*command, "--out", out], log)
    figures = json.loads(out.read_text())
    figures["seed"] = config["train"]["seed"]
    return figures


def row(name, f) -> str:
    style = f.get("style", {})
    spread = style.get("spread", {}).get("background", {})
    turned = style.get("spread", {}).get("rotation", {})  # read off the images (rotation.py)
    transfer = style.get("transfer", {})
    keeps = transfer.get("keeps_style", {}).get("background")
    cells = [
        name,
        f.get("train_minutes"),
        f.get("group_accuracy", {}).get("color"),
        f.get("class_accuracy"),
        spread.get("spread"),
        spread.get("spread_vs_real"),
        turned.get("spread"),
        turned.get("spread_vs_real"),
        keeps,
        transfer.get("keeps_style", {}).get("rotation"),
        transfer.get("class_accuracy"),
        f.get("diversity_ratio"),
        f.get("fid_ratio"),
    ]
    return (
        "| "
        + " | ".join("—" if c is None else c if isinstance(c, str) else f"{c:.2f}" for c in cells)
        + " |"
    )


def _without_note(argv: list[str]) -> list[str]:
    """The arguments without --note's text (written below the command instead)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--note":
            skip = True
        elif not arg.startswith("--note="):
            kept.append(arg)
    return kept


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--runs", type=pathlib.Path, nargs="*", help="score these runs instead")
    parser.add_argument("--num-samples", type=int, default=400)
    parser.add_argument("--note", default="", help="a line about the host, written above the table")
    parser.add_argument(
        "--reuse", action="store_true", help="with --runs: read RUN/evaluation.json if it exists"
    )
    parser.add_argument(
        "--truncations",
        nargs="+",
        default=["own"],
        help="score each run at each: own (the run's model.truncation), 0 (plain noise) or "
        "a scale (t2i evaluate --truncation); one row each",
    )
    args = parser.parse_args()
    truncations = [None if t == "own" else float(t) for t in args.truncations]
    log, results = [], []

    def scored(run_dir, reuse, extra=None):
        for truncation in truncations:
            figures = score(run_dir, args.num_samples, log, reuse, truncation)
            figures.update(extra or {})
            suffix = "" if truncation is None else f", truncation {truncation:g}"
            results.append((run_dir.name + suffix, figures))

    if args.runs:
        for run_dir in args.runs:
            scored(run_dir, args.reuse)
    else:
        for seed in args.seeds:
            run_dir = ROOT / "runs" / f"default-job-seed{seed}"
            seconds = run(["fit", "--run-dir", run_dir, "--set", f"train.seed={seed}"], log)
            scored(run_dir, False, {"train_minutes": seconds / 60})
    header = (
        "| run | fit min | colour acc | colour x kind acc | background spread (of max) "
        "| spread vs real | rotation spread (of max) | rotation spread vs real "
        "| transfer keeps background | transfer keeps rotation | transfer colour x kind "
        "| diversity ratio | FID ratio |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [
        "## The default job: content, style and style transfer",
        "",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Command: `python -m bench.default_job {' '.join(_without_note(sys.argv[1:]))}`. "
        f"{args.note}",
        "Goals: colour accuracy >= 0.9, background spread >= 0.8 of the maximum, "
        "style transfer keeps the background >= 0.8.",
        "",
        header,
        *[row(name, f) for name, f in results],
        "",
        "Commands:",
        "",
        *[f"    {command}" for command in log],
    ]
    RESULT.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
