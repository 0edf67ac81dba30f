"""The tf.data input pipeline: TFRecord shards -> decoded, augmented, paired batches.

    ds = make_dataset("data/shapes", "train", batch_size=64, seed=0)
    batch = next(iter(ds))   # {"images": [64, 64, 64, 3], "embeddings": [64, 512], ...}

Stages: shard files (shuffled, auto-sharded per input pipeline) -> parallel
interleave of TFRecordDatasets -> `parse_records` (batched) -> `decode_example`
-> optional cache ->
shuffle -> repeat -> `augment` (random crop, a flip unless the captions name
left and right, a random caption or the mean of k) -> batch -> `pair_wrong`
(each example gets the condition of another image, of another class when
labels exist) -> prefetch.

Every random choice is a stateless op seeded by (seed, element index), so the
stream is identical run to run under the same seed, and differs per epoch
because the index keeps counting across repeats.
"""

from __future__ import annotations

import os
import random

import tensorflow as tf

from tf_t2i.data import schema
from tf_t2i.errors import T2IError

AUTOTUNE = tf.data.AUTOTUNE
DEFAULT_SHUFFLE_BUFFER = 2048
PARSE_BATCH = 128  # records parsed per vectorized parse_example call


def make_dataset(
    data_dir: str | os.PathLike,
    split: str = "train",
    batch_size: int = 64,
    *,
    image_size: int | None = None,
    training: bool = True,
    seed: int | None = None,
    repeat: bool = True,
    caption_average: int = 1,
    cache: bool | str = False,
    drop_remainder: bool = True,
    input_context: tf.distribute.InputContext | None = None,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    flip: bool | None = None,
    examples: tf.data.Dataset | None = None,
) -> tf.data.Dataset:
    """Batches of one split of a converted data set.

    Args:
        data_dir: a directory written by `t2i convert`.
        split: the split to read ("train", "test", ...).
        batch_size: the global batch size; with `input_context` the batches are
            per replica: `input_context.get_per_replica_batch_size(batch_size)`.
        image_size: side of the output images; default the manifest's crop_size.
        training: random crop, flip, caption choice and shuffling; otherwise a
            centre crop, the first caption(s), and file order.
        seed: makes the stream reproducible (and the pipeline deterministic);
            None draws a fresh seed.
        repeat: repeat forever (else one pass).
        caption_average: average the embeddings of this many captions (k);
            fewer if an image has fewer.
        cache: cache decoded examples in memory (True) or in this file path.
        drop_remainder: drop the last partial batch.
        input_context: from `strategy.distribute_datasets_from_function`; the
            shards (or, with fewer shards than pipelines, the examples) are
            split among input pipelines.
        shuffle_buffer: examples in the shuffle buffer.
        flip: random horizontal flips when training; default the manifest's
            `random_flip` (False for data whose captions name left and right).
        examples: the split's decoded examples from `read_examples` (for the same
            data_dir, split and input_context), to build on instead of reading them
            again; `cache` then has no effect here.

    Returns:
        A dataset of dicts:
            images            float32 [B, H, W, C] in [-1, 1]
            embeddings        float32 [B, D]
            wrong_embeddings  float32 [B, D]
            attributes        float32 [B, A]   (A may be 0)
            wrong_attributes  float32 [B, A]
            labels            int64 [B]        (-1 if none)
            wrong_labels      int64 [B]
            masks             float32 [B, H, W, 1] in [0, 1]  (only if the data has masks)
            captions          string [B]
    """
    manifest = schema.read_manifest(data_dir)
    if caption_average < 1:
        raise T2IError(f"caption_average must be >= 1, not {caption_average}")
    out_size = int(image_size or manifest.crop_size)
    base_seed = pipeline_seed(seed, input_context)
    if input_context is not None:
        # distribute_datasets_from_function wants per-replica batches
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    ds = examples
    if ds is None:
        ds = read_examples(
            data_dir,
            split,
            training=training,
            seed=base_seed,
            cache=cache,
            input_context=input_context,
        )
    if training:
        buffer = max(1, min(shuffle_buffer, manifest.num_examples(split)))
        ds = ds.shuffle(buffer, seed=base_seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def augment_indexed(index, example):
        return augment(
            example,
            tf.stack([tf.constant(base_seed, tf.int64), index]),
            crop_size=manifest.crop_size,
            image_size=out_size,
            training=training,
            caption_average=caption_average,
            flip=manifest.random_flip if flip is None else flip,
        )

    ds = ds.enumerate().map(augment_indexed, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def pair_indexed(index, batch):
        # negative second seed word: never equal to an example's seed
        return pair_wrong(batch, tf.stack([tf.constant(base_seed, tf.int64), -1 - index]))

    ds = ds.enumerate().map(pair_indexed, num_parallel_calls=AUTOTUNE)
    ds = ds.prefetch(AUTOTUNE)

    options = tf.data.Options()
    options.deterministic = seed is not None
    # No tf.data autotuning: while a GAN step kept the cores busy, deleting an iterator
    # waited ~19 s per epoch it had run for the autotune thread (t2i fit stalled 20 s at
    # every epoch, half of a 25-minute run), and the pipeline is as fast without it
    # (4,000-4,500 images/s at 64x64 either way). AUTOTUNE parallelism then means one
    # thread per core.
    options.autotune.enabled = False
    # shards are already split by input_context; a dataset distributed with
    # experimental_distribute_dataset is auto-sharded by file, else by example
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF
        if input_context is not None
        else tf.data.experimental.AutoShardPolicy.AUTO
    )
    return ds.with_options(options)


def pipeline_seed(seed: int | None, input_context=None) -> int:
    """The seed of one input pipeline's random choices: `seed` (a fresh one if None),
    offset per input pipeline when there are several."""
    base_seed = int(seed) if seed is not None else random.SystemRandom().randrange(2**31)
    if input_context is not None and input_context.num_input_pipelines > 1:
        base_seed += 7919 * input_context.input_pipeline_id
    return base_seed


def read_examples(
    data_dir: str | os.PathLike,
    split: str = "train",
    *,
    training: bool = True,
    seed: int = 0,
    cache: bool | str = False,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """The decoded examples of one split, once through: the shard files (shuffled by
    `seed` when training; split among input pipelines) -> interleave -> `parse_records`
    -> `decode_example` -> optional cache.

    `make_dataset` builds on it. A caller that makes a dataset per epoch (t2i fit) can
    build one cached `read_examples` and pass it to every epoch's make_dataset
    (`examples=`): the cache fills in the first epoch and later epochs read it, where
    a cache inside each epoch's own pipeline would be refilled, and the split read and
    decoded again, every epoch.

    Args:
        data_dir, split, cache, input_context: as in make_dataset.
        training: shuffle the shard files.
        seed: the shard files' shuffle seed (make_dataset passes `pipeline_seed`).

    Returns:
        A dataset of single examples (decode_example's dicts).
    """
    manifest = schema.read_manifest(data_dir)
    files = manifest.shard_files(data_dir, split)
    if manifest.num_examples(split) == 0:
        raise T2IError(f"{data_dir}: split {split!r} has no examples")
    for path in files:
        if not os.path.isfile(path):
            raise T2IError(f"{path}: shard listed in {data_dir}/dataset.json is missing")

    ds = tf.data.Dataset.from_tensor_slices(files)
    shard_examples = False
    if input_context is not None and input_context.num_input_pipelines > 1:
        if len(files) >= input_context.num_input_pipelines:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        else:
            shard_examples = True
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=AUTOTUNE,
        deterministic=True,
    )
    if shard_examples:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)

    image_format = manifest.conversion.get("image_format", "")
    ds = ds.batch(PARSE_BATCH).map(parse_records, num_parallel_calls=AUTOTUNE).unbatch()

    def decode(features):
        return decode_example(
            features,
            image_size=manifest.image_size,
            channels=manifest.channels,
            embedding_dim=manifest.embedding_dim,
            num_attributes=manifest.num_attributes,
            has_masks=manifest.has_masks,
            image_format=image_format,
        )

    ds = ds.map(decode, num_parallel_calls=AUTOTUNE)
    if cache:
        ds = ds.cache("" if cache is True else str(cache))
    return ds


def parse_records(serialized: tf.Tensor) -> dict:
    """Parses a batch of serialized tf.train.Examples (one vectorized op: much faster
    than parsing them one by one).

    Args:
        serialized: string [K].

    Returns:
        The schema's features, batched: dense [K] scalars, and ragged [K, None]
        captions, captions/embeddings and attributes.
    """
    spec = schema.feature_spec()
    for key in (schema.CAPTIONS, schema.EMBEDDINGS, schema.ATTRIBUTES):
        spec[key] = tf.io.RaggedFeature(spec[key].dtype)
    return tf.io.parse_example(serialized, spec)


def decode_example(
    features: dict,
    *,
    image_size: int,
    channels: int,
    embedding_dim: int,
    num_attributes: int,
    has_masks: bool,
    image_format: str = "",
) -> dict:
    """Decodes the image and mask of one parsed example.

    Args:
        features: one element of `parse_records`' output.
        image_format: "png" or "jpeg" decodes with that op; "" detects the format.

    Returns:
        image        uint8 [S, S, C]
        mask         uint8 [S, S, 1]  (only if has_masks)
        captions     string [N]
        embeddings   float32 [N, D]
        attributes   float32 [A]
        label        int64 []
    """
    encoded = features[schema.IMAGE]
    if image_format == "png":
        image = tf.io.decode_png(encoded, channels=channels)
    elif image_format == "jpeg":
        image = tf.io.decode_jpeg(encoded, channels=channels)
    else:
        image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    example = {
        "image": tf.ensure_shape(image, [image_size, image_size, channels]),
        "captions": features[schema.CAPTIONS],
        "embeddings": tf.reshape(features[schema.EMBEDDINGS], [-1, embedding_dim]),
        "attributes": tf.ensure_shape(features[schema.ATTRIBUTES], [num_attributes]),
        "label": features[schema.LABEL],
    }
    if has_masks:
        mask = tf.io.decode_png(features[schema.MASK], channels=1)
        example["mask"] = tf.ensure_shape(mask, [image_size, image_size, 1])
    return example


def augment(
    example: dict,
    seed: tf.Tensor,
    *,
    crop_size: int,
    image_size: int,
    training: bool = True,
    caption_average: int = 1,
    flip: bool = True,
) -> dict:
    """Crops, flips and scales the image (and its mask identically) and picks captions.

    Args:
        example: from `decode_example`.
        seed: int64 [2], the stateless seed of this element.
        crop_size: side of the crop taken from the stored image (random when
            training, central otherwise).
        image_size: side of the output image.
        caption_average: average this many captions' embeddings (at most N).
        flip: flip left-right at random when training.

    Returns:
        images      float32 [H, W, C] in [-1, 1]
        masks       float32 [H, W, 1] in [0, 1]   (if the example has a mask)
        embeddings  float32 [D]
        captions    string []   (the first chosen caption)
        attributes  float32 [A]
        labels      int64 []
    """
    crop_seed, flip_seed, caption_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    image = tf.cast(example["image"], tf.float32)
    channels = image.shape[-1]
    has_mask = "mask" in example
    if has_mask:  # one tensor, so the mask gets exactly the image's crop and flip
        image = tf.concat([image, tf.cast(example["mask"], tf.float32)], axis=-1)
    stored = image.shape[0]
    depth = image.shape[-1]
    if training:
        if stored > crop_size:
            image = tf.image.stateless_random_crop(
                image, [crop_size, crop_size, depth], seed=crop_seed
            )
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    elif stored > crop_size:
        offset = (stored - crop_size) // 2
        image = image[offset : offset + crop_size, offset : offset + crop_size]
    if crop_size != image_size:
        image = tf.image.resize(image, [image_size, image_size], antialias=True)
    out = {"images": image[..., :channels] / 127.5 - 1.0}
    if has_mask:
        out["masks"] = tf.clip_by_value(image[..., channels:] / 255.0, 0.0, 1.0)

    embeddings = example["embeddings"]  # [N, D]
    num_captions = tf.shape(embeddings)[0]
    k = tf.minimum(num_captions, caption_average)
    if training:
        scores = tf.random.stateless_uniform([num_captions], seed=caption_seed)
        chosen = tf.math.top_k(scores, k=k).indices  # k distinct captions
    else:
        chosen = tf.range(k)
    out["embeddings"] = tf.reduce_mean(tf.gather(embeddings, chosen), axis=0)
    out["captions"] = tf.gather(example["captions"], chosen[0])
    out["attributes"] = example["attributes"]
    out["labels"] = example["label"]
    return out


def pair_wrong(batch: dict, seed: tf.Tensor) -> dict:
    """Adds the conditions of a mismatched image for each example in the batch.

    For example i it picks at random a batch mate j != i whose label differs
    (any other image when i has no label, label -1); if the batch has no such
    mate, the next example (i + 1) mod B.

    Args:
        batch: from batching `augment`'s output; labels int64 [B].
        seed: int64 [2].

    Returns:
        The batch plus wrong_embeddings [B, D], wrong_attributes [B, A] and
        wrong_labels int64 [B].
    """
    labels = batch["labels"]
    size = tf.shape(labels)[0]
    index = tf.range(size)
    other = index[:, None] != index[None, :]
    other_class = (labels[:, None] != labels[None, :]) | (labels[:, None] < 0)
    valid = other & other_class  # [B, B]
    scores = tf.where(valid, tf.random.stateless_uniform([size, size], seed=seed), -1.0)
    picked = tf.argmax(scores, axis=1, output_type=tf.int32)
    wrong = tf.where(tf.reduce_any(valid, axis=1), picked, (index + 1) % size)
    out = dict(batch)
    out["wrong_embeddings"] = tf.gather(batch["embeddings"], wrong)
    out["wrong_attributes"] = tf.gather(batch["attributes"], wrong)
    out["wrong_labels"] = tf.gather(labels, wrong)
    return out
