"""Is training unchanged by a refactor? Loss trajectories of short deterministic runs.

Each variant is a real `t2i fit` with `train.deterministic=true` (TensorFlow op
determinism) and a fixed seed, run for a few hundred steps; its metrics.jsonl is
kept as the trajectory. Run it on the code before a change (`--out before.json`),
then after (`--out after.json`), then compare:

    .venv/bin/python -m bench.train_equivalence --out /tmp/before.json --repeat 2
    .venv/bin/python -m bench.train_equivalence --out /tmp/after.json
    .venv/bin/python -m bench.train_equivalence --compare /tmp/before.json /tmp/after.json

With --repeat 2 the "before" side runs each variant twice, so the comparison can
tell a refactor's difference from run-to-run noise (zero when the ops are
deterministic). Variants name recipe keys; `--rename OLD=NEW` maps a renamed key.
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
T2I = str(pathlib.Path(sys.executable).parent / "t2i")
STEPS = 200

# name -> (recipe, --set overrides). Each exercises one group of train_step's terms.
VARIANTS = {
    "default": ("shapes", ["train.style_steps=50"]),
    "r1-aux-noise": (
        "shapes",
        [
            "model.mode_seeking_weight=0",
            "model.style_encoder=false",
            "model.r1_gamma=1.0",
            "model.instance_noise=0.1",
            "model.instance_noise_decay_steps=200",
        ],
    ),
    "gan-cls-ema": (
        "shapes",
        ["model.interp=false", "model.mode_seeking_weight=0", "model.ema_decay=0.99"],
    ),
    "d-steps-2": ("shapes", ["model.d_steps=2", "model.mode_seeking_weight=0"]),
    "digits": ("digits", []),
}
LOSS_KEYS = ("d_loss", "g_loss", "d_real", "d_wrong", "d_fake", "g_mode_seeking", "d_r1", "s_loss")
# Logged names before train_step's loss dicts -> their names now.
OLD_NAMES = {"ms_loss": "g_mode_seeking", "r1": "d_r1"}


def trajectory(recipe, overrides, steps, renames) -> list[dict]:
    """Runs one variant; its logged losses, one dict per logged step."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = pathlib.Path(tmp) / "run"
        args = [T2I, "fit", "--config", recipe, "--steps", str(steps), "--run-dir", str(run_dir)]
        for item in [*overrides, "train.deterministic=true", "train.log_every=10"]:
            key, value = item.split("=", 1)
            args += ["--set", f"{renames.get(key, key)}={value}"]
        subprocess.run(args, cwd=ROOT, check=True)
        rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        shutil.rmtree(run_dir, ignore_errors=True)
    rows = [{OLD_NAMES.get(k, k): v for k, v in r.items()} for r in rows]
    return [{k: r[k] for k in ("step", *LOSS_KEYS) if k in r} for r in rows]


def compare(before_path, after_path) -> str:
    """A markdown table: per variant, the largest loss difference after vs before (and noise)."""
    before = json.loads(pathlib.Path(before_path).read_text())
    for runs in before.values():
        for run in runs:
            for row in run:
                for old, new in OLD_NAMES.items():
                    if old in row:
                        row[new] = row.pop(old)
    after = json.loads(pathlib.Path(after_path).read_text())
    lines = [
        "| variant | max abs diff, after vs before | max abs diff, before vs before (noise) |",
        "|---|---|---|",
    ]
    for name, runs in after.items():
        if name not in before:
            continue
        diff = max_diff(before[name][0], runs[0])
        noise = max_diff(before[name][0], before[name][1]) if len(before[name]) > 1 else None
        lines.append(f"| {name} | {diff} | {noise if noise is not None else 'n/a'} |")
    return "\n".join(lines)


def max_diff(a, b):
    """Largest |difference| over the losses both trajectories log at the same steps."""
    by_step = {row["step"]: row for row in b}
    worst = 0.0
    for row in a:
        other = by_step.get(row["step"])
        if other is None:
            continue
        for key in LOSS_KEYS:
            if key in row and key in other:
                worst = max(worst, abs(row[key] - other[key]))
    return f"{worst:.3g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the trajectories (JSON) here")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--only", nargs="*", default=list(VARIANTS))
    parser.add_argument("--rename", action="append", default=[], help="OLD=NEW recipe key")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        print(compare(*args.compare))
        return
    renames = dict(item.split("=", 1) for item in args.rename)
    results = {}
    for name in args.only:
        recipe, overrides = VARIANTS[name]
        results[name] = [
            trajectory(recipe, overrides, args.steps, renames) for _ in range(args.repeat)
        ]
        pathlib.Path(args.out).write_text(json.dumps(results, indent=1))
        print(f"{name}: done", flush=True)


if __name__ == "__main__":
    main()
