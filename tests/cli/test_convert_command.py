"""`t2i convert` as a user runs it (real shapes/folder data, the real use-m3 encoder).

(Named test_convert_command.py: tests/data/test_convert.py holds the library tests,
and pytest needs distinct module names in folders without __init__.py.)
"""

import json
import shutil

from tf_t2i.cli.main import cli
from tf_t2i.data.schema import read_manifest

FOLDER_FIXTURE = __import__("pathlib").Path(__file__).parents[1] / "data/fixtures/folder"


def test_convert_shapes(runner, tmp_path):
    out = tmp_path / "shapes"
    result = runner.invoke(cli, [
        "convert", "shapes", "--out", str(out), "-o", "num_images=30",
        "--image-size", "32", "--stored-size", "36", "--shard-size", "10", "--split", "train",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "train: 27 examples in 3 shard(s)" in result.output
    assert "images/s" in result.stderr  # the progress bar
    manifest = read_manifest(out)
    assert list(manifest.splits) == ["train"] and manifest.num_examples("train") == 27
    assert manifest.encoder["spec"] == "use-m3" and manifest.encoder["dim"] == 512
    assert (manifest.image_size, manifest.crop_size) == (36, 32)
    assert manifest.source["options"]["num_images"] == 30
    assert manifest.source["options"]["image_size"] == 36  # rendered at the stored size


def test_strict_names_the_bad_file(runner, tmp_path):
    root = shutil.copytree(FOLDER_FIXTURE, tmp_path / "folder")
    (root / "images/cat_2.png").write_bytes(b"\x89PNG but not really")
    args = ["convert", "folder", str(root), "--image-size", "16", "--quiet"]
    result = runner.invoke(cli, [*args, "--out", str(tmp_path / "strict"), "--strict"])
    assert result.exit_code == 2
    assert "Error:" in result.output and "images/cat_2.png: corrupt_image" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "strict/dataset.json").exists()

    result = runner.invoke(cli, [*args, "--out", str(tmp_path / "lenient")])
    assert result.exit_code == 0, result.output
    assert "skipped: corrupt_image 1" in result.output
    listed = [json.loads(line) for line in (tmp_path / "lenient/skipped.jsonl").open()]
    assert listed[0]["file"].endswith("images/cat_2.png")


def test_user_errors_before_any_work(runner, tmp_path):
    out = str(tmp_path / "x")
    cases = [
        (["convert", "pictures", "--out", out], "unknown source 'pictures'"),
        (["convert", "folder", "--out", out], "source 'folder' needs a PATH"),
        (["convert", "shapes", "--out", out, "-o", "num_images"], "is not KEY=VALUE"),
        (["convert", "shapes", "--out", out, "-o", "num_images=0"], "num_images must be"),
        (
            ["convert", "shapes", "--out", out, "-o", "colour=red"],
            "no option colour; its options are num_images",
        ),
        (["convert", "shapes", "--out", out, "--split", "val"], "no split 'val'"),
        (["convert", "shapes", "--out", out, "--resize", "squash"], "squash"),
        (["convert", "shapes"], "--out"),
    ]
    for args, message in cases:
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_help_lists_options(runner):
    result = runner.invoke(cli, ["convert", "--help"])
    assert result.exit_code == 0
    for option in ("--image-size", "--stored-size", "--resize", "--shards", "--workers",
                   "--encoder", "--limit", "--split", "--strict", "--overwrite"):  # fmt: skip
        assert option in result.output
