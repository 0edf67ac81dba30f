"""`t2i evaluate`'s style figures on a tiny real run with a style encoder, from its run
directory and from its export (the style_transfer endpoint, fed PNG images)."""

import json

import pytest

from tf_t2i.cli.main import cli

TINY_FIT = ["--image-size", "32", "--batch-size", "16", "--steps", "2"]
TINY_FIT += ["--set", "model.ngf=8", "--set", "model.ndf=8"]
TINY_FIT += ["--set", "model.style_encoder=true", "--set", "train.style_steps=2"]


def _ok(runner, args):
    result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.large
def test_style_figures_of_a_run_and_of_its_export(runner, tmp_path):
    data, run, exported = tmp_path / "data", tmp_path / "run", tmp_path / "savedmodels"
    _ok(runner, ["convert", "shapes", "--out", data, "--image-size", "32", "-o", "num_images=300"])
    _ok(runner, ["fit", "--data", data, *TINY_FIT, "--run-dir", run])
    _ok(runner, ["evaluator", "train", "--data", data, "--epochs", "1"])
    _ok(runner, ["export", run, "--out", exported])
    figures = {}
    for name, source in (("run", run), ("export", exported / "run")):
        args = ["evaluate", source, "--data", data, "--num-samples", "30", "--out"]
        result = _ok(runner, [*args, tmp_path / f"{name}.json"])
        assert "background spread (of max)" in result.output
        assert "transfer keeps background" in result.output
        figures[name] = json.loads((tmp_path / f"{name}.json").read_text())["style"]
    for style in figures.values():
        assert style["groups"] == ["background"]
        spread = style["spread"]["background"]
        assert 0.0 <= spread["spread"] <= 1.0 and spread["seeds"] == 32
        transfer = style["transfer"]
        assert transfer["pairs"] == 30
        assert 0.0 <= transfer["keeps_style"]["background"] <= 1.0
    # the same weights and noise; served images are uint8 PNGs, hence approx
    for key in ("keeps_style", "keeps_style_chance"):
        assert figures["export"]["transfer"][key]["background"] == pytest.approx(
            figures["run"]["transfer"][key]["background"], abs=0.1
        )
