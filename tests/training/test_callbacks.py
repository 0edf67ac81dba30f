"""The callbacks on their own: step counting, grids, metrics history on resume, NaN guard,
plots, gif, progress bar. Under keras.Model.fit: test_callbacks_under_model_fit.py."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from tf_t2i.data.images import to_uint8
from tf_t2i.training import callbacks as cb
from tf_t2i.training import grids
from tf_t2i.training import metrics_log as ml


def run_steps(callback, steps, logs=None):
    """Drives `callback` as loop.py does: batch index i is the (i+1)-th step of this run."""
    for index in range(steps):
        callback.on_train_batch_end(index, logs)


def test_image_grid_layout_and_range():
    images = np.full((6, 16, 16, 1), -1.0, np.float32)
    images[4] = 1.0  # row 1, column 1 is white
    grid = grids.image_grid(images, rows=2, cols=3, labels=["a red circle", "a blue square"])
    pixels = np.asarray(grid)
    assert grid.mode == "RGB"
    # 16 px tiles are enlarged 4x to 64 px, with a 2 px gutter and the label margin
    assert grid.size == (190 + 3 * 66 + 2, 2 * 66 + 2)
    left, top = 190 + 2 + 66, 2 + 66
    assert (pixels[top + 10, left + 10] == 255).all()
    assert (pixels[top + 10, left + 10 + 66] == 0).all()
    assert (pixels[:, :190] < 128).any()  # the captions are drawn


@pytest.mark.parametrize("word", ["carré", "großes", "ɣ", "круг", "κύκλος"])
def test_grid_labels_draw_captions_in_other_languages(word):
    # U+E000 (private use) has a glyph in no font: a character drawn like it is a box
    images = np.zeros((2, 16, 16, 3), np.float32)

    def grid(**labels):
        return np.asarray(grids.image_grid(images, rows=1, cols=2, **labels))

    for where in ("labels", "column_labels"):
        missing = "".join("\ue000" if ord(char) > 127 else char for char in word)
        drawn, boxes = grid(**{where: [word]}), grid(**{where: [missing]})
        assert not np.array_equal(drawn, boxes), where


def test_grid_labels_in_chinese_use_an_installed_cjk_font():
    word = "红色圆形"
    fonts = [path for path in grids._font_files() if set(map(ord, word)) <= grids._charmap(path)]
    if not fonts:
        pytest.skip("no font with Chinese glyphs is installed (e.g. apt install fonts-noto-cjk)")
    assert grids.label_font(word).path == fonts[0]
    assert grids.label_font("carré").path == grids._font_files()[0]  # DejaVu Sans


def test_to_uint8_clips_and_rounds():
    out = to_uint8(np.array([[[[-2.0, -1.0, 0.0]]]], np.float32))
    assert out.tolist() == [[[[0, 0, 128]]]]


def test_steps_are_counted_from_keras_batch_indices():
    counter = cb.StepCallback()
    counter.on_train_begin({"step": 10})  # loop.py gives the resumed step
    for batch in (0, 1, 2, 0, 1, 2):  # Model.fit: the index restarts every epoch
        counter.on_train_batch_end(batch)
    assert counter.step == 16
    counter.on_train_begin({"step": 0})
    for batch in (3, 7, 3, 7):  # steps_per_execution=4: the last index of each execution
        counter.on_train_batch_end(batch)
    assert counter.step == 16
    counter.on_train_begin()  # no model, no logs: from 0
    assert counter.step == 0


def test_nan_guard_names_the_step_and_loss():
    guard = cb.NanGuard()
    assert isinstance(guard, __import__("keras").callbacks.TerminateOnNaN)
    guard.on_train_begin({"step": 4})
    guard.on_train_batch_end(0, {"d_loss": 1.0, "g_loss": 2.0, "images_per_sec": math.nan})
    with pytest.raises(cb.NonFiniteLossError, match=r"step 6: g_loss=inf"):
        guard.on_train_batch_end(1, {"d_loss": 1.0, "g_loss": math.inf})


def test_metrics_log_drops_lines_after_the_resumed_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": step, "d_loss": 1.0}) for step in (10, 20, 30)]
    path.write_text("\n".join(lines) + '\n{"step": 4')  # a torn last line from a kill
    log = ml.MetricsLog(path, every=10)
    log.on_train_begin({"step": 20})
    run_steps(log, 9, {"d_loss": 2.0})  # steps 21..29: not logging steps
    log.on_train_batch_end(9, {"d_loss": 3.0, "g_loss": float("nan")})  # step 30
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30]
    assert records[-1]["d_loss"] == 3.0 and records[-1]["g_loss"] == "nan"
    assert not list(tmp_path.glob(".*tmp*"))  # the rewrite left no temporary file


def test_loss_plot_and_gif(tmp_path):
    metrics = ml.MetricsLog(tmp_path / "metrics.jsonl", every=1)
    metrics.on_train_begin()
    for step in range(1, 6):
        metrics.on_train_batch_end(step - 1, {"d_loss": 1.0 / step, "g_loss": float(step)})
    plot = ml.LossPlot(tmp_path / "losses.png", metrics, every=5)
    plot.on_train_begin()
    run_steps(plot, 5)
    assert Image.open(tmp_path / "losses.png").format == "PNG"

    calls = []

    def sample_fn():
        calls.append(1)
        return np.zeros((4, 8, 8, 3), np.float32) + len(calls) / 10

    sample_grids = grids.SampleGrids(
        sample_fn, tmp_path / "samples", 2, 2, ["x", "y"], every=2, gif_path=tmp_path / "p.gif"
    )
    sample_grids.on_train_begin({"step": 0})
    run_steps(sample_grids, 5)
    sample_grids.on_train_end()
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == ["step_000000.png", "step_000002.png", "step_000004.png", "step_000005.png"]
    assert Image.open(tmp_path / "p.gif").n_frames == 4


def test_progress_bar_is_keras_progbar_in_plain_lines_off_a_terminal(capsys):
    import io

    stream = io.StringIO()
    bar = cb.ProgressBar(total_steps=100, every=10, stream=stream)
    bar.on_train_begin({"step": 80})  # resumed: the bar counts this run's 20 steps
    logs = {"d_loss": 1.23456, "g_loss": 2.5, "images_per_sec": 123.4, "eta_sec": 75}
    run_steps(bar, 20, logs)
    bar.on_train_end()
    lines = stream.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["10/20", "20/20"]  # steps 90 and 100
    assert "d_loss: 1.2346 - g_loss: 2.5000 - img/s: 123.4000" in lines[-1]
    assert "━" * 10 + "." * 10 in lines[0]  # Keras's bar, half done, without colour codes
    assert "\x1b" not in stream.getvalue()
    assert capsys.readouterr().out == ""  # Progbar writes to stdout: redirected


def test_periodic_evaluation_appends_tagged_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    metrics = ml.MetricsLog(path, every=2)
    metrics.on_train_begin()
    figures = iter([{"fid": 12.5, "accuracy": 0.25}, {"fid": 7.0, "accuracy": 0.5}])
    evaluation = ml.PeriodicEvaluation(lambda: next(figures), path, every=2)
    evaluation.on_train_begin()
    for index in range(4):
        metrics.on_train_batch_end(index, {"d_loss": 1.0, "g_loss": 2.0})
        evaluation.on_train_batch_end(index)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    evaluations = [r for r in records if r.get("event") == "evaluate"]
    assert [(r["step"], r["fid"]) for r in evaluations] == [(2, 12.5), (4, 7.0)]
    assert [r["step"] for r in records if "event" not in r] == [2, 4]
