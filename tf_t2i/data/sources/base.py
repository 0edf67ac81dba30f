"""The interface every data source implements."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from tf_t2i.data.record import Record, Skipped


@dataclasses.dataclass
class SourceInfo:
    """What a source knows about itself before reading every example.

    Attributes:
        name: source name as typed on the command line ("shapes", "tfds:mnist").
        splits: split names this source can produce.
        class_names: index -> name, [] if the source has no labels.
        attribute_names: names of the attribute vector entries, [] if none.
        captions_per_image: nominal number of captions per image (0 if unknown).
        has_masks: whether records carry masks.
        options: the options the source was built with, recorded in the manifest.
        style_groups: attribute groups the captions leave to chance (shapes:
            ["background"]), measured by the style metrics of `t2i evaluate`.
        held_out_classes: class names the train split leaves out (zero-shot).
    """

    name: str
    splits: list[str]
    class_names: list[str] = dataclasses.field(default_factory=list)
    attribute_names: list[str] = dataclasses.field(default_factory=list)
    captions_per_image: int = 0
    has_masks: bool = False
    options: dict = dataclasses.field(default_factory=dict)
    style_groups: list[str] = dataclasses.field(default_factory=list)
    held_out_classes: list[str] = dataclasses.field(default_factory=list)


class Source:
    """A raw data set on disk (or built in) that yields Records.

    Subclasses set `name`, take `path` (None for built-in sources) and keyword
    options in `__init__`, raise `tf_t2i.errors.T2IError` naming the file when
    the layout is unusable as a whole (missing root folder, missing required
    annotation file), and yield `Skipped` for individual bad inputs.
    """

    name: str = ""
    # bumped when a built-in source's converted data changes, so that ensure_builtin
    # converts again instead of reusing an older cached copy
    revision: int = 1

    @classmethod
    def cache_revision(cls, options: dict) -> int:
        """The revision of the data these options convert to (built-in sources)."""
        return cls.revision

    def info(self) -> SourceInfo:
        raise NotImplementedError

    def examples(self, split: str) -> Iterator[Record | Skipped]:
        """Yields the split's records in a deterministic order."""
        raise NotImplementedError
