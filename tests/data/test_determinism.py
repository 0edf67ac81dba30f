"""Conversion is byte-for-byte reproducible: across processes, resumes and --workers."""

import hashlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tf_t2i.data import schema

# Runs in a fresh process (protobuf's map order is seeded per process): converts
# 30 shapes into argv[2]; with argv[3] == "resume", the first attempt dies after
# two chunks and a second one (2 workers) resumes it.
_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
from conftest import HashEncoder
from tf_t2i.data.convert import convert
from tf_t2i.data.sources import get_source

class Dies:
    def __init__(self, source, after):
        self.source, self.after = source, after
    def info(self):
        return self.source.info()
    def examples(self, split):
        for i, item in enumerate(self.source.examples(split)):
            if split == "train" and i == self.after:
                raise KeyboardInterrupt("killed")
            yield item

source = get_source("shapes", num_images=30, image_size=16, seed=3)
options = dict(encoder=HashEncoder(), image_size=16, shard_size=8, progress=False)
if sys.argv[3] == "resume":
    try:
        convert(Dies(source, 17), sys.argv[2], **options)
        raise SystemExit("the first attempt should have died")
    except KeyboardInterrupt:
        pass
    convert(source, sys.argv[2], workers=2, **options)
else:
    convert(source, sys.argv[2], **options)
"""


def _digests(directory):
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(pathlib.Path(directory).iterdir())
    }


def test_examples_are_serialized_with_a_fixed_key_order():
    from tensorflow.core.example import example_pb2

    raw = schema.make_example(
        image=b"png", image_format="png", height=1, width=1, image_id="x",
        captions=["a"], embeddings=np.zeros([1, 2], np.float32), mask=b"m",
    )  # fmt: skip
    parsed = example_pb2.Example.FromString(raw)
    assert parsed.SerializeToString(deterministic=True) == raw


@pytest.mark.large  # ~30 s: two fresh processes, one with 2 spawned workers
def test_two_processes_resumed_or_not_any_workers_write_identical_bytes(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "random"}
    tests_data = str(pathlib.Path(__file__).parent)
    runs = {"clean": tmp_path / "clean", "resumed": tmp_path / "resumed"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, tests_data, str(out), mode],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for out, mode in ((runs["clean"], "clean"), (runs["resumed"], "resume"))
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    clean, resumed = _digests(runs["clean"]), _digests(runs["resumed"])
    assert "dataset.json" in clean and len(clean) >= 5
    assert clean == resumed  # every shard, skipped.jsonl and the manifest
    from tf_t2i.evaluation.evaluator import dataset_fingerprint

    prints = {dataset_fingerprint(schema.read_manifest(d)) for d in runs.values()}
    assert len(prints) == 1
