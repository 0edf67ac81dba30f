"""The graph ops shared by export and in-process generation."""

import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.export import ops


def test_seeded_noise_is_deterministic_per_seed_and_row():
    a = ops.seeded_noise(tf.constant([7, 7, 8], tf.int64), 16).numpy()
    b = ops.seeded_noise(tf.constant([7, 7, 8], tf.int64), 16).numpy()
    assert a.shape == (3, 16) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[0], a[1])  # same seed, different row: different noise
    # row i is stateless_normal(seed=[seed, i]): reproducible from the pair alone
    expected = tf.random.stateless_normal([16], seed=tf.constant([8, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(a[2], expected)


def test_seeded_noise_same_eagerly_and_in_a_graph():
    seeds = tf.constant([1, 2, 3], tf.int64)
    graph = tf.function(lambda s: ops.seeded_noise(s, 8))(seeds)
    np.testing.assert_array_equal(graph.numpy(), ops.seeded_noise(seeds, 8).numpy())


def test_seeded_noise_with_a_truncation_is_truncated_scaled_and_seeded():
    seeds = tf.constant([7] * 200 + [8], tf.int64)
    plain = ops.seeded_noise(seeds, 16).numpy()
    narrow = ops.seeded_noise(seeds, 16, 0.5).numpy()
    assert np.abs(plain).max() > 2.0  # 3216 N(0, 1) draws: some beyond 2
    assert 0.5 < np.abs(narrow).max() <= 2.0 * 0.5
    assert not np.allclose(narrow, 0.5 * plain)
    # row i is s * stateless_truncated_normal(seed=[seed, i]), reproducible from the pair alone
    pair = tf.constant([8, 200], tf.int64)
    expected = 0.5 * tf.random.stateless_truncated_normal([16], seed=pair).numpy()
    np.testing.assert_array_equal(narrow[200], expected)
    graph = tf.function(lambda s: ops.seeded_noise(s, 16, 0.5))(seeds)
    np.testing.assert_array_equal(graph.numpy(), narrow)


def test_png_round_trip_and_decode_resizes():
    images = tf.cast(tf.random.stateless_uniform([2, 8, 8, 3], [0, 1], 0, 255, tf.int32), tf.uint8)
    pngs = ops.encode_pngs(images)
    assert pngs.shape == (2,)
    np.testing.assert_array_equal(tf.io.decode_png(pngs[1]).numpy(), images[1].numpy())
    decoded = ops.decode_images(pngs, 4, 1).numpy()
    assert decoded.shape == (2, 4, 4, 1) and 0.0 <= decoded.min() <= decoded.max() <= 1.0


@pytest.mark.parametrize(
    "text, message",
    [([], "the batch is empty"), ([b"ok", b"\xff\xfe"], "Invalid formatting")],
)
def test_checked_text_rejects_empty_batches_and_bad_utf8(text, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        ops.checked_text(tf.constant(text, tf.string))
    assert ops.checked_text(tf.constant(["a red circle"])).numpy().tolist() == [b"a red circle"]
