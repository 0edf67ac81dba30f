"""The issue's quality experiments, with the real commands a user would type.

Each experiment trains with `t2i fit` (a child process), then scores the run
with `t2i evaluator train` (once per data set) and `t2i evaluate`:

  shapes-64  the default recipe at 64x64, 30 minutes of training:
             goal class accuracy >= 0.95 (colour and shape of the caption)
             and FID <= 2x the real-vs-real baseline.
  digits     the `digits` recipe (real handwritten digits), 30 minutes:
             goal digit accuracy >= 0.95.
  ablation   the default recipe trained three ways at an equal budget of
             steps: GAN-INT-CLS, GAN-CLS, and a text-conditioned GAN without
             the wrong-pair term (cls=false, interp=false). Reed et al.'s claim
             is INT-CLS > CLS > plain on conditional accuracy.

A time-limited fit is stopped with SIGINT when its minutes are up; the run is
then evaluated at its latest checkpoint (checkpoints every 50 steps).

    .venv/bin/python -m bench.quality                       # everything (~2.5 h)
    .venv/bin/python -m bench.quality --only shapes-64 --minutes 30
    .venv/bin/python -m bench.quality --only ablation --ablation-steps 1500

Writes bench/results/quality_<experiment>.md as each experiment ends (figures
beside their goals, the commands, the sample grid; an experiment not rerun keeps
its file) and RUN/evaluation.json for each run. Do not run it while
the machine is shared: the figures depend on the steps reached in the time.
"""

import argparse
import datetime
import json
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"  # one file per experiment: quality_<name>.md
T2I = [str(pathlib.Path(sys.executable).parent / "t2i")]  # the installed console script
FOREVER = 10**7  # steps for a time-limited fit: the clock stops it
COMMON = ["--set", "train.checkpoint_every=50"]

ABLATION = {
    "gan-int-cls": ["--model", "gan-int-cls"],
    "gan-cls": ["--model", "gan-cls"],
    "no-wrong-pair": ["--set", "model.cls=false", "--set", "model.interp=false"],
}


def run(args, log, timeout=None) -> float:
    """Runs a t2i command, echoing it to the log; SIGINT after `timeout` seconds.

    Returns:
        Wall seconds.
    """
    command = " ".join(shlex.quote(str(a)) for a in ["t2i", *args])
    log.append(command)
    print(f"$ {command}", flush=True)
    start = time.perf_counter()
    process = subprocess.Popen([*T2I, *map(str, args)], cwd=ROOT)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # time is up: stop at the latest checkpoint
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        code = 0
    if code != 0:
        raise SystemExit(f"failed ({code}): {command}")
    return time.perf_counter() - start


def fit_and_evaluate(name, fit_args, minutes, num_samples, root, log) -> dict:
    """Trains one run, then evaluates its latest checkpoint; returns the figures."""
    run_dir = root / name
    if run_dir.exists():  # a fresh run: `t2i fit` would otherwise continue the old one
        shutil.rmtree(run_dir)
    seconds = run(
        ["fit", *fit_args, *COMMON, "--run-dir", run_dir],
        log,
        timeout=minutes * 60 if minutes else None,
    )
    config = json.loads((run_dir / "config.json").read_text())
    if minutes and config["model"]["style_encoder"]:
        # the clock stopped the GAN phase: end it at the last checkpoint, then train S
        done = max(
            int(p.stem.split("-")[1]) for p in (run_dir / "checkpoints").glob("ckpt-*.index")
        )
        seconds += run(["fit", "--run-dir", run_dir, "--resume", "--steps", done], log)
    data_dir = config["data"]["dir"]
    if not pathlib.Path(data_dir, "evaluator", "evaluator.keras").is_file():
        run(["evaluator", "train", "--data", data_dir, "--epochs", "15"], log)
    out = run_dir / "evaluation.json"
    run(["evaluate", run_dir, "--data", data_dir, "--num-samples", num_samples, "--out", out], log)
    figures = json.loads(out.read_text())
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    figures.update(train_seconds=round(seconds), grid=str(grids[-1]) if grids else None)
    return figures


def _fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def _row(name, f, goal):
    return (
        f"| {name} | {f['step']} | {f['train_seconds'] / 60:.1f} | {_fmt(f.get('class_accuracy'))} "
        f"| {_fmt(f.get('class_accuracy_real'))} | {_fmt(f['fid'], 2)} "
        f"| {_fmt(f['fid_real_baseline'], 2)} | {_fmt(f['fid_ratio'], 2)} | {_fmt(f['kid'], 4)} "
        f"| {_fmt(f['diversity_ratio'], 2)} | {goal} |"
    )


HEADER = (
    "| run | steps | train min | class acc | real acc | FID | FID real-real | FID ratio "
    "| KID | diversity ratio | goal |\n|---|---|---|---|---|---|---|---|---|---|---|"
)
STYLE_HEADER = (
    "| run | spread of max (vs real) | transfer keeps style (chance) | transfer class acc "
    "| zero-shot acc (real) |\n|---|---|---|---|---|"
)


def _style_row(name, f):
    """The style and zero-shot figures of `t2i evaluate` (tf_t2i/evaluation/style.py)."""
    style, zero_shot = f.get("style", {}), f.get("zero_shot", {})
    spread = "; ".join(
        f"{group} {_fmt(s.get('spread'), 2)} ({_fmt(s.get('spread_vs_real'), 2)})"
        for group, s in style.get("spread", {}).items()
    )
    transfer = style.get("transfer", {})
    keeps = "; ".join(
        f"{group} {_fmt(kept, 2)} ({_fmt(transfer['keeps_style_chance'][group], 2)})"
        for group, kept in transfer.get("keeps_style", {}).items()
    )
    return (
        f"| {name} | {spread or '—'} | {keeps or transfer.get('skipped', '—')} "
        f"| {_fmt(transfer.get('class_accuracy'))} | {_fmt(zero_shot.get('class_accuracy'))} "
        f"({_fmt(zero_shot.get('class_accuracy_real'))}) |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="shapes-64,digits,ablation")
    parser.add_argument("--minutes", type=float, default=30, help="budget of shapes-64 and digits")
    parser.add_argument("--ablation-steps", type=int, default=1500, help="equal budget, in steps")
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--root", type=pathlib.Path, default=ROOT / "runs" / "quality")
    args = parser.parse_args()
    only = set(args.only.split(","))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    if "shapes-64" in only:
        log = []
        f = fit_and_evaluate(
            "shapes-64",
            ["--config", "shapes", "--image-size", "64", "--steps", FOREVER],
            args.minutes,
            args.num_samples,
            args.root,
            log,
        )
        met = f["class_accuracy"] >= 0.95 and f["fid_ratio"] <= 2.0
        goal = f"acc >= 0.95, FID ratio <= 2: {'met' if met else 'NOT met'}"
        title = f"shapes 64x64, {args.minutes:g} min"
        write_section("shapes_64", title, [_row("shapes-64", f, goal)], [f], log, args)
    if "digits" in only:
        log = []
        f = fit_and_evaluate(
            "digits",
            ["--config", "digits", "--steps", FOREVER],
            args.minutes,
            args.num_samples,
            args.root,
            log,
        )
        goal = f"acc >= 0.95: {'met' if f['class_accuracy'] >= 0.95 else 'NOT met'}"
        title = f"digits, {args.minutes:g} min"
        write_section("digits", title, [_row("digits", f, goal)], [f], log, args)
    if "ablation" in only:
        log = []
        results = {
            name: fit_and_evaluate(
                f"ablation-{name}",
                ["--config", "shapes", "--steps", args.ablation_steps, *extra],
                None,
                args.num_samples,
                args.root,
                log,
            )
            for name, extra in ABLATION.items()
        }
        acc = {name: f["class_accuracy"] for name, f in results.items()}
        holds = acc["gan-int-cls"] > acc["gan-cls"] > acc["no-wrong-pair"]
        claim = f"INT-CLS > CLS > no-wrong-pair: {'holds' if holds else 'does NOT hold'}"
        rows = [
            _row(name, f, claim if name == "gan-int-cls" else "") for name, f in results.items()
        ]
        title = f"ablation, {args.ablation_steps} steps each"
        write_section("ablation", title, rows, list(results.values()), log, args)


def write_section(name, title, rows, figures, log, args):
    """Writes one experiment's figures, grids and commands to quality_<name>.md."""
    parts = [
        f"## Generation quality: {title}",
        "",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Command: `python -m bench.quality {' '.join(sys.argv[1:])}`. Figures from "
        f"`t2i evaluate` (evaluator features, {args.num_samples} held-out captions at most, "
        "seed 0); FID ratio = FID / real-vs-real FID; diversity ratio = within-caption "
        "diversity / real within-class diversity (< 0.2 raises the mode-collapse alarm).",
        "",
        HEADER,
        *rows,
        "",
        STYLE_HEADER,
        *[_style_row(f.get("source", "").rsplit("/", 1)[-1], f) for f in figures],
        "",
        *[f"Samples: `{f['grid']}`" for f in figures if f.get("grid")],
        "",
        "Commands, in order:",
        "",
        "```",
        *log,
        "```",
        "",
    ]
    path = RESULTS / f"quality_{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    print("\n".join(parts))


if __name__ == "__main__":
    main()
