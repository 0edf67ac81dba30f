"""Source -> validated, resized images + encoded captions -> TFRecord shards + manifest.

    source = get_source("shapes", num_images=2000)
    convert(source, "data/shapes", encoder="use-m3", image_size=64)

Images are decoded and checked with PIL (optionally in worker processes),
resized to a square by a resize policy and re-encoded (PNG or JPEG); captions
are embedded in batches by the text encoder; bad inputs are skipped, counted by
reason and listed in skipped.jsonl, or with `strict=True` stop the conversion
with an error naming the file. Writing goes through `ShardedWriter`, so an
interrupted conversion resumes when rerun.

This module holds the conversion's options and its loop over splits and
chunks; prepare.py checks and serializes one chunk, images.py decodes, resizes
and encodes, builtin.py keeps the cache of the built-in sources.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import itertools
import json
import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator, Sequence

from tf_t2i import __version__
from tf_t2i.data import schema
from tf_t2i.data.images import IMAGE_FORMATS, RESIZE_POLICIES, ImageOptions
from tf_t2i.data.prepare import Plan, prepare_chunk, serialize_examples
from tf_t2i.data.writer import ShardedWriter
from tf_t2i.errors import T2IError
from tf_t2i.text.limits import CaptionLimits

DEFAULT_SHARD_SIZE = 1000


def _is_precomputed(encoder) -> bool:
    from tf_t2i.text.precomputed import PrecomputedEmbeddings

    return isinstance(encoder, PrecomputedEmbeddings)


def convert(
    source,
    out_dir: str | os.PathLike,
    *,
    encoder="use-m3",
    image_size: int = 64,
    stored_size: int | None = None,
    resize: str = "center-crop",
    image_format: str = "png",
    channels: int = 3,
    shard_size: int = DEFAULT_SHARD_SIZE,
    num_shards: int | None = None,
    workers: int = 1,
    splits: Sequence[str] | None = None,
    limit: int | None = None,
    strict: bool = False,
    overwrite: bool = False,
    batch_size: int = 256,
    progress: bool = True,
    caption_limits: CaptionLimits | None = None,
) -> schema.Manifest:
    """Converts a source into a data set directory.

    Args:
        source: a `tf_t2i.data.sources.base.Source`.
        out_dir: the data set directory to write.
        encoder: a text encoder (`spec`, `dim`, `fingerprint`, `encode(texts)`),
            an encoder spec for `tf_t2i.text.encoder.load_encoder`, or
            "precomputed": the embeddings the source publishes with its
            records (tf_t2i/text/precomputed.py).
        image_size: the side images are trained at (manifest `crop_size`).
        stored_size: the side images are stored at (manifest `image_size`);
            larger than `image_size` for Reed-style random crops (76 for 64).
            Defaults to `image_size`.
        resize: resize policy, one of RESIZE_POLICIES.
        image_format: "png" or "jpeg".
        channels: 3 or 1.
        shard_size: inputs per shard (the unit of resumption).
        num_shards: if given, count the inputs first and size shards so that
            each split has about this many.
        workers: processes that decode and resize images (1 = in process).
        splits: the splits to convert (default: all the source has).
        limit: convert at most this many inputs per split.
        strict: the first bad input raises T2IError naming its file.
        overwrite: replace a data set converted with other options in `out_dir`.
        batch_size: captions per text encoder call.
        progress: show a progress bar with images/s on stderr.
        caption_limits: captions over these limits are dropped (skip reason
            caption_too_long, one line each in skipped.jsonl); an image left
            without captions is skipped. Default: CaptionLimits().

    Returns:
        The manifest written to `out_dir/dataset.json`.

    Raises:
        T2IError: bad options, a bad input under `strict`, or `out_dir` holding
            another conversion without `overwrite`.
    """
    stored_size = stored_size or image_size
    if stored_size < image_size:
        raise T2IError(f"stored size {stored_size} is smaller than image size {image_size}")
    if resize not in RESIZE_POLICIES:
        raise T2IError(f"resize policy {resize!r}: choose one of {', '.join(RESIZE_POLICIES)}")
    if image_format not in IMAGE_FORMATS:
        raise T2IError(f"image format {image_format!r}: choose one of {', '.join(IMAGE_FORMATS)}")
    if channels not in (1, 3):
        raise T2IError(f"channels must be 1 or 3, not {channels}")
    if shard_size < 1 or (num_shards is not None and num_shards < 1):
        raise T2IError("shard size and number of shards must be positive")
    info = source.info()
    splits = list(splits or info.splits)
    unknown = [s for s in splits if s not in info.splits]
    if unknown:
        raise T2IError(
            f"source {info.name!r} has no split {', '.join(map(repr, unknown))}; "
            f"it has {', '.join(info.splits)}"
        )
    if isinstance(encoder, str):
        from tf_t2i.text import precomputed

        if precomputed.is_precomputed(encoder):  # the source's published embeddings
            encoder = precomputed.source_embeddings(source)
        else:
            from tf_t2i.text.encoder import load_encoder

            encoder = load_encoder(encoder)
    image_options = ImageOptions(stored_size, resize, image_format, channels)
    conversion = {
        "image_size": image_size,
        "stored_size": stored_size,
        "resize": resize,
        "image_format": image_format,
        "channels": channels,
        "shard_size": shard_size,
        "num_shards": num_shards,
        "splits": splits,
        "limit": limit,
    }
    caption_limits = caption_limits or CaptionLimits()
    if caption_limits != CaptionLimits():  # the defaults keep existing data sets' keys
        conversion["caption_limits"] = dataclasses.asdict(caption_limits)
    encoder_info = {
        "spec": encoder.spec,
        "dim": int(encoder.dim),
        "fingerprint": encoder.fingerprint,
    }
    key = _conversion_key(info, conversion, encoder_info)
    writer = ShardedWriter(out_dir, key, overwrite=overwrite)
    if writer.up_to_date:
        return schema.read_manifest(out_dir)

    plan = Plan(
        image=image_options,
        num_attributes=len(info.attribute_names),
        has_masks=bool(info.has_masks),
        shard_size=shard_size,
        limit=limit,
        strict=strict,
        batch_size=batch_size,
        progress=progress,
        precomputed_dim=int(encoder.dim) if _is_precomputed(encoder) else 0,
        caption_limits=caption_limits,
    )
    executor = _executor(workers)
    try:
        for split in splits:
            if writer.split_complete(split):
                continue
            split_plan = plan
            if num_shards is not None:
                total = sum(1 for _ in _limited(source.examples(split), limit))
                split_plan = dataclasses.replace(plan, shard_size=max(1, -(-total // num_shards)))
            _convert_split(source, split, writer, encoder, split_plan, executor)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)

    chunks = [c for s in splits for c in writer.chunks(s)]
    manifest = schema.Manifest(
        schema_version=schema.SCHEMA_VERSION,
        source={"name": info.name, "options": info.options},
        image_size=stored_size,
        crop_size=image_size,
        channels=channels,
        encoder=encoder_info,
        splits={},
        class_names=list(info.class_names),
        attribute_names=list(info.attribute_names),
        captions_per_image=max([c.get("max_captions", 0) for c in chunks] or [0]),
        has_masks=bool(info.has_masks),
        random_flip=bool(getattr(source, "flip_invariant", True)),
        conversion={**conversion, "tf_t2i_version": __version__},
        style_groups=list(info.style_groups),
        held_out_classes=list(info.held_out_classes),
    )
    return writer.finalize(manifest)


def _conversion_key(info, conversion: dict, encoder_info: dict) -> str:
    blob = json.dumps(
        {
            "schema_version": schema.SCHEMA_VERSION,
            "source": [info.name, info.options],
            "conversion": conversion,
            "encoder": encoder_info,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _limited(items: Iterable, limit: int | None) -> Iterator:
    return iter(items) if limit is None else itertools.islice(items, limit)


def _executor(workers: int):
    if workers <= 1:
        return None
    # spawn, not fork: forking a process that has TensorFlow loaded can deadlock
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn")
    )


def _convert_split(source, split, writer, encoder, plan: Plan, executor) -> None:
    """Writes the split's remaining chunks, resuming after those already done."""
    from tqdm import tqdm

    shard_size = plan.shard_size
    done = writer.chunks_done(split)
    items = _limited(source.examples(split), plan.limit)
    # inputs of finished chunks are read again but not processed
    items = itertools.islice(items, done * shard_size, None)
    already = sum(c["num_examples"] for c in writer.chunks(split))
    bar = tqdm(
        desc=split, unit=" images", initial=already, disable=not plan.progress,
        file=sys.stderr, dynamic_ncols=True, smoothing=0.1,
    )  # fmt: skip
    try:
        for index in itertools.count(done):
            chunk = list(itertools.islice(items, shard_size))
            if not chunk and index > 0:
                break
            prepared, skipped = prepare_chunk(chunk, split, plan, executor)
            if skipped and plan.strict:
                first = skipped[0]
                raise T2IError(f"{first['file']}: {first['reason']}: {first['detail']}")
            examples = serialize_examples(prepared, encoder, plan)
            writer.write_chunk(
                split, index, examples, skipped,
                max_captions=max([len(p.captions) for p in prepared] or [0]),
            )  # fmt: skip
            bar.update(len(examples))
            if len(chunk) < shard_size:
                break
    finally:
        bar.close()
    writer.mark_complete(split)
