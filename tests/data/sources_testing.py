"""Helpers for the source tests: copy a fixture to break it, count what a source yields."""

from __future__ import annotations

import pathlib
import shutil

from tf_t2i.data.record import Record, Skipped

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


def copy_fixture(name: str, tmp_path: pathlib.Path) -> pathlib.Path:
    """Copies tests/data/fixtures/NAME to tmp_path so a test can damage it."""
    return pathlib.Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def split_counts(source) -> dict[str, int]:
    """Split -> number of Records (Skipped not counted) over the source's splits."""
    return {
        split: sum(isinstance(e, Record) for e in source.examples(split))
        for split in source.info().splits
    }


def records(source, split: str) -> list[Record]:
    return [e for e in source.examples(split) if isinstance(e, Record)]


def skipped(source, splits=None) -> list[Skipped]:
    """Every Skipped the source yields over `splits` (default: all of its splits)."""
    return [
        e
        for split in (splits or source.info().splits)
        for e in source.examples(split)
        if isinstance(e, Skipped)
    ]


def convert_and_read(source, out_dir: pathlib.Path, encoder, split: str = "train"):
    """Converts `source` into real TFRecords at 16 px; returns the manifest and the
    split's first tf.train.Example parsed with the schema's feature spec (dense tensors)."""
    import tensorflow as tf

    from tf_t2i.data import schema
    from tf_t2i.data.convert import convert

    manifest = convert(source, out_dir, encoder=encoder, image_size=16, progress=False)
    assert schema.read_manifest(out_dir).splits == manifest.splits
    shards = [str(out_dir / shard["file"]) for shard in manifest.splits[split]["shards"]]
    raw = next(iter(tf.data.TFRecordDataset(shards)))
    parsed = tf.io.parse_single_example(raw, schema.feature_spec())
    example = {
        key: (tf.sparse.to_dense(value) if isinstance(value, tf.SparseTensor) else value).numpy()
        for key, value in parsed.items()
    }
    return manifest, example
