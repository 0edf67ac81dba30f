"""Source -> validated, resized images + encoded captions -> TFRecord shards + manifest.

    source = get_source("shapes", num_images=2000)
    convert(source, "data/shapes", encoder="use-m3", image_size=64)

Images are decoded and checked with PIL (optionally in worker processes),
resized to a square by a resize policy and re-encoded (PNG or JPEG); captions
are embedded in batches by the text encoder; bad inputs are skipped, counted by
reason and listed in skipped.jsonl, or with `strict=True` stop the conversion
with an error naming the file. Writing goes through `ShardedWriter`, so an
interrupted conversion resumes when rerun.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import fcntl
import hashlib
import inspect
import io
import itertools
import json
import multiprocessing
import os
import pathlib
import sys
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from tf_t2i import __version__
from tf_t2i.data import schema
from tf_t2i.data.record import Record, Skipped
from tf_t2i.data.writer import STATE_FILE, ShardedWriter
from tf_t2i.errors import T2IError
from tf_t2i.text.limits import CaptionLimits

RESIZE_POLICIES = ("center-crop", "stretch", "pad")
IMAGE_FORMATS = ("png", "jpeg")
DEFAULT_SHARD_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class ImageOptions:
    """How images are stored.

    Attributes:
        stored_size: side of the stored square image.
        resize: one of RESIZE_POLICIES: "center-crop" keeps the central square,
            "stretch" scales both sides to the square, "pad" fits the image
            inside the square on black.
        image_format: "png" (lossless) or "jpeg" (quality 95, smaller).
        channels: 3 (RGB) or 1 (grey).
    """

    stored_size: int = 64
    resize: str = "center-crop"
    image_format: str = "png"
    channels: int = 3


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What converting one split needs besides the source, the writer and the encoder."""

    image: ImageOptions
    num_attributes: int  # every record must carry this many (0: none)
    has_masks: bool  # every record must carry a mask
    shard_size: int
    limit: int | None
    strict: bool
    batch_size: int
    progress: bool
    precomputed_dim: int = 0  # D of the records' own embeddings (0: embed the captions)
    caption_limits: CaptionLimits = CaptionLimits()


@dataclasses.dataclass
class _Prepared:
    """A record whose image (and mask) are validated and re-encoded, captions cleaned."""

    image: bytes
    mask: bytes | None
    record: Record
    captions: list[str]
    embeddings: np.ndarray | None = None  # float32 [len(captions), D], precomputed only
    too_long: list[str] = dataclasses.field(default_factory=list)  # why captions were dropped


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

    plan = _Plan(
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


def _convert_split(source, split, writer, encoder, plan: _Plan, executor) -> None:
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
            prepared, skipped = _prepare_chunk(chunk, split, plan, executor)
            if skipped and plan.strict:
                first = skipped[0]
                raise T2IError(f"{first['file']}: {first['reason']}: {first['detail']}")
            examples = _examples(prepared, encoder, plan)
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


def _prepare_chunk(chunk, split, plan: _Plan, executor):
    """Validates and re-encodes a chunk's records. Returns (prepared, skipped dicts)."""
    records = [item for item in chunk if isinstance(item, Record)]
    if executor is None:
        results = iter([_prepare_record(r, plan) for r in records])
    else:
        results = executor.map(_prepare_record, records, [plan] * len(records), chunksize=16)
    prepared, skipped = [], []
    for item in chunk:
        result = item if isinstance(item, Skipped) else next(results)
        if isinstance(result, Skipped):
            skipped.append(
                {
                    "reason": result.reason,
                    "file": result.file,
                    "detail": result.detail,
                    "split": result.split or split,
                }
            )
        else:
            prepared.append(result)
            for detail in result.too_long:
                skipped.append(
                    {"reason": "caption_too_long", "file": result.record.source_file
                     or result.record.image_id, "detail": detail, "split": split}
                )  # fmt: skip
    return prepared, skipped


def _prepare_record(record: Record, plan: _Plan) -> _Prepared | Skipped:
    """Checks one record and re-encodes its image and mask; a Skipped says why not."""
    file = record.source_file or record.image_id
    options, num_attributes = plan.image, plan.num_attributes

    def skip(reason, detail):
        return Skipped(reason, file, detail, record.split)

    embeddings = None
    if plan.precomputed_dim:
        from tf_t2i.text.precomputed import aligned

        paired = aligned(list(record.captions), record.embeddings, plan.precomputed_dim)
        if isinstance(paired[0], str):  # (reason, detail)
            return skip(*paired)
        captions, embeddings = paired
    else:
        captions = [c.strip() for c in record.captions if isinstance(c, str) and c.strip()]
    if not captions:
        return skip("no_captions", "no caption for this image")
    too_long = []
    for i, caption in enumerate(captions):
        problem = plan.caption_limits.problem(caption)
        if problem:
            too_long.append(f"caption {i} has {problem}")
    if len(too_long) == len(captions):
        return skip("caption_too_long", "; ".join(too_long))
    if too_long:
        kept = [i for i, c in enumerate(captions) if plan.caption_limits.problem(c) is None]
        captions = [captions[i] for i in kept]
        if embeddings is not None:
            embeddings = embeddings[kept]
    if record.attributes is not None and len(record.attributes) != num_attributes:
        return skip(
            "bad_annotation",
            f"{len(record.attributes)} attributes, expected {num_attributes}",
        )
    if num_attributes and record.attributes is None:
        return skip("missing_annotation", "no attributes for this image")
    try:
        image = _open_image(record.image)
    except ValueError as err:
        return skip(str(err.args[0]), str(err.args[1]))
    mask = None
    if record.mask is not None:
        try:
            mask = _open_image(record.mask).convert("L")
        except ValueError as err:
            return skip("bad_annotation", f"mask: {err.args[1]}")
        if mask.size != image.size:
            return skip(
                "mask_size_mismatch",
                f"mask is {mask.size[0]}x{mask.size[1]}, image is {image.size[0]}x{image.size[1]}",
            )
    elif plan.has_masks:
        return skip("missing_annotation", "no mask for this image")
    mode = "RGB" if options.channels == 3 else "L"
    image = _resize(image.convert(mode), options)
    encoded = _encode(image, options.image_format)
    mask_bytes = _encode(_resize(mask, options), "png") if mask is not None else None
    return _Prepared(encoded, mask_bytes, record, captions, embeddings, too_long)


def _open_image(data):
    """Decodes image bytes or an array fully. Raises ValueError(reason, detail)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(data, np.ndarray):
        array = data.astype(np.uint8) if data.dtype != np.uint8 else data
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        return Image.fromarray(array)
    if len(data) == 0:
        raise ValueError("empty_image", "zero-byte image file")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # decodes every pixel: catches truncated files
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError("corrupt_image", f"cannot decode image: {err}") from None
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        if image.mode == "RGBA":  # composite transparency onto black
            background = Image.new("RGB", image.size)
            background.paste(image, mask=image.getchannel("A"))
            image = background
    return image


def _resize(image, options: ImageOptions):
    """Resizes a PIL image to the stored square by the resize policy."""
    from PIL import Image

    size = options.stored_size
    width, height = image.size
    if width == height == size:
        return image
    resample = Image.Resampling.LANCZOS if min(width, height) > size else Image.Resampling.BICUBIC
    if options.resize == "center-crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return image.resize((size, size), resample, box=(left, top, left + side, top + side))
    if options.resize == "stretch":
        return image.resize((size, size), resample)
    scale = size / max(width, height)  # pad
    inner = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), resample)
    canvas = Image.new(image.mode, (size, size))
    canvas.paste(inner, ((size - inner.size[0]) // 2, (size - inner.size[1]) // 2))
    return canvas


def _encode(image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, format="JPEG", quality=95)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _examples(prepared: list[_Prepared], encoder, plan: _Plan) -> list[bytes]:
    """Embeds every caption of the chunk in batches and serializes the examples."""
    if plan.precomputed_dim:  # stored as published, row for row
        embeddings = np.zeros((0, plan.precomputed_dim), np.float32)
        embeddings = np.concatenate([embeddings] + [p.embeddings for p in prepared])  # [T, D]
    else:
        texts = [c for p in prepared for c in p.captions]
        # templated sources repeat captions a lot: embed each distinct text once
        unique = list(dict.fromkeys(texts))
        row = {text: i for i, text in enumerate(unique)}
        table = np.asarray(encoder.encode(unique, batch_size=plan.batch_size), np.float32).reshape(
            len(unique), int(encoder.dim)
        )  # [U, D]
        embeddings = table[[row[t] for t in texts]]  # [T, D]
    examples, start = [], 0
    for p in prepared:
        end = start + len(p.captions)
        r = p.record
        examples.append(
            schema.make_example(
                image=p.image,
                image_format=plan.image.image_format,
                height=plan.image.stored_size,
                width=plan.image.stored_size,
                image_id=r.image_id,
                captions=p.captions,
                embeddings=embeddings[start:end],
                label=int(r.label),
                label_text=r.label_text,
                attributes=() if r.attributes is None else np.asarray(r.attributes, np.float32),
                mask=p.mask,
            )
        )
        start = end
    return examples


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
    revision = getattr(source_class(name), "revision", 1)
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
