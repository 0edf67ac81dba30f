"""Data sources by name. `get_source("reed", "/data/cub", ...)` returns a Source.

Each module holds one Source subclass; they are imported lazily so that a
source's optional dependencies are only needed when it is used.
"""

from __future__ import annotations

import importlib

from tf_t2i.errors import T2IError

# name -> "module:Class"
SOURCES = {
    "shapes": "tf_t2i.data.sources.shapes:ShapesSource",
    "digits": "tf_t2i.data.sources.digits:DigitsSource",
    "reed": "tf_t2i.data.sources.reed:ReedSource",
    "celeba": "tf_t2i.data.sources.celeba:CelebASource",
    "sun": "tf_t2i.data.sources.sun:SunSource",
    "tfds": "tf_t2i.data.sources.tfds:TfdsSource",
    "folder": "tf_t2i.data.sources.folder:FolderSource",
    "stackgan": "tf_t2i.data.sources.stackgan:StackGanSource",
    "reed-t7": "tf_t2i.data.sources.reed_t7:ReedT7Source",
    "damsm": "tf_t2i.data.sources.damsm:DamsmSource",
}

# sources that need no PATH argument
BUILT_IN = ("shapes", "digits")


def source_names() -> list[str]:
    return [*SOURCES, "tfds:NAME"]


def get_source(name: str, path: str | None = None, **options):
    """Builds the source called `name` ("tfds:mnist" passes the TFDS name on)."""
    key, _, tfds_name = name.partition(":")
    if key not in SOURCES:
        raise T2IError(f"unknown source {name!r}; choose one of {', '.join(source_names())}")
    if key == "tfds":
        if not tfds_name:
            raise T2IError("the tfds source needs a name: tfds:mnist, tfds:oxford_flowers102, ...")
        options["tfds_name"] = tfds_name
    if key not in BUILT_IN and key != "tfds" and path is None:
        raise T2IError(f"source {key!r} needs a PATH to its data")
    return source_class(key)(path, **options)


def source_class(name: str) -> type:
    """The class of the source called `name` (imported on demand)."""
    module_name, cls_name = SOURCES[name.partition(":")[0]].split(":")
    return getattr(importlib.import_module(module_name), cls_name)
