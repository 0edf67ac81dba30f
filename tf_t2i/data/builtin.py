"""The built-in data cache: shapes and digits, converted once on first use.

    data_dir = ensure_builtin("shapes", image_size=64, num_images=4000)

The cache key is the source's options and the conversion's, so a change of
either converts anew; concurrent processes share one conversion through a
file lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import os
import pathlib

from tf_t2i.data import schema
from tf_t2i.data.convert import convert
from tf_t2i.data.writer import STATE_FILE
from tf_t2i.errors import T2IError

# options of ensure_builtin that are conversion settings, not source options
_CONVERT_OPTIONS = frozenset(list(inspect.signature(convert).parameters)[2:])


def ensure_builtin(name: str = "shapes", **options) -> pathlib.Path:
    """Converts a built-in source (shapes, digits) into the cache unless already there.

    Args:
        name: "shapes" or "digits".
        **options: conversion options of `convert` (encoder, image_size, ...)
            and the source's own options (num_images, seed, ...).

    Returns:
        The data set directory, under cache_dir("datasets").
    """
    from tf_t2i.cache import cache_dir
    from tf_t2i.data.sources import BUILT_IN, source_class

    if name not in BUILT_IN:
        raise T2IError(f"{name!r} is not a built-in source; choose one of {', '.join(BUILT_IN)}")
    convert_options = {k: v for k, v in options.items() if k in _CONVERT_OPTIONS}
    source_options = {k: v for k, v in options.items() if k not in _CONVERT_OPTIONS}
    convert_options.setdefault("encoder", "use-m3")
    spec = convert_options["encoder"]
    if not isinstance(spec, str):
        spec = spec.spec
    key = [name, source_options, {**convert_options, "encoder": spec}]
    revision = source_class(name).cache_revision(source_options)
    if revision > 1:  # the first revision keeps the digests of existing caches
        key.append({"revision": revision})
    blob = json.dumps(key, sort_keys=True)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    out_dir = cache_dir("datasets", f"{name}-{digest}")
    # several processes (e.g. multi-worker training on one host) may ask at once:
    # one converts while the others wait, then find it done
    with open(out_dir.with_name(out_dir.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _finished(out_dir):
            return out_dir
        size = convert_options.get("stored_size") or convert_options.get("image_size", 64)
        source = builtin_source(name, size, **source_options)
        convert(source, out_dir, **convert_options)
    return out_dir


def _finished(data_dir: pathlib.Path) -> bool:
    """Whether data_dir holds a finished conversion whose shards are all there."""
    if not (data_dir / schema.MANIFEST_FILE).is_file() or (data_dir / STATE_FILE).exists():
        return False
    manifest = schema.read_manifest(data_dir)
    return all(
        os.path.isfile(path) for split in manifest.splits
        for path in manifest.shard_files(data_dir, split)
    )  # fmt: skip


def builtin_source(name: str, stored_size: int, /, **options):
    """A built-in source (shapes, digits) that renders at `stored_size` unless
    `options` give its own `image_size`.

    They draw or upsample their images, so making them at the size they are
    stored avoids resampling twice.
    """
    from tf_t2i.data.sources import get_source

    options.setdefault("image_size", stored_size)
    return get_source(name, None, **options)
