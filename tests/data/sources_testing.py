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
