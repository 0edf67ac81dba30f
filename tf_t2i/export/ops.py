"""Graph ops shared by the exported SavedModel and in-process generation.

Both `t2i generate RUN_DIR` and the SavedModel call these same functions, so a
seed gives the same noise, and the same images, on either path (at the
model's truncation, which both take from its config). `t2i generate
--truncation S` draws its noise with `seeded_noise` too, so it gives what an
export at truncation S draws from the seed. Only core TensorFlow ops are used:
TF Serving runs them without extra libraries.
"""

import tensorflow as tf


def seeded_noise(seeds, z_dim, truncation=0.0):
    """Deterministic generator noise, one row per seed.

    Row i is `stateless_normal([z_dim], seed=[seeds[i], i])`: the same seed in
    different rows gives different noise, and a batch is reproducible from
    its seeds alone. With a truncation s (model.truncation), row i is
    `s * stateless_truncated_normal([z_dim], seed=[seeds[i], i])`: N(0, 1)
    redrawn beyond +-2, times s.

    Args:
        seeds: int64 [N].
        z_dim: int, the generator's noise size Z.
        truncation: float, 0 for standard normal noise, else the scale s.

    Returns:
        float32 [N, Z], standard normal, or truncated within +-2 s.
    """
    seeds = tf.cast(seeds, tf.int64)
    rows = tf.range(tf.size(seeds, out_type=tf.int64), dtype=tf.int64)
    pairs = tf.stack([seeds, rows], axis=1)  # [N, 2]

    def row(pair):
        if truncation:
            return truncation * tf.random.stateless_truncated_normal([z_dim], seed=pair)
        return tf.random.stateless_normal([z_dim], seed=pair)

    return tf.map_fn(row, pairs, fn_output_signature=tf.TensorSpec([z_dim], tf.float32))


def random_seeds(n):
    """int64 [n] seeds drawn at random, for requests that give none."""
    return tf.random.uniform([n], minval=0, maxval=2**31 - 1, dtype=tf.int64)


def encode_pngs(images):
    """uint8 [N, H, W, C] -> string [N] of PNG files.

    zlib level 1: on generated images it is ~20x faster than the default
    level for files ~15% larger, and PNG encoding otherwise dominates a
    batch's serving time.
    """
    return tf.map_fn(
        lambda image: tf.io.encode_png(image, compression=1),
        images,
        fn_output_signature=tf.TensorSpec([], tf.string),
    )


def decode_images(encoded, size, channels):
    """Decodes PNG/JPEG/GIF/BMP bytes and resizes them for a network.

    Args:
        encoded: string [N] of image files.
        size: int, the square output side.
        channels: int, 1 or 3.

    Returns:
        float32 [N, size, size, channels] in [0, 1].
    """

    def decode_one(data):
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, [size, size], antialias=True)
        return tf.clip_by_value(image, 0.0, 1.0)

    return tf.map_fn(
        decode_one, encoded, fn_output_signature=tf.TensorSpec([size, size, channels], tf.float32)
    )


def checked_text(text, limits=None):
    """Validates a text batch inside the graph: non-empty, valid UTF-8, within limits.

    Args:
        text: string [N].
        limits: tf_t2i.text.limits.CaptionLimits, or None for no length limit.

    Returns:
        string [N], the same strings, once the checks passed (InvalidArgument
        otherwise, which TF Serving reports as a 400).
    """
    non_empty = tf.debugging.assert_greater(
        tf.size(text), 0, message="text: the batch is empty; give at least one caption"
    )
    checks = [non_empty]
    if limits is not None:
        # bytes first: a caption over the byte limit is never split into words
        with tf.control_dependencies(checks):
            checks = [
                tf.debugging.assert_less_equal(
                    tf.strings.length(text),
                    limits.max_bytes,
                    message=f"text: a caption is over the limit of {limits.max_bytes} bytes",
                )
            ]
        with tf.control_dependencies(checks):
            words = tf.strings.split(text).row_lengths()
            checks.append(
                tf.debugging.assert_less_equal(
                    words,
                    tf.cast(limits.max_tokens, words.dtype),
                    message=f"text: a caption is over the limit of {limits.max_tokens} tokens",
                )
            )
    with tf.control_dependencies(checks):
        # errors="strict" raises InvalidArgument on bytes that are not UTF-8.
        return tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="strict")
