"""Bring your own data: a folder of images plus `captions.jsonl`.

Layout:

    ROOT/captions.jsonl     one JSON object per line:
        {"file": "cats/001.jpg",              image path relative to ROOT (required)
         "captions": ["a cat on a sofa", ...], one or more captions (required)
         "attributes": [0, 1, 0.5],           float vector, same length on every line
         "mask": "masks/001.png",             single-channel PNG relative to ROOT
         "label": "cat" or 3,                 class name or index
         "split": "train" | "val" | "test"}    default "train"
    ROOT/attributes.txt     optional: attribute names, one per line
    ROOT/<images and masks anywhere below ROOT>

Images under ROOT that no line mentions are reported as no_captions.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

import numpy as np

from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.sources import files
from tf_t2i.data.sources.base import Source, SourceInfo
from tf_t2i.errors import T2IError

SPLITS = ("train", "val", "test")


@dataclasses.dataclass
class _Entry:
    """One parsed line of captions.jsonl."""

    where: str
    file: str
    split: str
    captions: list
    attributes: list | None
    mask: str | None
    label: int | str | None


class FolderSource(Source):
    """Images listed in `captions.jsonl` (see the module docstring).

    Args:
        path: the folder holding `captions.jsonl`.
        annotations: the JSON-lines file name, relative to `path`.
    """

    name = "folder"

    def __init__(self, path, *, annotations="captions.jsonl"):
        self.root = files.require_dir(path, "image folder")
        self.annotation_file = files.require_file(self.root / annotations, "caption list")
        self._options = {"annotations": str(annotations)}
        self.entries, self.problems = self._parse()
        self.class_names, self.label_index = self._classes()
        lengths = {len(e.attributes) for e in self.entries if e.attributes is not None}
        names_file = self.root / "attributes.txt"
        n_attributes = max(lengths, default=0)
        if names_file.is_file():
            self.attribute_names = names_file.read_text("utf-8").split("\n")
            self.attribute_names = [n.strip() for n in self.attribute_names if n.strip()]
        else:
            self.attribute_names = [f"attribute_{i}" for i in range(n_attributes)]

    def info(self) -> SourceInfo:
        present = {e.split for e in self.entries}
        return SourceInfo(
            name=self.name,
            splits=[s for s in SPLITS if s in present] or ["train"],
            class_names=list(self.class_names),
            attribute_names=list(self.attribute_names),
            captions_per_image=max((len(e.captions) for e in self.entries), default=0),
            has_masks=any(e.mask for e in self.entries),
            options=dict(self._options),
        )

    def examples(self, split: str) -> Iterator[Record | Skipped]:
        """Yields the split's lines in file order; problems without a split go with train."""
        if split not in SPLITS:
            raise T2IError(f"folder: no split {split!r}; splits: {', '.join(SPLITS)}")
        for problem in self.problems:
            if (problem.split or "train") == split:
                yield problem
        n_attributes = len(self.attribute_names)
        for entry in self.entries:
            if entry.split != split:
                continue
            if n_attributes and len(entry.attributes or ()) != n_attributes:
                found = len(entry.attributes or ())
                detail = f"{found} attributes, expected {n_attributes}"
                yield Skipped("bad_annotation", entry.where, detail, split)
                continue
            if not entry.captions:
                yield Skipped("no_captions", entry.where, f"no captions for {entry.file}", split)
                continue
            image_path = self.root / entry.file
            image = files.read_image(image_path, split)
            if isinstance(image, Skipped):
                yield image
                continue
            mask = None
            if entry.mask:
                mask = files.read_image(self.root / entry.mask, split)
                if isinstance(mask, Skipped):
                    yield mask
                    continue
            label = self.label_index.get(entry.label, -1) if entry.label is not None else -1
            yield Record(
                image=image,
                image_id=entry.file,
                split=split,
                captions=entry.captions,
                label=label,
                label_text=self.class_names[label] if label >= 0 else "",
                attributes=None
                if entry.attributes is None
                else np.asarray(entry.attributes, np.float32),
                mask=mask,
                source_file=str(image_path),
            )

    def _parse(self) -> tuple[list[_Entry], list[Skipped]]:
        """Reads every line; returns the usable entries and the per-line problems."""
        entries, problems = [], []
        listed = set()
        with open(self.annotation_file, "rb") as f:
            for number, raw in enumerate(f, start=1):
                where = f"{self.annotation_file}:{number}"
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    problems.append(
                        Skipped("bad_caption_encoding", where, f"not UTF-8 ({err.reason})")
                    )
                    listed.update(_mentioned_files(raw.decode("utf-8", "replace")))
                    continue
                entry = _parse_line(text, where)
                if isinstance(entry, Skipped):
                    problems.append(entry)
                    # its image is reported by this line already, not again as unlisted
                    listed.update(_mentioned_files(text))
                    continue
                entries.append(entry)
                listed.update(p for p in (entry.file, entry.mask) if p)
        for image in sorted(self.root.rglob("*")):
            relative = image.relative_to(self.root).as_posix()
            if image.suffix.lower() in files.IMAGE_SUFFIXES and relative not in listed:
                problems.append(
                    Skipped("no_captions", str(image), f"not listed in {self.annotation_file}")
                )
        return entries, problems

    def _classes(self) -> tuple[list[str], dict]:
        """Class names and label value -> index; names sort, indices keep their number."""
        labels = {e.label for e in self.entries if e.label is not None}
        if all(isinstance(label, int) for label in labels):
            names = [str(i) for i in range(max(labels, default=-1) + 1)]
            return names, {i: i for i in range(len(names))}
        if all(isinstance(label, str) for label in labels):
            names = sorted(labels)
            return names, {name: i for i, name in enumerate(names)}
        raise T2IError(f"{self.annotation_file}: labels mix class names and indices")


def _mentioned_files(text: str) -> list[str]:
    """The "file" and "mask" paths a broken captions.jsonl line names, if any can be read.

    A line that is not valid JSON still names its image in most cases (a
    missing comma elsewhere, a cut-off caption): the first `"file": "..."`
    string is taken then.
    """
    try:
        item = json.loads(text)
    except json.JSONDecodeError:
        item = None
    if isinstance(item, dict):
        return [p for p in (item.get("file"), item.get("mask")) if isinstance(p, str) and p]
    found = re.search(r'"file"\s*:\s*("(?:[^"\\]|\\.)*")', text)
    if not found:
        return []
    try:
        return [json.loads(found.group(1))]
    except json.JSONDecodeError:
        return []


def _parse_line(text: str, where: str) -> _Entry | Skipped:
    """One captions.jsonl line -> _Entry, or Skipped(bad_annotation) saying what is wrong."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as err:
        return Skipped("bad_annotation", where, f"invalid JSON: {err.msg}")
    if not isinstance(item, dict):
        return Skipped("bad_annotation", where, "expected a JSON object")
    split = item.get("split", "train")
    if split not in SPLITS:
        return Skipped("bad_annotation", where, f"split must be one of {SPLITS}, got {split!r}")

    def bad(detail):
        return Skipped("bad_annotation", where, detail, split)

    file = item.get("file")
    if not isinstance(file, str) or not file:
        return bad('"file" (the image path) is required')
    captions = item.get("captions", [])
    if isinstance(captions, str):
        captions = [captions]
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        return bad('"captions" must be a list of strings')
    captions = [c.strip() for c in captions if c.strip()]
    attributes = item.get("attributes")
    if attributes is not None and not (
        isinstance(attributes, list)
        and all(isinstance(a, int | float) and not isinstance(a, bool) for a in attributes)
    ):
        return bad('"attributes" must be a list of numbers')
    mask = item.get("mask")
    if mask is not None and not isinstance(mask, str):
        return bad('"mask" must be a path')
    label = item.get("label")
    if label is not None and (isinstance(label, bool) or not isinstance(label, int | str)):
        return bad('"label" must be a class name or index')
    if isinstance(label, int) and label < 0:
        return bad('"label" index must be >= 0')
    return _Entry(where, file, split, captions, attributes, mask, label)
