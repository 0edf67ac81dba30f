"""Damaged checkpoints: verified when written and before restore; resume and generate fall back."""

import json
import pathlib
import sys

import pytest
import tensorflow as tf

from tf_t2i.cli.main import cli
from tf_t2i.training import checkpoint_check

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "export"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "training"))
from export_testing import TINY as TINY_MODEL  # noqa: E402
from export_testing import write_manifest, write_run  # noqa: E402
from fit_testing import TINY, latest  # noqa: E402


def _truncate(prefix):
    (data,) = pathlib.Path(prefix).parent.glob(pathlib.Path(prefix).name + ".data-*")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    return data


@pytest.fixture
def two_checkpoints(tmp_path):
    """A text run with ckpt-5 (recorded) and ckpt-7, whose data file is then truncated."""
    from tf_t2i.models.config import ModelConfig
    from tf_t2i.text.encoder import load_encoder
    from tf_t2i.training.run_dir import make_checkpoint

    data_dir = write_manifest(tmp_path / "data", load_encoder("use-m3").fingerprint)
    run_dir = tmp_path / "run"
    gan = write_run(run_dir, ModelConfig(conditions=["text"], **TINY_MODEL), data_dir=data_dir)
    checkpoints = run_dir / "checkpoints"
    checkpoint_check.record(str(checkpoints / "ckpt-5"))
    gan.step.assign(7)
    manager = tf.train.CheckpointManager(make_checkpoint(gan), str(checkpoints), 3)
    checkpoint_check.record(manager.save(checkpoint_number=7))
    return run_dir


def test_a_recorded_checkpoint_verifies_and_a_truncated_one_is_named(two_checkpoints):
    checkpoints = two_checkpoints / "checkpoints"
    assert checkpoint_check.verify(str(checkpoints / "ckpt-7")) is None
    _truncate(checkpoints / "ckpt-7")
    good, damaged = checkpoint_check.newest_good(checkpoints)
    assert good == str(checkpoints / "ckpt-5")
    ((prefix, reason),) = damaged
    assert prefix == str(checkpoints / "ckpt-7") and "bytes" in reason and ".data-" in reason


def test_a_relative_run_directory_resumes_from_its_intact_checkpoints(two_checkpoints, monkeypatch):
    """`t2i fit --run-dir runs/x --resume` from the folder above: nothing is called damaged."""
    monkeypatch.chdir(two_checkpoints.parent)
    checkpoints = pathlib.Path(two_checkpoints.name) / "checkpoints"  # relative
    assert checkpoint_check.prefixes(checkpoints) == [
        str(checkpoints / "ckpt-7"),
        str(checkpoints / "ckpt-5"),
    ]
    assert checkpoint_check.fall_back(checkpoints, print) == str(checkpoints / "ckpt-7")
    assert not (checkpoints / checkpoint_check.DAMAGED_DIR).exists()
    # with a damaged latest one, the rewritten index still restores from here
    _truncate(checkpoints / "ckpt-7")
    assert checkpoint_check.fall_back(checkpoints, print) == str(checkpoints / "ckpt-5")
    assert tf.train.latest_checkpoint(str(checkpoints)) == str(checkpoints / "ckpt-5")
    assert tf.train.load_checkpoint(tf.train.latest_checkpoint(str(checkpoints))) is not None


def test_a_legacy_checkpoint_without_manifest_is_read_back_tensor_by_tensor(two_checkpoints):
    checkpoints = two_checkpoints / "checkpoints"
    pathlib.Path(f"{checkpoints / 'ckpt-7'}{checkpoint_check.MANIFEST_SUFFIX}").unlink()
    _truncate(checkpoints / "ckpt-7")
    reason = checkpoint_check.verify(str(checkpoints / "ckpt-7"))
    assert reason and "Read less bytes" in reason or "DataLoss" in reason or "Error" in reason


def test_generate_falls_back_to_the_newest_good_checkpoint(two_checkpoints, runner, tmp_path):
    _truncate(two_checkpoints / "checkpoints" / "ckpt-7")
    out = tmp_path / "out.png"
    result = runner.invoke(cli, ["generate", str(two_checkpoints), "a red circle", "-n", "1",
                                 "-o", str(out), "--seed", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ckpt-7 is damaged" in result.output and "using" in result.output
    assert str(two_checkpoints / "checkpoints" / "ckpt-5") in result.output
    assert out.is_file()


def test_every_checkpoint_damaged_is_an_error_naming_them(two_checkpoints, runner):
    for step in (5, 7):
        _truncate(two_checkpoints / "checkpoints" / f"ckpt-{step}")
    result = runner.invoke(cli, ["generate", str(two_checkpoints), "a red circle", "-n", "1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no intact checkpoint" in result.output
    assert "ckpt-7 is damaged" in result.output and "ckpt-5 is damaged" in result.output


def test_config_json_with_missing_keys_names_them(two_checkpoints, runner):
    path = two_checkpoints / "config.json"
    config = json.loads(path.read_text())
    # model.truncation is missing from every run before it, and cannot make a checkpoint misfit
    del config["model"]["ngf"], config["model"]["z_dim"], config["model"]["truncation"]
    path.write_text(json.dumps(config))
    result = runner.invoke(cli, ["generate", str(two_checkpoints), "a red circle", "-n", "1"])
    assert result.exit_code == 2, result.output
    assert "lacks model.ngf, model.z_dim, so" in result.output


def test_resume_without_config_json_is_an_error(two_checkpoints, runner):
    (two_checkpoints / "config.json").unlink()
    result = runner.invoke(cli, ["fit", "--run-dir", str(two_checkpoints), "--resume"])
    assert result.exit_code == 2, result.output
    assert "config.json is missing" in result.output
    assert sorted(p.name for p in (two_checkpoints / "checkpoints").glob("*.index")) == [
        "ckpt-5.index",
        "ckpt-7.index",
    ]  # nothing was trained into the run


def test_fit_resume_falls_back_from_a_truncated_latest_checkpoint(runner, tmp_path):
    run_dir = tmp_path / "run"
    args = ["fit", *TINY, "--steps", "4", "--set", "train.checkpoint_every=2",
            "--set", "train.sample_every=100", "--run-dir", str(run_dir)]  # fmt: skip
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert (run_dir / "checkpoints" / "ckpt-4.sha256.json").is_file()
    _truncate(latest(run_dir))
    more = runner.invoke(cli, ["fit", "--run-dir", str(run_dir), "--resume", "--steps", "5"])
    assert more.exit_code == 0, more.output
    assert "ckpt-4 is damaged" in more.output
    assert f"resuming from {run_dir / 'checkpoints' / 'ckpt-2'}" in more.output
    assert "done: step 5/5 (3 steps" in more.output
    assert latest(run_dir).endswith("ckpt-5")
    assert (run_dir / "checkpoints" / "damaged" / "ckpt-4.index").is_file()
