"""`t2i generate` from a SavedModel dir and from a server (toy exports, no USE needed).

Generation from a run dir, and its agreement with the export, is tested with
the real encoder in tests/export/test_savedmodel.py.
"""

import pathlib
import sys

import numpy as np
import pytest
from PIL import Image

from tf_t2i.cli.main import cli

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "export"))
from export_testing import running_server, toy_export  # noqa: E402


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("savedmodels")
    toy_export(root, "toy", style_encoder=True)
    toy_export(root, "classes", conditions=("class",), num_classes=3)
    toy_export(root, "narrow", truncation=0.001)  # model.truncation: one image per caption
    return root


def _images(paths):
    return np.stack([np.asarray(Image.open(p)) for p in paths])


def test_generate_from_savedmodel_files_and_grid(toy_root, tmp_path, runner):
    args = [
        "generate",
        str(toy_root / "toy"),
        "a red circle",
        "a blue square",
        "-n",
        "3",
        "--seed",
        "4",
    ]
    result = runner.invoke(cli, args + ["-o", str(tmp_path / "one.png")])
    assert result.exit_code == 0, result.output
    files = [tmp_path / f"one-{i}.png" for i in range(6)]
    singles = _images(files)
    assert singles.shape == (6, 32, 32, 3)
    result = runner.invoke(cli, args + ["-o", str(tmp_path / "grid.png"), "--grid"])
    assert result.exit_code == 0, result.output
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (2 * 32, 3 * 32, 3)  # a row per caption
    np.testing.assert_array_equal(grid[32:, 64:], singles[5])


def test_generate_through_the_server_matches_the_savedmodel(toy_root, tmp_path, runner):
    local = runner.invoke(
        cli,
        [
            "generate",
            str(toy_root / "toy" / "1"),
            "a green triangle",
            "-n",
            "2",
            "--seed",
            "9",
            "-o",
            str(tmp_path / "local.png"),
        ],
    )
    assert local.exit_code == 0, local.output
    with running_server(toy_root) as server:
        remote = runner.invoke(
            cli,
            [
                "generate",
                "--server",
                f"{server.url}/toy",
                "a green triangle",
                "-n",
                "2",
                "--seed",
                "9",
                "-o",
                str(tmp_path / "remote.png"),
            ],
        )
        assert remote.exit_code == 0, remote.output
        bad = runner.invoke(cli, ["generate", "--server", f"{server.url}/nope", "a"])
        assert bad.exit_code == 2 and "HTTP 404" in bad.output
    for i in range(2):
        np.testing.assert_array_equal(
            _images([tmp_path / f"local-{i}.png"]), _images([tmp_path / f"remote-{i}.png"])
        )


def _four_triangles(runner, tmp_path, source, model, name, *extra):
    """int [4, H, W, C]: `t2i generate` of "a green triangle", -n 4, seed 3, from a run or
    export path or a server URL (its MODEL)."""
    where = ["--server", f"{source}/{model}"] if source.startswith("http") else [source]
    args = ["generate", *where, "a green triangle", "-n", "4", "--seed", "3", *extra]
    result = runner.invoke(cli, [*args, "-o", str(tmp_path / f"{name}.png")])
    assert result.exit_code == 0, result.output
    return _images([tmp_path / f"{name}-{i}.png" for i in range(4)]).astype(int)


def test_truncation_narrows_the_samples_the_same_way_locally_and_through_the_server(
    toy_root, tmp_path, runner
):
    def generate(source, name, *extra):
        return _four_triangles(runner, tmp_path, source, "toy", name, *extra)

    local = str(toy_root / "toy")
    plain = generate(local, "plain")
    narrow = generate(local, "narrow", "--truncation", "0.001")
    wide = generate(local, "wide", "--truncation", "1.0")
    assert np.abs(plain - plain[:1]).max() > 10  # four seeds, four images
    assert np.abs(narrow - narrow[:1]).max() <= 2  # |z| <= 0.002: one image, to rounding
    assert np.abs(wide - wide[:1]).max() > 10
    np.testing.assert_array_equal(generate(local, "again", "--truncation", "1.0"), wide)
    with running_server(toy_root) as server:
        np.testing.assert_array_equal(generate(server.url, "remote", "--truncation", "1.0"), wide)


def test_the_model_truncation_is_the_default_and_truncation_0_is_plain_noise(
    toy_root, tmp_path, runner
):
    def generate(source, name, *extra):
        return _four_triangles(runner, tmp_path, source, "narrow", name, *extra)

    narrow, toy = str(toy_root / "narrow"), str(toy_root / "toy")
    own = generate(narrow, "own")
    assert np.abs(own - own[:1]).max() <= 2  # the export's truncation 0.001: one image
    plain = generate(narrow, "plain", "--truncation", "0")
    assert np.abs(plain - plain[:1]).max() > 10  # N(0, 1): four seeds-rows, four images
    # --truncation S draws what an export at S draws from the seed: at the model's own, the same
    np.testing.assert_array_equal(generate(narrow, "same", "--truncation", "0.001"), own)
    np.testing.assert_array_equal(generate(toy, "toy"), generate(toy, "toy0", "--truncation", "0"))
    with running_server(toy_root) as server:
        np.testing.assert_array_equal(generate(server.url, "remote"), own)
        np.testing.assert_array_equal(generate(server.url, "remote0", "--truncation", "0"), plain)


def test_interpolate_and_style_transfer(toy_root, tmp_path, runner):
    result = runner.invoke(
        cli,
        [
            "generate",
            str(toy_root / "toy"),
            "--interpolate",
            "a red circle",
            "a blue square",
            "--steps",
            "5",
            "-n",
            "2",
            "--seed",
            "1",
            "--grid",
            "-o",
            str(tmp_path / "strip.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(tmp_path / "strip.png")).shape == (64, 160, 3)
    style = tmp_path / "style.png"
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(style)
    result = runner.invoke(
        cli,
        [
            "generate",
            str(toy_root / "toy"),
            "--style-from",
            str(style),
            "a",
            "b",
            "c",
            "-o",
            str(tmp_path / "styled.png"),
            "--grid",
        ],
    )
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(tmp_path / "styled.png")).shape == (32, 96, 3)


def test_class_model_takes_class_ids(toy_root, tmp_path, runner):
    result = runner.invoke(
        cli,
        [
            "generate",
            str(toy_root / "classes"),
            "0",
            "2",
            "-n",
            "2",
            "--seed",
            "3",
            "-o",
            str(tmp_path / "c.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("c-*.png"))) == 4
    result = runner.invoke(cli, ["generate", str(toy_root / "classes"), "zero"])
    assert result.exit_code == 2 and "not a valid label" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give a SOURCE"),
        (["{root}/nowhere", "a"], "no such run dir or SavedModel dir"),
        (["{root}/toy"], "give at least one condition"),
        (["{root}/classes", "--interpolate", "a", "b"], "no 'interpolate' signature"),
        (["{root}/toy", "--style-from", "{root}/toy/1/saved_model.pb", "a"], "image"),
        (["{root}/toy", "--interpolate", "a", "b", "--truncation", "0.5"], "an interpolation"),
        (
            ["{root}/toy", "--style-from", "{root}/toy/1/saved_model.pb", "a", "--truncation", "0"],
            "style transfer takes its noise from the style image",
        ),
        (["{root}/toy", "a", "--truncation", "-0.5"], "not in the range x>=0"),
    ],
)
def test_generate_errors_are_clear(toy_root, runner, args, message):
    result = runner.invoke(cli, ["generate"] + [a.format(root=toy_root) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
