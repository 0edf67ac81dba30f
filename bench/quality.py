"""The issue's quality experiments, with the real commands a user would type.

Each experiment trains with `t2i fit` (a child process), then scores the run
with `t2i evaluator train` (once per data set) and `t2i evaluate`, and writes
its figures beside the issue's goals ("Style and content"):

  shapes-64  the shapes recipe at 64x64 for 30 minutes, on the shapes data with
             8 of the 48 colour x kind combinations held out of training
             (`-o holdout=8`). Goals, on the classes it saw: class accuracy
             >= 0.97, FID <= 1.3x the real-vs-real baseline, diversity >= 0.8x
             that of the real images with the caption's content (a caption
             names the size and position; bench/diversity_ceiling.py), background spread >= 0.9 of the maximum, style
             transfer keeps the background >= 0.9 and draws the caption's
             colour and kind >= 0.9; on the held-out classes: zero-shot colour
             x kind accuracy >= 0.8.
  digits     the `digits` recipe (real handwritten digits), 30 minutes:
             digit accuracy >= 0.97 and diversity >= 0.6x the real images'.
  ablation   the shapes recipe trained three ways at an equal budget of steps,
             each with several seeds: GAN-INT-CLS, GAN-CLS, and a
             text-conditioned GAN without the wrong-pair term (cls=false,
             interp=false). Reed et al.'s claim is INT-CLS > CLS > plain on
             conditional accuracy; the table gives each seed, the mean and the
             spread (max - min).

A budget in minutes means this machine at full speed (a 2048x2048 bf16 matmul at
875 GFLOP/s, bench/machine.py). The host's speed is measured before each timed
fit, and on a throttled host the fit gets the budget scaled by the ratio; both
figures are written. A time-limited fit is stopped with SIGTERM when its time is
up, and checkpoints the step it stopped at (tf_t2i/training/stop.py); a recipe
with a style encoder then trains it from there (the recipe's style_steps), and
the run is evaluated at its latest checkpoint.

    .venv/bin/python -m bench.quality                       # everything (~3 h at full speed)
    .venv/bin/python -m bench.quality --only shapes-64 --minutes 30
    .venv/bin/python -m bench.quality --only ablation --ablation-steps 1500 --seeds 0 1 2
    .venv/bin/python -m bench.quality --only shapes-64 --rescore --truncations 0.7 0.5
    .venv/bin/python -m bench.quality --only shapes-64 --set model.mode_seeking_weight=2.0
    .venv/bin/python -m bench.quality --only shapes-64 --steps 27300 --set model.d_lr=0.0004

--steps N replaces the clock by N GAN steps, for a setting that leaves the cost of a
step as it was (a learning rate, a loss weight that reuses what the step computes):
N is the number of steps the recipe reached in its 30 minutes at full speed (27,300
at 64x64, bench/results/quality_shapes_64_*ema_decay_0_999*.md), and such a run may
share the host.

Writes bench/results/quality_<experiment>.md as each experiment ends (figures
beside their goals, the commands, the sample grid; an experiment not rerun keeps
its file) and RUN/evaluation.json for each run. Do not run it while the machine
is shared: a shared host is slower than the matmul probe says.
"""

import argparse
import datetime
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time

from bench.machine import FULL_SPEED_GFLOPS, matmul_gflops, scaled_seconds

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"  # one file per experiment: quality_<name>.md
T2I = [str(pathlib.Path(sys.executable).parent / "t2i")]  # the installed console script
FOREVER = 10**7  # steps for a time-limited fit: the clock stops it
COMMON = ["--set", "train.checkpoint_every=50"]

SHAPES_64 = ["--recipe", "shapes", "--image-size", "64", "--set", "data.options.holdout=8"]
DIGITS = ["--recipe", "digits"]
ABLATION = {
    "gan-int-cls": ["--model", "gan-int-cls"],
    "gan-cls": ["--model", "gan-cls"],
    "no-wrong-pair": ["--set", "model.cls=false", "--set", "model.interp=false"],
}


def run(args, log, timeout=None) -> float:
    """Runs a t2i command, echoing it to the log; SIGTERM after `timeout` seconds.

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
        # time is up: `t2i fit` stops after the current step and checkpoints it (SIGTERM,
        # because a background shell starts children with SIGINT ignored)
        process.terminate()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        code = 0
    if code != 0:
        raise SystemExit(f"failed ({code}): {command}")
    return time.perf_counter() - start


def fit_and_evaluate(name, fit_args, budget, num_samples, root, log) -> dict:
    """Trains one run (for `budget` wall seconds if given), then evaluates its latest checkpoint.

    Returns:
        The figures of `t2i evaluate`, plus train_seconds, the run's steps and its grid.
    """
    run_dir = root / name
    if run_dir.exists():  # a fresh run: `t2i fit` would otherwise continue the old one
        shutil.rmtree(run_dir)
    seconds = run(["fit", *fit_args, *COMMON, "--run-dir", run_dir], log, timeout=budget)
    config = json.loads((run_dir / "config.json").read_text())
    if budget and config["model"]["style_encoder"]:
        # the clock stopped the GAN phase: end it at the last checkpoint, then train S
        done = max(
            int(p.stem.split("-")[1]) for p in (run_dir / "checkpoints").glob("ckpt-*.index")
        )
        seconds += run(["fit", "--run-dir", run_dir, "--resume", "--steps", done], log)
    figures = evaluate_run(run_dir, num_samples, log)
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    figures.update(train_seconds=round(seconds), grid=str(grids[-1]) if grids else None)
    return figures


def evaluate_run(run_dir, num_samples, log, truncation=None) -> dict:
    """`t2i evaluate` on a run (training its data set's evaluator first if there is none).

    With `truncation`, every figure samples truncated noise (`--truncation`), and the
    figures go to evaluation-truncation<T>.json instead of evaluation.json.
    """
    data_dir = json.loads((run_dir / "config.json").read_text())["data"]["dir"]
    if not pathlib.Path(data_dir, "evaluator", "evaluator.keras").is_file():
        run(["evaluator", "train", "--data", data_dir, "--epochs", "15"], log)
    name = "evaluation.json" if truncation is None else f"evaluation-truncation{truncation:g}.json"
    command = ["evaluate", run_dir, "--data", data_dir, "--num-samples", num_samples]
    command += ["--out", run_dir / name]
    if truncation is not None:
        command += ["--truncation", truncation]
    run(command, log)
    return json.loads((run_dir / name).read_text())


def truncation_sections(name, goals_of, args) -> None:
    """Scores an experiment's existing run at each of --truncations; quality_<name>_truncation.md.

    Truncated noise trades diversity (and the spread of the style) for fidelity; the
    table puts each setting's figures beside the same goals as the run's own.
    """
    run_dir, log = args.root / name, []
    plain = json.loads((run_dir / "evaluation.json").read_text())  # the experiment's own
    body = [
        f"The run of `quality_{name.replace('-', '_')}.md` ({run_dir}), scored again with "
        "`t2i evaluate --truncation T`: noise drawn from N(0, 1), redrawn beyond +-2 and "
        "scaled by T, in every figure that samples noise (style transfer takes S(x)).",
    ]
    runs = [("plain noise", plain)]
    for truncation in args.truncations:
        runs.append((f"truncation {truncation:g}", evaluate_run(run_dir, args.num_samples, log,
                                                                truncation)))  # fmt: skip
    for label, f in runs:
        body += ["", f"**{label}**", "", *goal_table(goals_of(f))]
    write_section(f"{name.replace('-', '_')}_truncation", f"{name}, truncated noise", body,
                  runs, log, args)  # fmt: skip


def override_suffix(overrides) -> str:
    """'-model-mode-seeking-weight-2-0' for ['model.mode_seeking_weight=2.0']; '' for none."""
    return "".join("-" + re.sub(r"[^A-Za-z0-9]+", "-", o).strip("-").lower() for o in overrides)


def timed_budget(minutes, log) -> tuple[float, str]:
    """Wall seconds for `minutes` at full speed on this host now, and a line saying how."""
    gflops = matmul_gflops()
    seconds = scaled_seconds(minutes * 60, gflops)
    line = (
        f"Host speed before the fit: 2048x2048 bf16 matmul at {gflops:.0f} GFLOP/s "
        f"(full speed {FULL_SPEED_GFLOPS:.0f}), so the {minutes:g}-minute budget at full speed "
        f"is {seconds / 60:.1f} minutes here."
    )
    log.append(f"# {line}")
    print(line, flush=True)
    return seconds, line


def _fmt(value, digits=3):
    return "—" if value is None else f"{value:.{digits}f}"


def _row(name, f):
    return (
        f"| {name} | {f['step']} | {_fmt(f.get('train_seconds', 0) / 60 or None, 1)} "
        f"| {_fmt(f.get('class_accuracy'))} "
        f"| {_fmt(f.get('class_accuracy_real'))} | {_fmt(f['fid'], 2)} "
        f"| {_fmt(f['fid_real_baseline'], 2)} | {_fmt(f['fid_ratio'], 2)} | {_fmt(f['kid'], 4)} "
        f"| {_fmt(f['diversity_ratio'], 2)} | {_fmt(f.get('diversity_caption_ratio'), 2)} |"
    )


HEADER = (
    "| run | steps | train min | class acc | real acc | FID | FID real-real | FID ratio "
    "| KID | diversity ratio (class) | diversity ratio (caption) |"
    "\n|---|---|---|---|---|---|---|---|---|---|---|"
)
STYLE_HEADER = (
    "| run | spread of max (vs real) | transfer keeps style (chance) | transfer class acc "
    "| zero-shot acc (real) | seen classes, same measure |\n|---|---|---|---|---|---|"
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
        f"({_fmt(zero_shot.get('class_accuracy_real'))}) "
        f"| {_fmt(zero_shot.get('seen_class_accuracy'))} |"
    )


def _get(f, *keys):
    """f[k0][k1]..., or None where a key is missing."""
    for key in keys:
        if not isinstance(f, dict) or key not in f:
            return None
        f = f[key]
    return f


def shapes_64_goals(f) -> list[tuple[str, float | None, str, bool]]:
    """(goal, figure, target, met) for the shapes-64 run (seen classes, then held-out ones)."""
    seen = _get(f, "zero_shot", "seen_class_accuracy")
    goals = [
        ("class accuracy, seen classes", seen if seen is not None else f.get("class_accuracy"), ">=", 0.97),
        ("FID / real-vs-real FID", f.get("fid_ratio"), "<=", 1.3),
        # the real images of the caption's content: a caption fixes the size and position
        # that real images of its class vary, so the class-wide ratio of a generator drawing
        # exactly what each caption says is 0.48 (bench/results/diversity_ceiling.md)
        ("diversity / real images of the caption's content", f.get("diversity_caption_ratio"), ">=", 0.8),
        ("background spread (of max)", _get(f, "style", "spread", "background", "spread"), ">=", 0.9),
        ("style transfer keeps the background", _get(f, "style", "transfer", "keeps_style", "background"), ">=", 0.9),
        ("style transfer draws colour x kind", _get(f, "style", "transfer", "class_accuracy"), ">=", 0.9),
        ("zero-shot colour x kind (held-out classes)", _get(f, "zero_shot", "class_accuracy"), ">=", 0.8),
    ]  # fmt: skip
    return [_judge(*g) for g in goals]


def digits_goals(f) -> list[tuple[str, float | None, str, bool]]:
    return [
        _judge("digit accuracy", f.get("class_accuracy"), ">=", 0.97),
        _judge("diversity / real diversity", f.get("diversity_ratio"), ">=", 0.6),
    ]


def _judge(name, value, op, threshold):
    """(name, value, "op threshold", met); op is ">=" or "<="; a missing figure is not met."""
    target = f"{op} {threshold:g}"
    if value is None:
        return name, None, target, False
    met = value >= threshold if op == ">=" else value <= threshold
    return name, value, target, met


def goal_table(goals) -> list[str]:
    lines = ["| goal | figure | target | met |", "|---|---|---|---|"]
    lines += [
        f"| {name} | {_fmt(value)} | {target} | {'yes' if met else 'NO'} |"
        for name, value, target, met in goals
    ]
    return lines


def ablation_summary(results: dict) -> list[str]:
    """Mean and spread (max - min) over seeds of each variant's class accuracy and FID ratio."""
    lines = [
        "| variant | seeds | class acc, mean | class acc, max - min | FID ratio, mean "
        "| diversity ratio, mean |",
        "|---|---|---|---|---|---|",
    ]
    for variant, runs in results.items():
        acc = [f["class_accuracy"] for f in runs.values()]
        fid = [f["fid_ratio"] for f in runs.values()]
        div = [f["diversity_ratio"] for f in runs.values()]
        lines.append(
            f"| {variant} | {len(runs)} | {sum(acc) / len(acc):.3f} | {max(acc) - min(acc):.3f} "
            f"| {sum(fid) / len(fid):.2f} | {sum(div) / len(div):.2f} |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="shapes-64,digits,ablation")
    parser.add_argument(
        "--minutes", type=float, default=30, help="budget of shapes-64 and digits, at full speed"
    )
    parser.add_argument(
        "--steps",
        type=int,
        help="shapes-64 and digits: this many GAN steps instead of the --minutes clock",
    )
    parser.add_argument("--ablation-steps", type=int, default=1500, help="equal budget, in steps")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="ablation seeds")
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--root", type=pathlib.Path, default=ROOT / "runs" / "quality")
    parser.add_argument(
        "--truncations",
        type=float,
        nargs="+",
        default=[],
        help="with --rescore: score shapes-64 and digits' runs again at these truncations",
    )
    parser.add_argument(
        "--rescore", action="store_true", help="no training: score the existing runs (see above)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="recipe override for shapes-64 and digits (as t2i fit --set); repeatable. The "
        "run and its results are named after it: runs/quality/shapes-64-<key>-<value>, "
        "bench/results/quality_shapes_64_<key>_<value>.md",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    sets = [word for override in args.overrides for word in ("--set", override)]
    for base, recipe, goals_of in (
        ("shapes-64", SHAPES_64, shapes_64_goals),
        ("digits", DIGITS, digits_goals),
    ):
        if base not in only:
            continue
        name = base + override_suffix(args.overrides)
        recipe = [*recipe, *sets]
        if args.rescore:
            truncation_sections(name, goals_of, args)
            continue
        log, title = [], f"{base}, {args.minutes:g} min at full speed"
        if args.steps:
            budget, steps = None, args.steps
            speed = (
                f"{steps} GAN steps, the steps the recipe reached in {args.minutes:g} minutes "
                "at full speed; this setting leaves the cost of a step as it was."
            )
            title += f" ({steps} steps)"
        else:
            (budget, speed), steps = timed_budget(args.minutes, log), FOREVER
        f = fit_and_evaluate(name, [*recipe, "--steps", steps], budget, args.num_samples,
                             args.root, log)  # fmt: skip
        if args.overrides:
            title += f", with {', '.join(args.overrides)}"
        body = [speed, "", *goal_table(goals_of(f))]
        write_section(name.replace("-", "_"), title, body, [(name, f)], log, args)
    if "ablation" in only:
        log, results = [], {}
        for variant, extra in ABLATION.items():
            results[variant] = {
                seed: fit_and_evaluate(
                    f"ablation-{variant}-seed{seed}",
                    [
                        "--recipe",
                        "shapes",
                        "--steps",
                        args.ablation_steps,
                        "--set",
                        f"train.seed={seed}",
                        *extra,
                        # the claim is about content: no style-encoder phase after the GAN
                        "--set",
                        "model.style_encoder=false",
                    ],
                    None,
                    args.num_samples,
                    args.root,
                    log,
                )
                for seed in args.seeds
            }
        mean = {
            v: sum(f["class_accuracy"] for f in r.values()) / len(r) for v, r in results.items()
        }
        holds = mean["gan-int-cls"] > mean["gan-cls"] > mean["no-wrong-pair"]
        claim = (
            f"Reed et al.'s order INT-CLS > CLS > no-wrong-pair on mean class accuracy: "
            f"{'holds' if holds else 'does NOT hold'}."
        )
        runs = [(f"{v} seed {seed}", f) for v, r in results.items() for seed, f in r.items()]
        title = f"ablation, {args.ablation_steps} steps each, seeds {args.seeds}"
        write_section("ablation", title, [claim, "", *ablation_summary(results)], runs, log, args)


def write_section(name, title, body, runs, log, args):
    """Writes one experiment's goals, figures, grids and commands to quality_<name>.md.

    Args:
        body: Markdown lines above the figures (host speed, goals or a summary).
        runs: [(label, figures of fit_and_evaluate)].
    """
    parts = [
        f"## Generation quality: {title}",
        "",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"Command: `python -m bench.quality {' '.join(sys.argv[1:])}`. Figures from "
        f"`t2i evaluate` (evaluator features, {args.num_samples} held-out captions at most, "
        "seed 0); FID ratio = FID / real-vs-real FID; diversity ratio (class) = "
        "within-caption diversity / real within-class diversity (< 0.2 raises the "
        "mode-collapse alarm); diversity ratio (caption) = the same / the diversity of real "
        "images with the caption's content (its class and every attribute it names).",
        "",
        *body,
        "",
        HEADER,
        *[_row(label, f) for label, f in runs],
        "",
        STYLE_HEADER,
        *[_style_row(label, f) for label, f in runs],
        "",
        *[f"Samples: `{f['grid']}`" for _, f in runs if f.get("grid")],
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
