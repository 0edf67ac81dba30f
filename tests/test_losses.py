"""The pure loss functions against values computed by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tf_t2i import losses


def _log_sigmoid(x):
    return math.log(1.0 / (1.0 + math.exp(-x)))


def _log_one_minus_sigmoid(x):
    return math.log(1.0 - 1.0 / (1.0 + math.exp(-x)))


REAL, WRONG, FAKE = [2.0, -1.0], [0.5, 3.0], [-1.5, 0.0]


def test_gan_cls_discriminator_loss_by_hand():
    loss = losses.gan_cls_discriminator_loss(
        tf.constant(REAL), tf.constant(WRONG), tf.constant(FAKE)
    ).numpy()
    # Reed: -(log D(x,h) + [log(1 - D(x,h^)) + log(1 - D(x^,h))] / 2)
    expected = [
        -(_log_sigmoid(r) + (_log_one_minus_sigmoid(w) + _log_one_minus_sigmoid(f)) / 2)
        for r, w, f in zip(REAL, WRONG, FAKE, strict=True)
    ]
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_wrong_term_weighs_like_the_fake_term():
    base = losses.gan_cls_discriminator_loss(
        tf.constant(REAL), tf.constant(WRONG), tf.constant(FAKE)
    )
    more_wrong = losses.gan_cls_discriminator_loss(
        tf.constant(REAL), tf.constant(WRONG) + 1.0, tf.constant(FAKE)
    )
    diff = (more_wrong - base).numpy()
    expected = [(_log_one_minus_sigmoid(w) - _log_one_minus_sigmoid(w + 1.0)) / 2 for w in WRONG]
    np.testing.assert_allclose(diff, expected, rtol=1e-5)


def test_label_smoothing_changes_only_the_real_target():
    smooth = losses.dcgan_discriminator_loss(tf.constant(REAL), tf.constant(FAKE), 0.9).numpy()
    expected = [
        -(0.9 * _log_sigmoid(r) + 0.1 * _log_one_minus_sigmoid(r)) - _log_one_minus_sigmoid(f)
        for r, f in zip(REAL, FAKE, strict=True)
    ]
    np.testing.assert_allclose(smooth, expected, rtol=1e-6)


@pytest.mark.parametrize("with_interp", [False, True])
def test_generator_loss_is_non_saturating(with_interp):
    interp = tf.constant(WRONG) if with_interp else None
    loss = losses.gan_cls_generator_loss(tf.constant(FAKE), interp).numpy()
    expected = [-_log_sigmoid(f) for f in FAKE]
    if with_interp:
        expected = [e - _log_sigmoid(w) for e, w in zip(expected, WRONG, strict=True)]
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_allclose(
        losses.dcgan_generator_loss(tf.constant(FAKE)).numpy(), [-_log_sigmoid(f) for f in FAKE]
    )


def test_style_encoder_loss_is_squared_distance():
    z = tf.constant([[1.0, 2.0], [0.0, 0.0]])
    z_hat = tf.constant([[0.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(losses.style_encoder_loss(z, z_hat).numpy(), [5.0, 0.0])


def test_reconstruction_loss_is_mean_absolute_pixel_difference():
    images = tf.constant(np.zeros((2, 2, 2, 1), np.float32))
    redrawn = tf.constant(
        np.array([[1.0, -1.0, 0.5, 0.5], [0, 0, 0, 0]], np.float32).reshape(2, 2, 2, 1)
    )
    np.testing.assert_allclose(losses.reconstruction_loss(images, redrawn).numpy(), [0.75, 0.0])


def test_mode_seeking_loss_is_inverse_distance_ratio():
    images_1 = tf.zeros([2, 2, 2, 1])
    images_2 = tf.constant([0.5, 0.0])[:, None, None, None] * tf.ones([2, 2, 2, 1])
    noise_1, noise_2 = tf.zeros([2, 3]), tf.ones([2, 3])
    loss = losses.mode_seeking_loss(images_1, images_2, noise_1, noise_2).numpy()
    # pair 0: |dI| = 0.5, |dz| = 1 -> 1 / 0.5; pair 1: G ignored z -> 1 / 1e-5
    np.testing.assert_allclose(loss, [1 / (0.5 + 1e-5), 1e5], rtol=1e-5)
    # the same noise twice (a batch that brings its own z): finite, not 0/0
    same = losses.mode_seeking_loss(images_1, images_1, noise_1, noise_1).numpy()
    assert np.all(np.isfinite(same))
    assert (
        losses.mode_seeking_loss(tf.cast(images_1, tf.bfloat16), images_2, noise_1, noise_2).dtype
        == tf.float32
    )


def test_losses_accept_bfloat16_logits_and_return_float32():
    loss = losses.gan_cls_discriminator_loss(
        tf.constant(REAL, tf.bfloat16), tf.constant(WRONG, tf.bfloat16), tf.constant(FAKE)
    )
    assert loss.dtype == tf.float32


def test_auxiliary_class_loss_is_cross_entropy_and_skips_unlabelled_rows():
    logits = tf.constant([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [9.0, 0.0, 0.0]])
    labels = tf.constant([0, 2, -1], tf.int64)
    got = losses.auxiliary_class_loss(logits, labels).numpy()
    first = -math.log(math.exp(2.0) / (math.exp(2.0) + 1.0 + math.exp(-1.0)))
    np.testing.assert_allclose(got, [first, math.log(3.0), 0.0], rtol=1e-6)


def test_r1_penalty_is_the_squared_gradient_norm_of_each_example():
    # D(x) = sum(w * x) has gradient w for every x: the penalty is sum(w^2)
    weights = tf.reshape(tf.range(1.0, 13.0), [1, 2, 2, 3]) / 10.0
    images = tf.random.normal([3, 2, 2, 3])
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = tf.reduce_sum(weights * images, axis=[1, 2, 3])
    penalty = losses.r1_penalty(tape.gradient(logits, images)).numpy()
    expected = float(tf.reduce_sum(tf.square(weights)))
    np.testing.assert_allclose(penalty, [expected] * 3, rtol=1e-6)
    assert losses.r1_penalty(tf.zeros([2, 2, 2, 3])).numpy().tolist() == [0.0, 0.0]


def test_weighted_sum_weights_each_named_term_once():
    terms = {"gan": tf.constant([1.0, 2.0]), "r1": tf.constant([10.0, 0.0])}
    total = losses.weighted_sum(terms, {"gan": 1.0, "r1": 0.05})
    np.testing.assert_allclose(total.numpy(), [1.5, 2.0])
    with pytest.raises(ValueError, match="r1"):
        losses.weighted_sum(terms, {"gan": 1.0})
