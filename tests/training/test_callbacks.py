"""The callbacks on their own: grids, metrics history on resume, NaN guard, plots, gif."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from tf_t2i.training import callbacks as cb


def test_image_grid_layout_and_range():
    images = np.full((6, 16, 16, 1), -1.0, np.float32)
    images[4] = 1.0  # row 1, column 1 is white
    grid = cb.image_grid(images, rows=2, cols=3, labels=["a red circle", "a blue square"])
    pixels = np.asarray(grid)
    assert grid.mode == "RGB"
    # 16 px tiles are enlarged 4x to 64 px, with a 2 px gutter and the label margin
    assert grid.size == (190 + 3 * 66 + 2, 2 * 66 + 2)
    left, top = 190 + 2 + 66, 2 + 66
    assert (pixels[top + 10, left + 10] == 255).all()
    assert (pixels[top + 10, left + 10 + 66] == 0).all()
    assert (pixels[:, :190] < 128).any()  # the captions are drawn


def test_to_uint8_clips_and_rounds():
    out = cb.to_uint8(np.array([[[[-2.0, -1.0, 0.0]]]], np.float32))
    assert out.tolist() == [[[[0, 0, 128]]]]


def test_nan_guard_names_the_step_and_loss():
    guard = cb.NanGuard()
    guard.on_train_batch_end(3, {"d_loss": 1.0, "g_loss": 2.0, "images_per_sec": math.nan})
    with pytest.raises(cb.NonFiniteLossError, match=r"step 7: g_loss=inf"):
        guard.on_train_batch_end(7, {"d_loss": 1.0, "g_loss": math.inf})


def test_metrics_log_drops_lines_after_the_resumed_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": step, "d_loss": 1.0}) for step in (10, 20, 30)]
    path.write_text("\n".join(lines) + '\n{"step": 4')  # a torn last line from a kill
    log = cb.MetricsLog(path, every=10, start_step=20)
    log.on_train_begin()
    log.on_train_batch_end(25, {"d_loss": 2.0})  # not a logging step
    log.on_train_batch_end(30, {"d_loss": 3.0, "g_loss": float("nan")})
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30]
    assert records[-1]["d_loss"] == 3.0 and records[-1]["g_loss"] == "nan"
    assert not list(tmp_path.glob(".*tmp*"))  # the rewrite left no temporary file


def test_loss_plot_and_gif(tmp_path):
    metrics = cb.MetricsLog(tmp_path / "metrics.jsonl", every=1)
    metrics.on_train_begin()
    for step in range(1, 6):
        metrics.on_train_batch_end(step, {"d_loss": 1.0 / step, "g_loss": float(step)})
    cb.LossPlot(tmp_path / "losses.png", metrics, every=5).on_train_batch_end(5)
    assert Image.open(tmp_path / "losses.png").format == "PNG"

    calls = []

    def sample_fn():
        calls.append(1)
        return np.zeros((4, 8, 8, 3), np.float32) + len(calls) / 10

    grids = cb.SampleGrids(
        sample_fn, tmp_path / "samples", 2, 2, ["x", "y"], every=2, gif_path=tmp_path / "p.gif"
    )
    grids.on_train_begin({"step": 0})
    for step in range(1, 6):
        grids.on_train_batch_end(step)
    grids.on_train_end({"step": 5})
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == ["step_000000.png", "step_000002.png", "step_000004.png", "step_000005.png"]
    assert Image.open(tmp_path / "p.gif").n_frames == 4


def test_progress_bar_line():
    bar = cb.ProgressBar(total_steps=100, every=10)
    line = bar.line(25, {"d_loss": 1.23456, "g_loss": 2.5, "images_per_sec": 123.4, "eta_sec": 75})
    assert line.startswith("step 25/100 [######")
    assert "d_loss 1.235" in line and "g_loss 2.500" in line
    assert "123 img/s" in line and "eta 1:15" in line


def test_periodic_evaluation_appends_tagged_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    metrics = cb.MetricsLog(path, every=2)
    metrics.on_train_begin()
    figures = iter([{"fid": 12.5, "accuracy": 0.25}, {"fid": 7.0, "accuracy": 0.5}])
    evaluation = cb.PeriodicEvaluation(lambda: next(figures), path, every=2)
    for step in range(1, 5):
        metrics.on_train_batch_end(step, {"d_loss": 1.0, "g_loss": 2.0})
        evaluation.on_train_batch_end(step)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    evaluations = [r for r in records if r.get("event") == "evaluate"]
    assert [(r["step"], r["fid"]) for r in evaluations] == [(2, 12.5), (4, 7.0)]
    assert [r["step"] for r in records if "event" not in r] == [2, 4]
