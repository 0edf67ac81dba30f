"""Pure GAN loss functions (per example; the model averages them over the global batch).

Pairs: `dcgan_discriminator_loss` / `dcgan_generator_loss` (plain real vs fake) and
`gan_cls_discriminator_loss` / `gan_cls_generator_loss` (Reed et al. 2016, matching-aware
D; with GAN-INT the generator also sees interpolated conditions). The regularisers:
`r1_penalty`, `mode_seeking_loss`, `auxiliary_class_loss`. `style_encoder_loss` and
`reconstruction_loss` train the style encoder. `weighted_sum` adds a dict of named terms
with their weights, the one place where a network's loss is put together. Every function
takes logits (float32 [B]) and returns float32 [B], so that
`tf.nn.compute_average_loss(loss, global_batch_size)` gives the right mean under any
tf.distribute strategy.
"""

from __future__ import annotations

import tensorflow as tf


def _bce(logits: tf.Tensor, target: float) -> tf.Tensor:
    """Sigmoid cross entropy of logits against a constant target; float32 [B]."""
    logits = tf.cast(logits, tf.float32)
    return tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), tf.cast(target, tf.float32)), logits=logits
    )


def dcgan_discriminator_loss(
    real_logits: tf.Tensor, fake_logits: tf.Tensor, real_label: float = 1.0
) -> tf.Tensor:
    """The plain D loss: -log D(real) - log(1 - D(fake)).

    Args:
        real_logits: D's logits on real (image, right condition) pairs, [B].
        fake_logits: D's logits on generated images, [B].
        real_label: target for real pairs; 0.9 gives one-sided label smoothing.

    Returns:
        float32 [B], per-example loss.
    """
    return _bce(real_logits, real_label) + _bce(fake_logits, 0.0)


def dcgan_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """The non-saturating G loss: -log D(G(z)).

    Args:
        fake_logits: D's logits on generated images, [B].

    Returns:
        float32 [B], per-example loss.
    """
    return _bce(fake_logits, 1.0)


def gan_cls_discriminator_loss(
    real_logits: tf.Tensor,
    wrong_logits: tf.Tensor,
    fake_logits: tf.Tensor,
    real_label: float = 1.0,
) -> tf.Tensor:
    """Reed's matching-aware D loss (GAN-CLS).

    -[log D(real, right) + (log(1 - D(real, wrong)) + log(1 - D(fake, right))) / 2]:
    a real image with a mismatching condition counts as fake, weighted like the fakes.

    Args:
        real_logits: D's logits on (real image, right condition), [B].
        wrong_logits: D's logits on (real image, wrong condition), [B].
        fake_logits: D's logits on (generated image, right condition), [B].
        real_label: target for (real, right); 0.9 gives one-sided label smoothing.

    Returns:
        float32 [B], per-example loss.
    """
    unmatched = (_bce(wrong_logits, 0.0) + _bce(fake_logits, 0.0)) / 2.0
    return _bce(real_logits, real_label) + unmatched


def gan_cls_generator_loss(
    fake_logits: tf.Tensor, interp_logits: tf.Tensor | None = None
) -> tf.Tensor:
    """Reed's G loss: non-saturating, plus the GAN-INT term when interpolations are given.

    -log D(G(z, t), t) - log D(G(z, t_int), t_int), t_int = beta*t1 + (1 - beta)*t2.

    Args:
        fake_logits: D's logits on (G(z, right), right), [B].
        interp_logits: D's logits on (G(z, t_int), t_int), [B], or None without GAN-INT.

    Returns:
        float32 [B], per-example loss.
    """
    loss = dcgan_generator_loss(fake_logits)
    if interp_logits is not None:
        loss += dcgan_generator_loss(interp_logits)
    return loss


def mode_seeking_loss(
    images_1: tf.Tensor, images_2: tf.Tensor, noise_1: tf.Tensor, noise_2: tf.Tensor
) -> tf.Tensor:
    """Mao et al. 2019's mode-seeking term for G: 1 / (|G(z1,c) - G(z2,c)| / |z1 - z2|).

    Two noise vectors drawn for one condition should give images as far apart as the noise
    vectors are; the term is large when G ignores z (the conditional mode collapse of
    GAN-CLS, where every sample of a caption is the same image). Distances are mean
    absolute differences, as in the paper.

    Args:
        images_1, images_2: G's images for the same conditions, [B, H, W, C].
        noise_1, noise_2: the z that made them, [B, z_dim].

    Returns:
        float32 [B], per-pair loss.
    """
    image_distance = tf.reduce_mean(
        tf.abs(tf.cast(images_1, tf.float32) - tf.cast(images_2, tf.float32)), axis=[1, 2, 3]
    )
    noise_difference = tf.cast(noise_1, tf.float32) - tf.cast(noise_2, tf.float32)
    noise_distance = tf.maximum(tf.reduce_mean(tf.abs(noise_difference), axis=-1), 1e-8)
    return 1.0 / (image_distance / noise_distance + 1e-5)


def style_encoder_loss(noise: tf.Tensor, predicted_noise: tf.Tensor) -> tf.Tensor:
    """The style encoder loss ||z - S(G(z, c))||^2.

    Args:
        noise: the z given to G, [B, z_dim].
        predicted_noise: S's estimate from the generated image, [B, z_dim].

    Returns:
        float32 [B], per-example squared error.
    """
    diff = tf.cast(noise, tf.float32) - tf.cast(predicted_noise, tf.float32)
    return tf.reduce_sum(tf.square(diff), axis=-1)


def latent_regression_loss(noise: tf.Tensor, predicted_noise: tf.Tensor) -> tf.Tensor:
    """Mean absolute error |z - S(G(z, h))| over z's dimensions (BicycleGAN's L1 latent loss).

    Args:
        noise: the z given to G, [B, z_dim].
        predicted_noise: the style encoder's estimate from G's image, [B, z_dim].

    Returns:
        float32 [B].
    """
    diff = tf.cast(noise, tf.float32) - tf.cast(predicted_noise, tf.float32)
    return tf.reduce_mean(tf.abs(diff), axis=-1)


def reconstruction_loss(images: tf.Tensor, redrawn: tf.Tensor) -> tf.Tensor:
    """Mean absolute pixel difference per image: the style encoder's redrawing of real
    images, and G's style consistency (one z under two captions).

    Args:
        images: the real images x, [B, H, W, C] in [-1, 1] (or G(z, h)).
        redrawn: G(S(x), c_x), same shape (or G(z, h')).

    Returns:
        float32 [B].
    """
    difference = tf.cast(images, tf.float32) - tf.cast(redrawn, tf.float32)
    return tf.reduce_mean(tf.abs(difference), axis=[1, 2, 3])


def auxiliary_class_loss(class_logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Cross-entropy of an auxiliary classifier (AC-GAN, TAC-GAN), 0 where label < 0.

    Args:
        class_logits: float32 [B, K].
        labels: int [B], the class of each example, -1 for unlabelled ones.

    Returns:
        float32 [B], per-example loss.
    """
    labels = tf.cast(labels, tf.int32)
    known = labels >= 0
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.maximum(labels, 0), logits=tf.cast(class_logits, tf.float32)
    )
    return tf.where(known, per_example, 0.0)


def r1_penalty(input_gradients: tf.Tensor) -> tf.Tensor:
    """Mescheder et al. 2018's R1: ||grad_x D(x, h)||^2 per real pair.

    Args:
        input_gradients: d D(x, h) / dx for each real image x, [B, H, W, C].

    Returns:
        float32 [B], the squared gradient norm of each example.
    """
    gradients = tf.cast(input_gradients, tf.float32)
    return tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3])


def weighted_sum(terms: dict, weights: dict) -> tf.Tensor:
    """sum_k weights[k] * terms[k], in the order of `terms`.

    Args:
        terms: name -> per-example term, float32 [B].
        weights: name -> float weight, one for every term.

    Returns:
        float32 [B], the per-example loss.
    """
    missing = sorted(set(terms) - set(weights))
    if missing:
        raise ValueError(f"loss terms without a weight: {missing}")
    total = None
    for name, term in terms.items():
        weighted = term if weights[name] == 1.0 else weights[name] * term
        total = weighted if total is None else total + weighted
    return total


def global_mean(per_example_loss: tf.Tensor) -> tf.Tensor:
    """Mean over the global batch (all replicas), so that summed replica gradients are right.

    Args:
        per_example_loss: float32 [B] on this replica.

    Returns:
        float32 scalar: sum / (B * replicas).
    """
    replicas = tf.distribute.get_replica_context().num_replicas_in_sync
    global_batch = tf.shape(per_example_loss)[0] * replicas
    return tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch)
