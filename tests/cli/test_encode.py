"""`t2i encode`: texts and caption files -> float32 [N, D] .npy."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tf_t2i.cli.main import cli

CAPTIONS = pathlib.Path(__file__).parents[1] / "text" / "data" / "captions_en.txt"


@pytest.fixture(scope="module")
def use_m3():
    from tf_t2i.text.encoder import load_encoder

    return load_encoder("use-m3")


def test_encode_texts_and_file(runner, use_m3, tmp_path):
    captions = tmp_path / "captions.txt"
    lines = ["a red bird", "", "une fleur jaune à cinq pétales", "a man " * 3000]
    captions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "nested" / "emb.npy"
    result = runner.invoke(
        cli, ["encode", "ein kleiner Vogel", "", "--file", str(captions), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"N=6 D=512 encoder=use-m3 fingerprint={use_m3.fingerprint}" in result.output
    emb = np.load(out)
    assert emb.dtype == np.float32 and emb.shape == (6, 512)
    np.testing.assert_allclose(emb, use_m3.encode(["ein kleiner Vogel", ""] + lines), atol=1e-6)


def test_empty_batch_writes_zero_rows(runner, use_m3, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    out = tmp_path / "emb.npy"
    result = runner.invoke(cli, ["encode", "--file", str(empty), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "N=0 D=512" in result.output
    assert np.load(out).shape == (0, 512)


def test_non_utf8_file_names_the_line(runner, tmp_path):
    bad = tmp_path / "captions.txt"
    bad.write_bytes("a bird\nune fleur à\n".encode() + "café latin-1\n".encode("latin-1"))
    out = tmp_path / "emb.npy"
    result = runner.invoke(cli, ["encode", "--file", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{bad}, line 3: not valid UTF-8" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_bad_encoder_and_missing_file_are_clear_errors(runner, tmp_path):
    result = runner.invoke(cli, ["encode", "x", "--encoder", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such directory" in result.output
    result = runner.invoke(cli, ["encode", "--file", str(tmp_path / "missing.txt")])
    assert result.exit_code == 2 and "missing.txt" in result.output
    assert "Traceback" not in result.output


def test_t2i_encode_as_a_user_runs_it(use_m3, tmp_path):
    t2i = pathlib.Path(sys.executable).with_name("t2i")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [str(t2i), "encode", "--file", str(CAPTIONS), "--out", "emb.npy"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    n = len(CAPTIONS.read_text(encoding="utf-8").splitlines())
    assert f"N={n} D=512" in proc.stdout and use_m3.fingerprint in proc.stdout
    assert np.load(tmp_path / "emb.npy").shape == (n, 512)
