"""The sharded writer: atomic shards, manifest last, resume, refusal to clobber, kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from tf_t2i.data import schema
from tf_t2i.data.writer import STATE_FILE, ShardedWriter, file_sha256
from tf_t2i.errors import T2IError


def _manifest():
    return schema.Manifest(
        schema_version=schema.SCHEMA_VERSION, source={"name": "t", "options": {}},
        image_size=8, channels=3, encoder={"spec": "s", "dim": 2, "fingerprint": "f"}, splits={},
    )  # fmt: skip


def _records(path):
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path))]


def _write(writer, split, chunks):
    for i, examples in enumerate(chunks):
        writer.write_chunk(split, i, examples, [])
    writer.mark_complete(split)


def test_shards_published_with_final_names_and_manifest_last(tmp_path):
    writer = ShardedWriter(tmp_path, "k1")
    writer.write_chunk("train", 0, [b"a", b"b"], [])
    # mid-conversion: a finished chunk under its working name, no manifest yet
    assert sorted(os.listdir(tmp_path)) == [STATE_FILE, "train-00000.tfrecord.done"]
    writer.write_chunk("train", 1, [], [{"reason": "corrupt_image", "file": "x.jpg"}])
    writer.write_chunk("train", 2, [b"c"], [{"reason": "no_captions", "file": "y.jpg"}])
    writer.mark_complete("train")
    _write(writer, "test", [[b"d"]])
    manifest = writer.finalize(_manifest())
    assert sorted(os.listdir(tmp_path)) == [
        "dataset.json", "skipped.jsonl", "test-00000-of-00001.tfrecord",
        "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord",
    ]  # fmt: skip
    assert manifest.splits["train"]["num_examples"] == 3  # the empty chunk has no shard
    assert _records(tmp_path / "train-00001-of-00002.tfrecord") == [b"c"]
    for shard in manifest.splits["train"]["shards"] + manifest.splits["test"]["shards"]:
        assert file_sha256(tmp_path / shard["file"]) == shard["sha256"]
    assert manifest.skipped == {"corrupt_image": 1, "no_captions": 1}
    lines = (tmp_path / "skipped.jsonl").read_text().splitlines()
    assert [json.loads(line)["file"] for line in lines] == ["x.jpg", "y.jpg"]
    assert schema.read_manifest(tmp_path) == manifest
    assert ShardedWriter(tmp_path, "k1").up_to_date

    # a shard deleted by hand: the same conversion is redone, not trusted
    (tmp_path / "test-00000-of-00001.tfrecord").unlink()
    redo = ShardedWriter(tmp_path, "k1")
    assert not redo.up_to_date and redo.chunks_done("train") == 0
    assert sorted(os.listdir(tmp_path)) == [STATE_FILE]


def test_resume_keeps_finished_chunks_and_drops_temporaries(tmp_path):
    writer = ShardedWriter(tmp_path, "k1")
    writer.write_chunk("train", 0, [b"a"], [])
    writer.write_chunk("train", 1, [b"b"], [])
    (tmp_path / ".train-00002.tfrecord.done.tmp").write_bytes(b"half a shard")
    done0 = (tmp_path / "train-00000.tfrecord.done").stat().st_mtime_ns
    # chunk 1 damaged after it was recorded: it and anything after it are redone
    (tmp_path / "train-00001.tfrecord.done").write_bytes(b"garbage")

    resumed = ShardedWriter(tmp_path, "k1")
    assert resumed.chunks_done("train") == 1
    assert not (tmp_path / ".train-00002.tfrecord.done.tmp").exists()
    assert (tmp_path / "train-00000.tfrecord.done").stat().st_mtime_ns == done0
    resumed.write_chunk("train", 1, [b"b2"], [])
    resumed.mark_complete("train")
    manifest = resumed.finalize(_manifest())
    assert [s["num_examples"] for s in manifest.splits["train"]["shards"]] == [1, 1]
    assert _records(tmp_path / "train-00001-of-00002.tfrecord") == [b"b2"]


def test_crash_during_finalize_is_finished_by_rerun(tmp_path, monkeypatch):
    writer = ShardedWriter(tmp_path, "k1")
    _write(writer, "train", [[b"a"], [b"b"]])

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # dies after renaming shards, before the manifest

    monkeypatch.setattr(schema, "write_manifest", crash)
    with pytest.raises(KeyboardInterrupt):
        writer.finalize(_manifest())
    monkeypatch.undo()
    assert not (tmp_path / "dataset.json").exists()
    rerun = ShardedWriter(tmp_path, "k1")
    assert not rerun.up_to_date and rerun.split_complete("train")
    manifest = rerun.finalize(_manifest())
    assert manifest.splits["train"]["num_examples"] == 2
    assert not (tmp_path / STATE_FILE).exists()


def test_other_options_need_overwrite(tmp_path):
    writer = ShardedWriter(tmp_path, "k1")
    _write(writer, "train", [[b"a"]])
    writer.finalize(_manifest())
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(T2IError, match="already holds a data set.*--overwrite"):
        ShardedWriter(tmp_path, "k2")
    assert (tmp_path / "dataset.json").exists()  # nothing lost by the refusal

    writer = ShardedWriter(tmp_path, "k2", overwrite=True)
    assert not (tmp_path / "dataset.json").exists()
    assert sorted(os.listdir(tmp_path)) == [STATE_FILE, "notes.txt"]  # the user's file stays
    writer.write_chunk("train", 0, [b"z"], [])
    with pytest.raises(T2IError, match="an interrupted conversion"):
        ShardedWriter(tmp_path, "k3")


def _convert_command(out, num_images):
    return [
        os.path.join(os.path.dirname(sys.executable), "t2i"), "convert", "shapes", "--out", str(out),
        "-o", f"num_images={num_images}", "-o", "image_size=32", "--image-size", "32",
        "--shard-size", "20", "--quiet",
    ]  # fmt: skip


def test_kill_9_mid_conversion_then_rerun_resumes(tmp_path):
    """A real `t2i convert` killed with SIGKILL while writing, then run again."""
    out = tmp_path / "shapes"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = _convert_command(out, 500)
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if len(list(out.glob("train-*.tfrecord.done"))) >= 2:
            break
        time.sleep(0.01)
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    assert not (out / "dataset.json").exists()
    state = json.loads((out / STATE_FILE).read_text())
    finished = len(state["splits"]["train"]["chunks"])
    # killed mid-split (450 train inputs = 23 chunks); the kill may fall between a
    # chunk's rename and its entry in the state file: that chunk is then redone
    assert 1 <= finished < 23
    first = out / "train-00000.tfrecord.done"
    before = (first.stat().st_mtime_ns, file_sha256(first))

    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    manifest = schema.read_manifest(out)
    assert manifest.num_examples("train") == 450 and manifest.num_examples("test") == 50
    for split in ("train", "test"):
        for shard in manifest.splits[split]["shards"]:
            path = out / shard["file"]
            assert file_sha256(path) == shard["sha256"]
            assert sum(1 for _ in tf.data.TFRecordDataset(str(path))) == shard["num_examples"]
    published = out / manifest.splits["train"]["shards"][0]["file"]
    assert (published.stat().st_mtime_ns, file_sha256(published)) == before  # resumed, not redone
    assert not list(out.glob("*.done")) and not list(out.glob(".*"))
