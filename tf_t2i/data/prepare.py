"""One chunk of a conversion: records -> checked, re-encoded images -> serialized examples.

`convert` (convert.py) hands each chunk of a split here, in process or in
worker processes: every record is checked (captions, attributes, mask), its
image and mask decoded, resized and re-encoded (images.py), and the chunk's
captions embedded in batches and written as tf.train.Examples (schema.py).
A record that fails a check becomes a skip dict (reason, file, detail, split).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tf_t2i.data import images, schema
from tf_t2i.data.record import Record, Skipped
from tf_t2i.text.limits import CaptionLimits


@dataclasses.dataclass(frozen=True)
class Plan:
    """What converting one split needs besides the source, the writer and the encoder."""

    image: images.ImageOptions
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
class Prepared:
    """A record whose image (and mask) are validated and re-encoded, captions cleaned."""

    image: bytes
    mask: bytes | None
    record: Record
    captions: list[str]
    embeddings: np.ndarray | None = None  # float32 [len(captions), D], precomputed only
    too_long: list[str] = dataclasses.field(default_factory=list)  # why captions were dropped


def prepare_chunk(chunk, split, plan: Plan, executor):
    """Validates and re-encodes a chunk's records. Returns (prepared, skipped dicts)."""
    records = [item for item in chunk if isinstance(item, Record)]
    if executor is None:
        results = iter([prepare_record(r, plan) for r in records])
    else:
        results = executor.map(prepare_record, records, [plan] * len(records), chunksize=16)
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


def prepare_record(record: Record, plan: Plan) -> Prepared | Skipped:
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
        image = images.open_image(record.image)
    except ValueError as err:
        return skip(str(err.args[0]), str(err.args[1]))
    mask = None
    if record.mask is not None:
        try:
            mask = images.open_image(record.mask).convert("L")
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
    image = images.resize(image.convert(mode), options)
    encoded = images.encode(image, options.image_format)
    mask_bytes = images.encode(images.resize(mask, options), "png") if mask is not None else None
    return Prepared(encoded, mask_bytes, record, captions, embeddings, too_long)


def serialize_examples(prepared: list[Prepared], encoder, plan: Plan) -> list[bytes]:
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
