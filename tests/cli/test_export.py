"""`t2i export` as a user runs it."""

import pathlib
import subprocess
import sys

import pytest

from tf_t2i.cli.main import cli
from tf_t2i.models.config import ModelConfig

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "export"))
from export_testing import TINY, write_run  # noqa: E402

T2I = str(pathlib.Path(sys.executable).parent / "t2i")


def test_export_subprocess_writes_versions_1_then_2(tmp_path):
    run = tmp_path / "runs" / "dcgan"
    write_run(run, ModelConfig(conditions=[], **TINY))  # unconditional: no text encoder to load
    out = tmp_path / "savedmodels"
    for expected in ("1", "2"):
        proc = subprocess.run(
            [T2I, "export", str(run), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert f"dcgan/{expected}" in proc.stdout and "signatures: serving_default" in proc.stdout
    assert sorted(p.name for p in (out / "dcgan").iterdir()) == ["1", "2"]


def test_existing_version_is_refused_before_any_work(tmp_path, runner):
    (tmp_path / "savedmodels" / "m" / "3").mkdir(parents=True)
    run = tmp_path / "run"
    run.mkdir()
    args = [
        "export",
        str(run),
        "--name",
        "m",
        "--version",
        "3",
        "--out",
        str(tmp_path / "savedmodels"),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "version 3 exists already" in result.output
    assert list((tmp_path / "savedmodels" / "m" / "3").iterdir()) == []


def test_bad_name_and_not_a_run_dir(tmp_path, runner):
    result = runner.invoke(cli, ["export", str(tmp_path), "--name", "../evil"])
    assert result.exit_code == 2 and "--name '../evil'" in result.output
    result = runner.invoke(cli, ["export", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not a tf_t2i run directory" in result.output
    assert "Traceback" not in result.output


@pytest.mark.large
def test_fit_export_generate_end_to_end(tmp_path):
    """A real `t2i fit` run, exported, gives the same grid from the run and the SavedModel."""

    def t2i(*args):
        proc = subprocess.run(
            [T2I, *args], capture_output=True, text=True, cwd=tmp_path, timeout=900
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    t2i(
        "fit",
        "--steps",
        "4",
        "--batch-size",
        "16",
        "--set",
        "model.ngf=16",
        "--set",
        "model.ndf=16",
        "--set",
        "train.sample_every=4",
        "--set",
        "train.checkpoint_every=4",
        "--run-dir",
        "runs/shapes",
    )
    assert "savedmodels/shapes/1" in t2i("export", "runs/shapes")
    for source, out in (("savedmodels/shapes", "export.png"), ("runs/shapes", "run.png")):
        t2i(
            "generate",
            source,
            "a red circle",
            "a blue square",
            "-n",
            "4",
            "--seed",
            "3",
            "--grid",
            "-o",
            out,
        )
    assert (tmp_path / "export.png").read_bytes() == (tmp_path / "run.png").read_bytes()
