"""tf_t2i/files.py: atomic writes and reading a run's metrics.jsonl."""

import os

import pytest

from tf_t2i import files


def test_atomic_write_takes_text_and_bytes_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "config.json"
    files.atomic_write(path, "{}\n")
    assert path.read_text() == "{}\n"
    files.atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["config.json"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    with pytest.raises(TypeError):
        files.atomic_write(path, 3)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_read_metrics_skips_torn_lines_and_keeps_evaluation_records(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert files.read_metrics(path) == []
    path.write_text(
        '{"step": 1, "d_loss": 1.0}\n[1, 2]\n{"event": "evaluate", "step": 1, "fid": 9}\n{"step": 2, "d_'
    )
    assert files.read_metrics(path) == [
        {"step": 1, "d_loss": 1.0},
        {"event": "evaluate", "step": 1, "fid": 9},
    ]
