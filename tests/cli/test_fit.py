"""`t2i fit` as a user runs it: CliRunner and a real subprocess, dry runs of every recipe."""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from tf_t2i.cli.main import cli
from tf_t2i.config import recipe_names

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "training"))
from fit_testing import TINY, checkpoint_weights, latest  # noqa: E402


@pytest.mark.parametrize("name", recipe_names())
def test_every_recipe_resolves_with_dry_run(runner, name, tmp_path):
    result = runner.invoke(cli, ["fit", "--recipe", name, "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    header, _, body = result.output.partition("\n")
    assert header == f"# run dir: runs/{name}"
    config = json.loads(body)
    assert config["name"] == name
    assert set(config) == {"name", "description", "data", "model", "train"}
    assert not (tmp_path / "runs").exists()


def test_dry_run_applies_flags_then_set(runner):
    result = runner.invoke(
        cli,
        [
            "fit", "--model", "gan-cls", "--condition", "mask", "--image-size", "64",
            "--steps", "9", "--precision", "float32", "--strategy", "default",
            "--set", "train.steps=11", "--dry-run",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads(result.output.partition("\n")[2])
    assert config["model"]["conditions"] == ["mask"]
    assert config["model"]["style_rotation"] == 0  # the recipe's turn would leave the mask
    assert config["model"]["cls"] is True and config["model"]["interp"] is False
    assert config["model"]["image_size"] == 64
    assert config["data"]["options"]["image_size"] == 64  # built-in data follows the model
    assert config["train"]["steps"] == 11  # --set wins over --steps
    assert config["train"]["precision"] == "float32"


@pytest.mark.parametrize("variant", [["--model", "dcgan"], ["--condition", "mask"]])
def test_default_recipe_takes_a_condition_without_captions(runner, variant):
    # the recipe's terms that need a caption (GAN-INT, style consistency) are inactive, not errors
    result = runner.invoke(cli, ["fit", *variant, "--dry-run"])
    assert result.exit_code == 0, result.output
    config = json.loads(result.output.partition("\n")[2])
    assert "text" not in config["model"]["conditions"]
    assert config["model"]["style_consistency_weight"] == 2.0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "train.nope=1"], "unknown key 'train.nope'"),
        (["--set", "model.ngf=wide"], "model.ngf must be an integer"),
        (["--recipe", "no-such-recipe"], "unknown recipe 'no-such-recipe'"),
        (["--config", "no-such-recipe"], "unknown recipe 'no-such-recipe'"),  # the old name
        (["--recipe", "shapes", "--config", "digits"], "give --recipe (or its old name"),
        (["--steps", "3", "--epochs", "2"], "--epochs or --steps"),
        (
            ["--condition", "mask", "--set", "model.style_rotation=0.25"],
            "model.style_rotation: would turn the image off its mask; set model.style_rotation=0",
        ),
    ],
)
def test_bad_options_are_clear_errors(runner, args, message):
    result = runner.invoke(cli, ["fit", *args, "--dry-run"])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_default_fit_through_cli_runner(runner, tmp_path):
    run_dir = tmp_path / "run"
    args = ["fit", *TINY, "--steps", "4", "--set", "train.sample_every=2", "--run-dir", run_dir]
    result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"samples:    {run_dir / 'samples' / 'step_000004.png'}" in result.output

    config = json.loads((run_dir / "config.json").read_text())
    assert config["name"] == "shapes" and config["train"]["steps"] == 4
    assert pathlib.Path(config["data"]["dir"], "dataset.json").is_file()
    assert config["model"]["embedding_dim"] == 512  # from the data set's encoder

    samples = sorted(p.name for p in (run_dir / "samples").iterdir())
    # the GAN-INT grid at the end (the style-transfer grid needs model.style_encoder)
    assert samples == ["interpolation.png", "step_000000.png", "step_000002.png", "step_000004.png"]
    from PIL import Image

    grid = Image.open(run_dir / "samples" / "step_000004.png")
    assert grid.size[1] >= 8 * 64  # eight caption rows of 64 px (32 px enlarged)
    gif = Image.open(run_dir / "progress.gif")
    assert gif.n_frames == 3
    assert Image.open(run_dir / "losses.png").format == "PNG"

    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    assert all(np.isfinite(line["d_loss"]) and np.isfinite(line["g_loss"]) for line in lines)

    assert latest(run_dir).endswith("ckpt-4")
    assert int(checkpoint_weights(latest(run_dir))["step/.ATTRIBUTES/VARIABLE_VALUE"]) == 4
    tags = _event_tags(run_dir / "logs")
    assert {"d_loss", "g_loss", "images_per_sec", "samples"} <= tags

    # --resume alone takes the run's config.json; a larger --steps extends the budget
    more = runner.invoke(cli, ["fit", "--run-dir", str(run_dir), "--resume", "--steps", "5"])
    assert more.exit_code == 0, more.output
    assert "done: step 5/5 (1 steps" in more.output
    assert latest(run_dir).endswith("ckpt-5")
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4, 5]


def _event_tags(log_dir) -> set:
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    tags = set()
    for path in pathlib.Path(log_dir).glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_the_config_option_is_a_hidden_alias_of_recipe(runner):
    def dry_run(*args):
        result = runner.invoke(cli, ["fit", *args, "--dry-run"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert dry_run("--config", "digits") == dry_run("--recipe", "digits")
    help_text = runner.invoke(cli, ["fit", "--help"]).output
    assert "--recipe NAME|PATH" in help_text and "--config" not in help_text


# absl's C++ log lines: "I0000 00:00:1796318564.061576   27909 port.cc:153] ..." and the
# notice printed before absl::InitializeLog()
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog")


def test_default_fit_as_a_subprocess_prints_no_tensorflow_log_lines(tmp_path):
    run_dir = tmp_path / "run"
    t2i = pathlib.Path(sys.executable).parent / "t2i"
    command = [str(t2i), "fit", *TINY, "--steps", "3", "--set", "train.sample_every=3"]
    command += ["--run-dir", str(run_dir)]
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout.splitlines() + done.stderr.splitlines()
    assert [line for line in output if TF_LOG_LINE.search(line)] == []
    assert re.search(r"^3/3 [━.]+ .*d_loss: .*img/s:", done.stderr, re.M)  # the progress bar
    assert f"samples:    {run_dir / 'samples' / 'step_000003.png'}" in done.stdout
    assert (run_dir / "samples" / "step_000003.png").is_file()
    assert latest(run_dir).endswith("ckpt-3")

    # the TensorBoard command it prints works: the binary reads the run's logs, and
    # TensorBoard's own loader (the one its server uses) finds the scalars, step by step
    tensorboard = [line for line in done.stdout.splitlines() if line.startswith("tensorboard ")]
    assert tensorboard == [f"tensorboard --logdir {run_dir / 'logs'}"]
    words = tensorboard[0].split()
    words[0] = str(pathlib.Path(sys.executable).parent / "tensorboard")
    inspected = subprocess.run(
        [*words, "--inspect"], env=env, capture_output=True, text=True, timeout=120
    )
    assert inspected.returncode == 0, inspected.stderr[-3000:]
    assert re.search(r"^ +d_loss$", inspected.stdout, re.M), inspected.stdout
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    events = EventAccumulator(str(run_dir / "logs"))
    events.Reload()
    assert {"d_loss", "g_loss", "images_per_sec"} <= set(events.PluginTagToContent("scalars"))
    d_loss = events.Tensors("d_loss")
    assert [event.step for event in d_loss] == [1, 2, 3]
    assert all(np.isfinite(make_ndarray(event.tensor_proto)) for event in d_loss)
    assert "samples" in events.PluginTagToContent("images")


def test_verbose_keeps_tensorflow_logging_on(runner, monkeypatch):
    from tf_t2i.cli import quiet

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    result = runner.invoke(cli, ["--verbose", "fit", "--dry-run"])
    assert result.exit_code == 0 and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    result = runner.invoke(cli, ["fit", "--dry-run"])
    assert result.exit_code == 0 and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    result = runner.invoke(cli, ["fit", "--dry-run", "--verbose"])  # per command too
    assert result.exit_code == 0 and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    assert not any(isinstance(f, quiet._QuietImport) for f in sys.meta_path)


def test_mismatched_data_is_an_error_before_training(runner, tmp_path):
    # 1-channel model on the RGB shapes: refused before any step runs
    run_dir = tmp_path / "run"
    args = ["fit", *TINY, "--steps", "2", "--set", "model.channels=1", "--run-dir", run_dir]
    result = runner.invoke(cli, [str(a) for a in args])
    assert result.exit_code == 2
    assert "channel" in result.output and "dataset.json" in result.output
    assert not (run_dir / "checkpoints").exists()


def test_repo_root_is_the_recipe_home():
    assert (REPO_ROOT / "pipelines" / "shapes.yaml").is_file()
