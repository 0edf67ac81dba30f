"""fit(): load_run, NaN stop with the last good checkpoint kept, exact resume, run guards."""

import json
import pathlib

import numpy as np
import pytest
from fit_testing import checkpoint_weights, latest, tiny_config

from tf_t2i.config import load_config
from tf_t2i.errors import T2IError
from tf_t2i.training.fit import TrainingStopped, fit
from tf_t2i.training.run_dir import load_run


def quiet(message):
    pass


def test_load_run_restores_the_trained_networks(tmp_path):
    config = tiny_config("train.steps=3", "train.sample_every=3")
    result = fit(config, tmp_path / "run", log=quiet)
    assert result.step == 3 and result.checkpoint.endswith("ckpt-3")

    run = load_run(tmp_path / "run")
    assert run.step == 3
    assert run.config == result.config
    assert run.model_config.embedding_dim == 512
    assert run.encoder_spec == "use-m3"
    assert run.manifest is not None and run.manifest.image_size == 32
    saved = checkpoint_weights(result.checkpoint)
    # trainable weights are stored under the optimizer that tracks them
    expected = sorted(
        float(np.sum(value))
        for key, value in saved.items()
        if key.startswith("g_optimizer/_trainable_variables/")
    )
    restored = sorted(float(np.sum(v.numpy())) for v in run.gan.generator.trainable_weights)
    assert len(expected) == len(restored) > 0
    np.testing.assert_allclose(restored, expected, rtol=1e-6)
    assert saved["rng_seed_generator/.ATTRIBUTES/VARIABLE_VALUE"].tolist() != [0, 0]
    images = run.gan.generate({"embeddings": np.zeros((2, 512), np.float32)}, seed=1).numpy()
    assert images.shape == (2, 32, 32, 3) and np.abs(images).max() <= 1.0


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = tiny_config(
        "train.steps=6", "train.checkpoint_every=2", "train.nan_at_step=3", "train.sample_every=2"
    )
    with pytest.raises(TrainingStopped) as caught:
        fit(config, tmp_path / "run", log=quiet)
    message = str(caught.value)
    assert "non-finite loss at step 3" in message
    assert "last good checkpoint" in message and message.count("ckpt-2") == 1
    assert latest(tmp_path / "run").endswith("ckpt-2")
    weights = checkpoint_weights(latest(tmp_path / "run"))
    assert all(np.isfinite(value).all() for value in weights.values() if value.dtype.kind == "f")
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [1, 2]
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == [
        "step_000000.png",
        "step_000002.png",
    ]


def test_resume_continues_at_the_step_with_equal_weights(tmp_path):
    # uninterrupted: 4 steps; interrupted: 2 steps, then the same command with 4 (G_ema on)
    every = ("train.checkpoint_every=2", "model.ema_decay=0.9")
    whole = fit(tiny_config("train.steps=4", *every), tmp_path / "a", log=quiet)
    first = fit(tiny_config("train.steps=2", *every), tmp_path / "b", log=quiet)
    assert first.step == 2
    second = fit(tiny_config("train.steps=4", *every), tmp_path / "b", log=quiet)
    assert (second.start_step, second.step) == (2, 4)

    expected, resumed = checkpoint_weights(whole.checkpoint), checkpoint_weights(second.checkpoint)
    assert expected.keys() == resumed.keys()
    assert any(key.startswith("g_optimizer/_variables/") for key in expected)  # Adam moments
    assert any(key.startswith("generator_ema/") for key in expected)  # G's moving average
    for key in expected:
        np.testing.assert_allclose(resumed[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [1, 2, 3, 4]


def test_run_guards(tmp_path):
    fit(tiny_config("train.steps=1"), tmp_path / "run", log=quiet)
    with pytest.raises(T2IError, match="already holds a run"):
        fit(tiny_config("train.steps=2"), tmp_path / "run", resume=False, log=quiet)
    with pytest.raises(T2IError, match=r"different model \(model.ngf\)"):
        fit(tiny_config("train.steps=2", "model.ngf=16"), tmp_path / "run", log=quiet)
    with pytest.raises(T2IError, match="no checkpoint"):
        fit(tiny_config("train.steps=2"), tmp_path / "other", resume=True, log=quiet)


@pytest.fixture(scope="module")
def shapes_dir():
    from tf_t2i.training.setup import resolve_data

    return resolve_data(tiny_config())[0]


@pytest.mark.parametrize("cache", [True, False])
def test_data_cache_is_read_once_for_the_whole_run(tmp_path, shapes_dir, cache):
    # fit makes every epoch's dataset anew; with data.cache they share one cache of the
    # decoded split, so after the first epoch the shards are not read again
    import shutil

    import tensorflow as tf

    from tf_t2i.data.input import make_dataset
    from tf_t2i.data.schema import read_manifest
    from tf_t2i.training.loop import TrainingLoop

    data_dir = tmp_path / "data"
    shutil.copytree(shapes_dir, data_dir)
    config = tiny_config(f"data.cache={str(cache).lower()}")
    steps = read_manifest(data_dir).num_examples("train") // config.train.batch_size
    loop = TrainingLoop(config, tf.distribute.get_strategy(), data_dir, steps, None, 0, 3 * steps)

    def images(iterator):
        return np.concatenate([next(iterator)["images"].numpy() for _ in range(steps)])

    first = images(loop.epoch_iterator(0, 0))
    split = make_dataset(data_dir, batch_size=1, training=False, repeat=False, seed=0)
    every_mean = np.sort([float(example["images"].numpy().mean()) for example in split])
    for shard in data_dir.glob("train-*.tfrecord"):
        shard.rename(shard.with_suffix(".moved"))
    if not cache:
        with pytest.raises(T2IError, match="train-00000-of-.*is missing"):
            loop.epoch_iterator(1, 0)
        return
    second = images(loop.epoch_iterator(1, 0))
    assert len(second) == len(first)
    assert not np.array_equal(first, second)  # epoch 1's own order and augmentation
    # each one is an image of the split (a flip keeps the mean)
    means = second.mean(axis=(1, 2, 3))
    nearest = np.abs(every_mean[None, :] - means[:, None]).min(axis=1)
    assert nearest.max() < 1e-5


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.image_size=64", "stored at 32px, smaller than model.image_size=64"),
        ("data.encoder=other-encoder", "encoder 'use-m3' but the config asks"),
        ("data.split=validation", "split 'validation' is not in this data set"),
        ("train.batch_size=4096", "fewer than one batch of 4096"),
        ("model.conditions=[attributes, class]", None),  # shapes have both: accepted
    ],
)
def test_data_mismatches_are_refused_before_work(tmp_path, shapes_dir, override, message):
    from tf_t2i.training.setup import reconcile

    config = tiny_config("train.steps=1", f"data.dir={shapes_dir}", override)
    if message is None:
        from tf_t2i.data.schema import read_manifest

        manifest = read_manifest(shapes_dir)
        resolved = reconcile(config, shapes_dir, manifest)
        assert resolved.model.num_classes == len(manifest.class_names) > 0
        assert resolved.model.num_attributes == len(manifest.attribute_names) > 0
        return
    with pytest.raises(T2IError, match=message):
        fit(config, tmp_path / "run", log=quiet)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_missing_converted_data_names_the_convert_command(tmp_path):
    config = load_config("cub", [f"data.dir={tmp_path / 'cub'}"])
    with pytest.raises(
        T2IError, match=r"no dataset.json there; make it with: t2i convert stackgan data/birds"
    ):
        fit(config, tmp_path / "run", log=quiet)


def test_the_suggested_convert_command_uses_the_convert_cli_options(tmp_path):
    config = load_config("shapes", [f"data.dir={tmp_path / 'shapes'}"])
    with pytest.raises(T2IError) as raised:
        fit(config, tmp_path / "run", log=quiet)
    command = str(raised.value).split("make it with: ")[1]
    assert command.startswith(f"t2i convert shapes --out {tmp_path / 'shapes'}")
    assert "-o num_images=4000" in command and "--image-size 32" in command
    # every flag in it is one that `t2i convert` accepts

    from tf_t2i.cli.convert import convert as convert_cli

    flags = {p for param in convert_cli.params for p in param.opts}
    assert {word for word in command.split() if word.startswith("-")} <= flags


def test_style_encoder_phase_runs_after_the_gan_and_resumes(tmp_path):
    config = tiny_config(
        "model.style_encoder=true", "train.steps=2", "train.style_steps=2",
        "train.checkpoint_every=3",
    )  # fmt: skip
    result = fit(config, tmp_path / "run", log=quiet)
    assert (result.step, result.total_steps) == (4, 4)
    weights = checkpoint_weights(result.checkpoint)
    assert int(weights["step/.ATTRIBUTES/VARIABLE_VALUE"]) == 2  # GAN steps
    assert int(weights["s_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"]) == 2
    records = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert "s_loss" in records[-1] and "d_loss" in records[0]
    # a larger style budget continues the style phase only
    more = fit(
        tiny_config("model.style_encoder=true", "train.steps=2", "train.style_steps=3"),
        tmp_path / "run",
        log=quiet,
    )
    assert (more.start_step, more.step) == (4, 5)


def test_a_larger_gan_budget_after_the_style_phase_trains_the_style_encoder_again(tmp_path):
    def style_config(gan_steps):
        return tiny_config(
            "model.style_encoder=true", f"train.steps={gan_steps}", "train.style_steps=2",
            "train.checkpoint_every=100",
        )  # fmt: skip

    fit(style_config(2), tmp_path / "run", log=quiet)
    lines = []
    more = fit(style_config(3), tmp_path / "run", log=lines.append)
    # G moves on from step 2, so S, fit to the old G, is trained again after it
    assert (more.start_step, more.step, more.total_steps) == (2, 5, 5)
    assert any("style encoder's 2 steps are redone" in line for line in lines)
    weights = checkpoint_weights(more.checkpoint)
    assert int(weights["step/.ATTRIBUTES/VARIABLE_VALUE"]) == 3
    assert int(weights["s_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"]) == 2
    records = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    # one history: the first run's style steps 3 and 4 gave way to GAN step 3 and S's 4, 5
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]
    assert "d_loss" in records[2] and "s_loss" in records[3] and "s_loss" not in records[2]


def test_an_interrupted_continuation_leaves_no_older_checkpoint_ranked_newest(tmp_path):
    from tf_t2i.training.checkpoint_check import newest_good, prefixes

    def style_config(gan_steps, *more):
        return tiny_config(
            "model.style_encoder=true", f"train.steps={gan_steps}", "train.style_steps=2",
            "train.checkpoint_every=1", *more,
        )  # fmt: skip

    run = tmp_path / "run"
    checkpoints = run / "checkpoints"
    fit(style_config(2), run, log=quiet)  # ckpt-4: the GAN's 2 steps, then S's 2
    old_final = checkpoint_weights(checkpoints / "ckpt-4")
    lines = []
    # continued to 5 GAN steps, and stopped at GAN step 4, below the old ckpt-4
    with pytest.raises(TrainingStopped):
        fit(style_config(5, "train.nan_at_step=4"), run, log=lines.append)
    assert any("the later ckpt-3, ckpt-4 moved to" in line for line in lines), lines
    aside = checkpoints / "superseded" / "step-2"
    assert (aside / "ckpt-4.index").is_file() and (aside / "ckpt-4.sha256.json").is_file()
    # one history: what generate and export load is the continuation's newest checkpoint
    assert [pathlib.Path(p).name for p in prefixes(checkpoints)] == ["ckpt-3", "ckpt-2"]
    assert pathlib.Path(newest_good(checkpoints)[0]).name == "ckpt-3"
    assert pathlib.Path(latest(run)).name == "ckpt-3"
    assert load_run(run).step == 3
    # ckpt-2 is the state the continuation restarted from: the old G and S, style phase undone
    restart = checkpoint_weights(checkpoints / "ckpt-2")
    assert int(restart["step/.ATTRIBUTES/VARIABLE_VALUE"]) == 2
    assert int(restart["s_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"]) == 0
    for key, value in old_final.items():
        if key.startswith(("g_optimizer/_trainable_variables/", "s_optimizer/_trainable")):
            np.testing.assert_array_equal(restart[key], value)
    # and it resumes to the end, past the moved checkpoint's number
    done = fit(style_config(5), run, log=quiet)
    assert (done.start_step, done.step) == (3, 7)
    assert pathlib.Path(newest_good(checkpoints)[0]).name == "ckpt-7"


def test_fit_writes_style_transfer_and_interpolation_grids(tmp_path):
    from PIL import Image

    from tf_t2i.training import samples

    captions = ["a large red circle in the center", "a small blue square", "a green star"]
    config = tiny_config(
        "model.style_encoder=true", "train.steps=2", "train.style_steps=2",
        f"train.sample_captions=[{', '.join(captions)}]",
    )  # fmt: skip
    fit(config, tmp_path / "run", log=quiet)
    tile = 64 + 2  # 32 px images enlarged to 64, 2 px apart
    style = Image.open(tmp_path / "run" / "samples" / "style_transfer.png")
    assert style.width == (1 + len(captions)) * tile + 2  # the style image, then each caption
    assert style.height > samples.STYLE_ROWS * tile  # caption labels on top
    strip = Image.open(tmp_path / "run" / "samples" / "interpolation.png")
    assert strip.width == samples.INTERPOLATION_STEPS * tile + 2
    assert strip.height > samples.INTERPOLATION_ROWS * tile

    run = load_run(tmp_path / "run")
    embeddings = samples.encode_captions(captions, run.manifest)
    images, rows, cols, labels = samples.style_transfer_images(
        run.config, run.gan, run.manifest, run.config.data.dir, embeddings
    )
    assert (rows, cols, labels) == (
        samples.STYLE_ROWS,
        1 + len(captions),
        ["style image", *captions],
    )
    grid = images.reshape(rows, cols, 32, 32, 3)
    expected = run.gan.transfer_style(
        np.repeat(grid[:, 0], len(captions), axis=0), {"embeddings": np.tile(embeddings, (rows, 1))}
    )
    np.testing.assert_allclose(
        grid[:, 1:].reshape(expected.shape), expected.numpy(), rtol=1e-5, atol=1e-5
    )
    strips, rows, steps, _ = samples.interpolation_images(run.config, run.gan, embeddings)
    strips = strips.reshape(rows, steps, 32, 32, 3)
    ends = run.gan.generate({"embeddings": embeddings[[0, 2]]}, noise=_interpolation_noise(run))
    np.testing.assert_allclose(strips[0, [0, -1]], ends.numpy(), rtol=1e-5, atol=1e-5)


def _interpolation_noise(run):
    """The first row's z of samples.interpolation_images (at the model's truncation), twice."""
    from tf_t2i.training import samples

    z = samples.grid_noise(run.config, run.config.train.seed + 1, samples.INTERPOLATION_ROWS)[:1]
    return np.repeat(z, 2, axis=0)


def test_resume_under_mirrored_strategy_continues_with_the_right_batches(tmp_path):
    # 2 replicas fed by one input pipeline: a resumed epoch must skip 2 batches per step
    import subprocess
    import sys

    here = pathlib.Path(__file__).parent
    done = subprocess.run(
        [sys.executable, str(here / "mirrored_resume.py"), str(tmp_path)],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["replicas"], result["start"], result["step"]) == (2, 2, 4)
    assert result["max_abs_diff"] < 1e-5
