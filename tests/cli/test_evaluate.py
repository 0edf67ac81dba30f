"""`t2i evaluator train` and `t2i evaluate` as a user runs them, on a tiny real run:
shapes converted with the offline encoder, two training steps, the evaluator."""

import json

import pytest

from tf_t2i.cli.main import cli

TINY_FIT = ["--image-size", "32", "--batch-size", "16", "--steps", "2"]
TINY_FIT += ["--set", "model.ngf=8", "--set", "model.ndf=8", "--set", "model.ema_decay=0.5"]


def _ok(runner, args):
    result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """(data dir, run dir) after convert -> fit, before any evaluator exists."""
    from click.testing import CliRunner

    runner, root = CliRunner(), tmp_path_factory.mktemp("evaluate")
    data, run = root / "data", root / "run"
    _ok(runner, ["convert", "shapes", "--out", data, "--image-size", "32", "-o", "num_images=200"])
    _ok(runner, ["fit", "--data", data, *TINY_FIT, "--run-dir", run])
    return data, run


def test_evaluate_without_an_evaluator_says_how_to_train_one(runner, workspace):
    data, run = workspace
    result = runner.invoke(cli, ["evaluate", str(run), "--data", str(data)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"train one first with `t2i evaluator train --data {data}`" in result.output


def test_train_then_evaluate_a_run_twice_gives_the_same_figures(runner, workspace, tmp_path):
    data, run = workspace
    trained = _ok(runner, ["evaluator", "train", "--data", data, "--epochs", "2"])
    assert "evaluator accuracy on real 'test' images" in trained.output
    assert (data / "evaluator" / "evaluator.keras").is_file()

    outs = [tmp_path / "first.json", tmp_path / "second.json"]
    for out in outs:
        args = ["evaluate", run, "--data", data, "--num-samples", "16", "--seed", "5"]
        result = _ok(runner, [*args, "--out", out])
        assert "FID real-vs-real" in result.output and "class accuracy" in result.output
        assert "diversity / real, class" in result.output
    first, second = (json.loads(p.read_text()) for p in outs)
    for key in ("fid", "fid_real_baseline", "kid", "class_accuracy", "diversity"):
        assert first[key] == second[key], key
    assert first["step"] == 2 and first["num_samples"] == 16 and first["seed"] == 5
    assert first["generator"] == "ema" and "drawn by ema" in result.output

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in records if r.get("event") == "evaluate"]
    assert len(evaluations) == 2 and evaluations[-1]["fid"] == first["fid"]


def test_raw_generator_evaluates_g_itself_and_needs_a_run(runner, workspace, tmp_path):
    data, run = workspace
    if not (data / "evaluator" / "evaluator.keras").is_file():
        _ok(runner, ["evaluator", "train", "--data", data, "--epochs", "1"])
    common = ["--data", data, "--num-samples", "16", "--seed", "5"]
    _ok(runner, ["evaluate", run, *common, "--out", tmp_path / "ema.json"])
    _ok(runner, ["evaluate", run, *common, "--raw-generator", "--out", tmp_path / "raw.json"])
    ema, raw = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("ema", "raw"))
    assert (ema["generator"], raw["generator"]) == ("ema", "generator")
    assert ema["fid"] != raw["fid"]  # two steps apart from G: other weights, other images

    saved_model = tmp_path / "savedmodel"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"")
    result = runner.invoke(
        cli, ["evaluate", str(saved_model), "--data", str(data), "--raw-generator"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--raw-generator needs a run directory" in result.output


def test_truncation_is_recorded_and_published_fid_options_need_a_protocol(
    runner, workspace, tmp_path
):
    data, run = workspace
    if not (data / "evaluator" / "evaluator.keras").is_file():
        _ok(runner, ["evaluator", "train", "--data", data, "--epochs", "1"])
    common = ["evaluate", run, "--data", data, "--num-samples", "16", "--seed", "5"]
    zero = _ok(runner, [*common, "--truncation", "0", "--out", tmp_path / "p.json"])
    assert "truncation" not in zero.output.splitlines()[0]
    plain = json.loads((tmp_path / "p.json").read_text())
    result = _ok(runner, [*common, "--truncation", "0.5", "--out", tmp_path / "t.json"])
    assert "truncation 0.5" in result.output
    truncated = json.loads((tmp_path / "t.json").read_text())
    assert plain["truncation"] is None
    assert truncated["truncation"] == {"scale": 0.5, "bound": 2.0}
    assert truncated["fid"] != plain["fid"]  # the same seed, other noise: other images

    for option in (["--passes", "2"], ["--reference-stats", "stats.npz"]):
        result = runner.invoke(cli, [str(a) for a in [*common, *option]])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert f"{option[0]} belong to a published FID: add --protocol" in result.output


def test_the_model_truncation_is_the_default_and_truncation_0_forces_plain_noise(
    runner, workspace, tmp_path
):
    import shutil

    data, run = workspace
    if not (data / "evaluator" / "evaluator.keras").is_file():
        _ok(runner, ["evaluator", "train", "--data", data, "--epochs", "1"])
    # the same weights with model.truncation 0.5 in config.json: truncation never changes training
    narrow = tmp_path / "narrow"
    shutil.copytree(run, narrow)
    config = json.loads((narrow / "config.json").read_text())
    config["model"]["truncation"] = 0.5
    (narrow / "config.json").write_text(json.dumps(config))
    common = ["--data", data, "--num-samples", "16", "--seed", "5"]
    result = _ok(runner, ["evaluate", narrow, *common, "--out", tmp_path / "own.json"])
    assert "truncation 0.5 (the model's)" in result.output.splitlines()[0]
    _ok(runner, ["evaluate", run, *common, "--truncation", "0.5", "--out", tmp_path / "set.json"])
    _ok(runner, ["evaluate", narrow, *common, "--truncation", "0", "--out", tmp_path / "0.json"])
    _ok(runner, ["evaluate", run, *common, "--truncation", "0", "--out", tmp_path / "plain.json"])
    _ok(runner, ["evaluate", run, *common, "--out", tmp_path / "recipe.json"])
    own, given, zero, plain, recipe = (
        json.loads((tmp_path / f"{name}.json").read_text())
        for name in ("own", "set", "0", "plain", "recipe")
    )
    assert own["truncation"] == {"scale": 0.5, "bound": 2.0}
    assert own["fid"] == given["fid"] and own["diversity"] == given["diversity"]
    assert zero["truncation"] is None and plain["truncation"] is None
    assert zero["fid"] == plain["fid"] != own["fid"]
    # the run itself samples at its recipe's truncation (the shapes recipe's 0.7)
    recipe_truncation = json.loads((run / "config.json").read_text())["model"]["truncation"]
    assert recipe_truncation > 0
    assert recipe["truncation"] == {"scale": recipe_truncation, "bound": 2.0}


def test_a_saved_model_is_evaluated_at_the_truncation_its_model_card_records(
    runner, workspace, tmp_path
):
    from export_testing import toy_module

    from tf_t2i.data.schema import read_manifest
    from tf_t2i.export.savedmodel import write_savedmodel

    data, _ = workspace
    if not (data / "evaluator" / "evaluator.keras").is_file():
        _ok(runner, ["evaluator", "train", "--data", data, "--epochs", "1"])
    classes = len(read_manifest(data).class_names)
    module, _ = toy_module(("class",), num_classes=classes, truncation=0.5)
    card = {"sampling": {"truncation": 0.5, "bound": 2.0}}
    saved = write_savedmodel(module, tmp_path / "savedmodels", "narrow", card=lambda *_: card).path
    common = ["evaluate", saved, "--data", data, "--num-samples", "16", "--seed", "5"]
    result = _ok(runner, [*common, "--out", tmp_path / "own.json"])
    assert "truncation 0.5 (the model's)" in result.output.splitlines()[0]
    result = _ok(runner, [*common, "--truncation", "0", "--out", tmp_path / "0.json"])
    assert "truncation" not in result.output.splitlines()[0]
    own, zero = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("own", "0"))
    assert own["truncation"] == {"scale": 0.5, "bound": 2.0} and zero["truncation"] is None
    assert own["fid"] != zero["fid"]


def test_evaluator_of_other_data_and_offline_inception_are_clear_errors(
    runner, workspace, tmp_path, monkeypatch
):
    data, run = workspace
    other = tmp_path / "other"
    _ok(runner, ["convert", "shapes", "--out", other, "--image-size", "32", "-o", "num_images=40"])
    evaluator = data / "evaluator" / "evaluator.keras"
    if not evaluator.is_file():
        _ok(runner, ["evaluator", "train", "--data", data, "--epochs", "1"])
    result = runner.invoke(
        cli, ["evaluate", str(run), "--data", str(other), "--evaluator", str(evaluator)]
    )
    assert result.exit_code == 2 and "trained on another data set" in result.output

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    result = runner.invoke(
        cli, ["evaluate", str(run), "--data", str(data), "--features", "inception"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (
        "Inception-v3 ImageNet weights" in result.output and "--inception-weights" in result.output
    )


@pytest.mark.large
def test_a_saved_model_scores_like_its_run(runner, workspace, tmp_path):
    data, run = workspace
    if not (data / "evaluator" / "evaluator.keras").is_file():
        _ok(runner, ["evaluator", "train", "--data", data, "--epochs", "1"])
    _ok(runner, ["export", run, "--out", tmp_path / "savedmodels"])
    common = ["--data", data, "--num-samples", "16"]
    _ok(runner, ["evaluate", run, *common, "--out", tmp_path / "run.json"])
    _ok(
        runner,
        ["evaluate", tmp_path / "savedmodels" / "run", *common, "--out", tmp_path / "sm.json"],
    )
    from_run = json.loads((tmp_path / "run.json").read_text())
    from_saved = json.loads((tmp_path / "sm.json").read_text())
    # same weights and noise; the served images are uint8, hence approx
    assert from_saved["fid"] == pytest.approx(from_run["fid"], rel=0.05)
    assert from_saved["class_accuracy"] == pytest.approx(from_run["class_accuracy"], abs=0.07)
