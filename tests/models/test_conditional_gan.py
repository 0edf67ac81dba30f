"""ConditionalGAN: every conditioning, the algorithm's terms, and which weights move."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import COMBINATIONS, make_batch, tiny_config

from tf_t2i import losses
from tf_t2i.errors import T2IError
from tf_t2i.models.build import build_gan
from tf_t2i.models.conditional_gan import ConditionalGAN


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables, strict=True)]


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_every_combination_trains_and_generates(name):
    config = tiny_config(**COMBINATIONS[name])
    gan = build_gan(config, seed=0)
    batch = make_batch(config)
    logs = tf.function(gan.train_step)(batch)
    expected = {"d_loss", "g_loss", "d_real", "d_fake", "g_gan"}
    expected |= {"d_wrong", "d_gan_cls"} if config.uses_cls else {"d_gan"}
    expected |= {"g_gan_int"} if config.uses_interp else set()
    expected |= {"g_mode_seeking"} if config.mode_seeking_weight > 0 else set()
    expected |= {"d_r1"} if config.r1_gamma > 0 else set()
    expected |= {"d_aux", "g_aux"} if config.aux_weight > 0 else set()
    expected |= {"g_latent_regression"} if config.latent_regression_weight > 0 else set()
    expected |= {"g_style_consistency"} if config.style_consistency_weight > 0 else set()
    assert set(logs) == expected
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert int(gan.step.numpy()) == 1

    conditions = {k: v[:3] for k, v in batch.items()}
    images = gan.generate(conditions, seed=1, num_images=3).numpy()
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0
    np.testing.assert_array_equal(images, gan.generate(conditions, seed=1, num_images=3))


def _gan_with_learning_rates(config, d_lr, g_lr):
    gan = ConditionalGAN(config, seed=0)
    gan.compile(keras.optimizers.Adam(d_lr), keras.optimizers.Adam(g_lr))
    return gan


@pytest.mark.parametrize("name", ["text_cls_int", "dcgan", "mask", "text_rotation"])
def test_d_update_moves_only_d_and_g_update_only_g(name):
    config = tiny_config(**COMBINATIONS[name])
    batch = make_batch(config)
    # G frozen by a zero learning rate: the step may move D's weights only.
    gan = _gan_with_learning_rates(config, d_lr=1e-2, g_lr=0.0)
    g_before = _values(gan.generator.trainable_variables)
    d_before = _values(gan.discriminator.trainable_variables)
    gan.train_step(batch)
    assert not any(_changed(g_before, gan.generator.trainable_variables))
    assert all(_changed(d_before, gan.discriminator.trainable_variables))
    # D frozen: the step may move G's weights only.
    gan = _gan_with_learning_rates(config, d_lr=0.0, g_lr=1e-2)
    g_before = _values(gan.generator.trainable_variables)
    d_before = _values(gan.discriminator.trainable_variables)
    gan.train_step(batch)
    assert all(_changed(g_before, gan.generator.trainable_variables))
    assert not any(_changed(d_before, gan.discriminator.trainable_variables))


def test_d_steps_updates_g_every_other_step():
    config = tiny_config(d_steps=2)
    gan = build_gan(config, seed=0)
    batch = make_batch(config)
    step = tf.function(gan.train_step)
    g_before = _values(gan.generator.trainable_variables)
    d_before = _values(gan.discriminator.trainable_variables)
    step(batch)
    assert not any(_changed(g_before, gan.generator.trainable_variables))
    assert all(_changed(d_before, gan.discriminator.trainable_variables))
    step(batch)
    assert all(_changed(g_before, gan.generator.trainable_variables))


def _hand_logits(gan, batch, conditions):
    """D's logits as the training step computes them, before any update."""
    fake = gan.generator({"noise": batch["noise"], **conditions["right"]}, training=True)
    d = gan.discriminator
    return {
        "real": d({"images": batch["images"], **conditions["right"]}, training=True)[:, 0],
        "wrong": d({"images": batch["images"], **conditions["wrong"]}, training=True)[:, 0],
        "fake": d({"images": fake, **conditions["right"]}, training=True)[:, 0],
    }


def test_wrong_pair_term_enters_d_loss():
    keras.utils.set_random_seed(0)
    config = tiny_config(conditions=["text"], cls=True, interp=False)
    batch = make_batch(config, with_noise=True)
    gan = build_gan(config, seed=0)
    conditions = {
        "right": {"embeddings": batch["embeddings"]},
        "wrong": {"embeddings": batch["wrong_embeddings"]},
    }
    logits = _hand_logits(gan, batch, conditions)
    expected = losses.gan_cls_discriminator_loss(
        logits["real"], logits["wrong"], logits["fake"], real_label=0.9
    )
    plain = losses.dcgan_discriminator_loss(logits["real"], logits["fake"], real_label=0.9)
    logs = gan.train_step(batch)
    d_loss, expected, plain = (
        float(logs["d_loss"]),
        float(tf.reduce_mean(expected)),
        float(tf.reduce_mean(plain)),
    )
    np.testing.assert_allclose(d_loss, expected, rtol=1e-5)
    # At random init the two losses are close (D barely uses the text yet): what matters
    # is that the step's loss is told apart from the plain one far beyond the tolerance.
    assert abs(d_loss - plain) > 20 * 1e-5 * abs(expected)
    np.testing.assert_allclose(
        float(logs["d_wrong"]), float(tf.reduce_mean(tf.sigmoid(logits["wrong"]))), rtol=1e-5
    )


@pytest.mark.parametrize("interp", [True, False])
def test_interpolation_term_enters_g_loss(interp):
    config = tiny_config(conditions=["text"], cls=True, interp=interp, interp_beta=0.25)
    batch = make_batch(config, with_noise=True)
    gan = build_gan(config, seed=0)
    right = {"embeddings": batch["embeddings"]}
    mixed = {"embeddings": 0.25 * batch["embeddings"] + 0.75 * batch["wrong_embeddings"]}
    fake_logits = _hand_logits(gan, batch, {"right": right, "wrong": right})["fake"]
    interp_fake = gan.generator({"noise": batch["noise"], **mixed}, training=True)
    interp_logits = gan.discriminator({"images": interp_fake, **mixed}, training=True)[:, 0]
    expected = losses.gan_cls_generator_loss(fake_logits, interp_logits if interp else None)
    logs = gan.train_step(batch)
    np.testing.assert_allclose(float(logs["g_loss"]), float(tf.reduce_mean(expected)), rtol=1e-5)


def _mode_seeking_gan(weight, seed=0):
    config = tiny_config(conditions=["text"], cls=True, interp=False, mode_seeking_weight=weight)
    return config, build_gan(config, seed=seed)


def test_mode_seeking_term_enters_g_loss():
    config, gan = _mode_seeking_gan(2.0)
    batch = make_batch(config, batch_size=5, with_noise=True)  # odd: no pairing assumed
    right = {"embeddings": batch["embeddings"]}
    # train_step's only random draw here is z2: replay it from a copy of the noise seed.
    replay = keras.random.SeedGenerator(0)
    replay.state.assign(gan.seed_generator.state)
    noise_2 = keras.random.normal([5, config.z_dim], seed=replay)
    fake = gan.generator({"noise": batch["noise"], **right}, training=True)
    fake_2 = gan.generator({"noise": noise_2, **right}, training=True)
    fake_logits = gan.discriminator({"images": fake, **right}, training=True)[:, 0]
    term = losses.mode_seeking_loss(fake, fake_2, batch["noise"], noise_2)
    expected = losses.gan_cls_generator_loss(fake_logits) + 2.0 * term
    logs = gan.train_step(batch)
    np.testing.assert_allclose(float(logs["g_loss"]), float(tf.reduce_mean(expected)), rtol=1e-5)
    np.testing.assert_allclose(
        float(logs["g_mode_seeking"]), float(tf.reduce_mean(term)), rtol=1e-5
    )
    assert float(tf.reduce_mean(term)) > 0.1  # not negligible here


def test_mode_seeking_changes_g_gradients_only():
    """The term moves G (it is differentiated, not just logged) and never D."""
    moved, initial = {}, None
    for weight in (0.0, 5.0):
        config, gan = _mode_seeking_gan(weight)
        if initial is None:  # both GANs start from the same weights
            initial = (gan.generator.get_weights(), gan.discriminator.get_weights())
        gan.generator.set_weights(initial[0])
        gan.discriminator.set_weights(initial[1])
        batch = make_batch(config, batch_size=4, with_noise=True)
        tf.function(gan.train_step)(batch)
        moved[weight] = (
            [v.numpy() for v in gan.generator.trainable_variables],
            [v.numpy() for v in gan.discriminator.trainable_variables],
        )
        assert ("g_mode_seeking" in {m.name for m in gan.metrics}) == (weight > 0)
    g_off, d_off = moved[0.0]
    g_on, d_on = moved[5.0]
    assert any(not np.allclose(a, b) for a, b in zip(g_off, g_on, strict=True))
    for a, b in zip(d_off, d_on, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_missing_condition_and_wrong_keys_are_named():
    config = tiny_config(conditions=["attributes"])
    gan = build_gan(config)
    batch = make_batch(config)
    del batch["wrong_attributes"]
    with pytest.raises(T2IError, match="wrong_attributes"):
        gan.train_step(batch)
    with pytest.raises(T2IError, match="attributes"):
        gan.generate({"embeddings": batch["embeddings"]})


def _tiny_dataset(config, size=16):
    """Sixteen images: a bright square whose corner follows the caption embedding."""
    rng = np.random.default_rng(0)
    images = -np.ones((size, 28, 28, 1), np.float32)
    embeddings = np.zeros((size, config.embedding_dim), np.float32)
    for i in range(size):
        corner = i % 4
        y, x = 14 * (corner // 2), 14 * (corner % 2)
        images[i, y : y + 14, x : x + 14] = 1.0
        embeddings[i, corner] = 1.0
    order = rng.permutation(size)
    return {
        "images": tf.constant(images),
        "embeddings": tf.constant(embeddings),
        "wrong_embeddings": tf.constant(embeddings[order]),
    }


def _per_step(gan, batch, name: str, steps: int) -> list[float]:
    """Trains `steps` steps on one batch; the tracker `name` of each step alone."""
    step = tf.function(gan.train_step)
    values = []
    for _ in range(steps):
        for tracker in gan.metrics:
            tracker.reset_state()
        values.append(float(step(batch)[name]))
    return values


@pytest.mark.large  # ~25-30 s for 200 steps
def test_generator_loss_falls_against_a_fixed_discriminator():
    config = tiny_config(image_size=28, channels=1, conditions=["text"], ngf=8, ndf=8)
    gan = _gan_with_learning_rates(config, d_lr=0.0, g_lr=2e-3)
    g_losses = _per_step(gan, _tiny_dataset(config), "g_loss", steps=200)
    first, last = np.mean(g_losses[:10]), np.mean(g_losses[-10:])
    assert last < 0.5 * first, (first, last)


def test_style_encoder_learns_the_noise_with_g_frozen():
    config = tiny_config(image_size=28, channels=1, conditions=["text"], style_encoder=True)
    gan = build_gan(config, seed=0)
    batch = make_batch(config, batch_size=8)
    g_before = _values(gan.generator.weights)
    step = tf.function(gan.train_style_encoder_step)
    first = float(step(batch)["s_loss"])
    for _ in range(60):
        gan.s_loss_tracker.reset_state()
        last = float(step(batch)["s_loss"])
    assert last < 0.7 * first, (first, last)
    assert not any(_changed(g_before, gan.generator.weights))  # G frozen, BN stats included
    transferred = gan.transfer_style(batch["images"], {"embeddings": batch["embeddings"]})
    assert transferred.shape == (8, 28, 28, 1)


def test_style_reconstruction_adds_the_real_images_redrawn_term():
    config = tiny_config(conditions=["text"], style_encoder=True, style_reconstruction_weight=2.0)
    gan = build_gan(config, seed=0)
    batch = make_batch(config, batch_size=4, with_noise=True)
    style = gan.style_encoder
    z_term = losses.style_encoder_loss(
        batch["noise"],
        style(
            gan.generate({"embeddings": batch["embeddings"]}, noise=batch["noise"]), training=True
        ),
    )
    redrawn = gan.generate(
        {"embeddings": batch["embeddings"]}, noise=style(batch["images"], training=True)
    )
    expected = z_term + 2.0 * losses.reconstruction_loss(batch["images"], redrawn)
    g_before = _values(gan.generator.weights)
    logs = gan.train_style_encoder_step(batch)
    np.testing.assert_allclose(float(logs["s_loss"]), float(tf.reduce_mean(expected)), rtol=1e-3)
    assert not any(_changed(g_before, gan.generator.weights))  # G frozen


def _latent_regression_gan(weight):
    config = tiny_config(
        conditions=["text"], interp=False, style_encoder=True, latent_regression_weight=weight
    )
    return config, build_gan(config, seed=0)


def test_latent_regression_term_enters_g_loss():
    config, gan = _latent_regression_gan(3.0)
    batch = make_batch(config, batch_size=5, with_noise=True)
    right = {"embeddings": batch["embeddings"]}
    fake = gan.generator({"noise": batch["noise"], **right}, training=True)
    fake_logits = gan.discriminator({"images": fake, **right}, training=True)[:, 0]
    predicted = gan.style_encoder(fake, training=True)
    term = np.mean(np.abs(batch["noise"].numpy() - predicted.numpy()), axis=-1)  # by hand
    expected = losses.gan_cls_generator_loss(fake_logits) + 3.0 * term
    logs = gan.train_step(batch)
    np.testing.assert_allclose(float(logs["g_loss"]), float(tf.reduce_mean(expected)), rtol=1e-5)
    np.testing.assert_allclose(float(logs["g_latent_regression"]), term.mean(), rtol=1e-5)
    assert term.mean() > 0.3  # S has not learnt z yet: not negligible


def test_latent_regression_trains_s_with_g_and_leaves_d_and_the_style_phase_alone():
    moved, initial = {}, None
    for weight in (0.0, 5.0):
        config, gan = _latent_regression_gan(weight)
        if initial is None:  # both GANs start from the same weights
            initial = [
                n.get_weights() for n in (gan.generator, gan.discriminator, gan.style_encoder)
            ]
        for network, weights in zip(
            (gan.generator, gan.discriminator, gan.style_encoder), initial, strict=True
        ):
            network.set_weights(weights)
        s_before = _values(gan.style_encoder.trainable_variables)
        batch = make_batch(config, batch_size=4, with_noise=True)
        tf.function(gan.train_step)(batch)
        # S moves with G only when the term is on
        assert any(_changed(s_before, gan.style_encoder.trainable_variables)) == (weight > 0)
        moved[weight] = [
            _values(n.trainable_variables)
            for n in (gan.generator, gan.discriminator, gan.style_encoder)
        ]
        # S's own phase (G frozen) counts its steps on s_optimizer: untouched by the GAN
        assert int(gan.s_optimizer.iterations) == 0
    (g_off, d_off, s_off), (g_on, d_on, s_on) = moved[0.0], moved[5.0]
    assert sum(not np.allclose(a, b) for a, b in zip(s_off, s_on, strict=True)) >= len(s_on) // 2
    assert any(not np.allclose(a, b) for a, b in zip(g_off, g_on, strict=True))
    for a, b in zip(d_off, d_on, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_latent_regression_lets_s_read_z_back_from_g_samples():
    config, gan = _latent_regression_gan(1.0)
    batch = make_batch(config, batch_size=16)
    errors = _per_step(gan, batch, "g_latent_regression", steps=80)
    first, last = np.mean(errors[:5]), np.mean(errors[-5:])
    assert last < 0.6 * first, (first, last)
    # on fresh z (batch statistics: 80 steps are too few for BN's moving averages)
    noise = tf.random.stateless_normal([16, config.z_dim], seed=[1, 2])
    fake = gan.generator({"noise": noise, "embeddings": batch["embeddings"]}, training=True)
    read_back = gan.style_encoder(fake, training=True)
    assert np.mean(np.abs(read_back - noise)) < 0.6 * first


def test_latent_regression_needs_the_style_encoder():
    with pytest.raises(T2IError, match="latent_regression_weight"):
        tiny_config(latent_regression_weight=1.0).validate()


@pytest.mark.parametrize("interp", [True, False], ids=["gan_int image", "wrong caption"])
def test_style_consistency_term_is_the_pixel_change_between_two_captions(interp):
    config = tiny_config(conditions=["text"], interp=interp, style_consistency_weight=2.0)
    gan = build_gan(config, seed=0)
    batch = make_batch(config, batch_size=5, with_noise=True)
    right = {"embeddings": batch["embeddings"]}
    other = batch["wrong_embeddings"]
    if interp:  # GAN-INT's image is the partner: no extra pass of G
        other = 0.5 * batch["embeddings"] + 0.5 * batch["wrong_embeddings"]
    fake = gan.generator({"noise": batch["noise"], **right}, training=True).numpy()
    moved = gan.generator({"noise": batch["noise"], "embeddings": other}, training=True).numpy()
    term = np.mean(np.abs(fake - moved), axis=(1, 2, 3))  # by hand
    logs = gan.train_step(batch)
    np.testing.assert_allclose(float(logs["g_style_consistency"]), term.mean(), rtol=1e-5)
    terms = [float(logs[k]) for k in ("g_gan", "g_gan_int") if k in logs]
    np.testing.assert_allclose(float(logs["g_loss"]), sum(terms) + 2.0 * term.mean(), rtol=1e-5)
    assert term.mean() > 1e-3


def test_style_consistency_makes_g_move_less_with_the_caption():
    """The term is differentiated: G learns to keep z's image when only the caption changes."""
    changes = {}
    for weight in (0.0, 50.0):
        config = tiny_config(
            conditions=["text"], interp=False, style_consistency_weight=weight, g_lr=2e-3
        )
        gan = build_gan(config, seed=0)
        batch = make_batch(config, batch_size=8, with_noise=True)
        step = tf.function(gan.train_step)
        for _ in range(15):
            step(batch)
        # batch statistics, as in training: 15 steps are too few for BN's moving averages
        right, wrong = (
            gan.generator({"noise": batch["noise"], "embeddings": batch[key]}, training=True)
            for key in ("embeddings", "wrong_embeddings")
        )
        changes[weight] = float(np.mean(np.abs(right - wrong)))
    assert changes[50.0] < 0.5 * changes[0.0], changes


@pytest.mark.parametrize("conditions", [["mask"], []])
def test_style_consistency_is_inactive_without_a_vector_condition(conditions):
    # like cls and interp: a recipe's weight must not stop `--condition mask` or `--model dcgan`
    config = tiny_config(conditions=conditions, style_consistency_weight=1.0)
    config.validate()
    assert "style_consistency" not in config.loss_weights()[1]
    assert (
        tiny_config(conditions=["text"], style_consistency_weight=1.0).loss_weights()[1][
            "style_consistency"
        ]
        == 1.0
    )


def test_style_encoder_off_is_a_named_error():
    gan = build_gan(tiny_config())
    assert gan.style_encoder is None
    with pytest.raises(T2IError, match="style_encoder"):
        gan.train_style_encoder_step(make_batch(tiny_config()))


def test_style_encoder_trainer_fits():
    from tf_t2i.models.style_trainer import StyleEncoderTrainer

    config = tiny_config(image_size=28, channels=1, conditions=["text"], style_encoder=True)
    gan = build_gan(config, seed=0)
    batch = make_batch(config, batch_size=8)
    g_before = _values(gan.generator.weights)
    s_before = _values(gan.style_encoder.trainable_variables)
    trainer = StyleEncoderTrainer(gan)
    trainer.compile()
    history = trainer.fit(
        tf.data.Dataset.from_tensors(batch).repeat(), epochs=2, steps_per_epoch=5, verbose=0
    )
    assert set(history.history) == {"s_loss"} and len(history.history["s_loss"]) == 2
    assert all(_changed(s_before, gan.style_encoder.trainable_variables))
    assert not any(_changed(g_before, gan.generator.weights))


def test_fit_logs_the_trackers_and_counts_steps():
    config = tiny_config(image_size=28, channels=1, conditions=["text"])
    gan = build_gan(config, seed=0)
    dataset = tf.data.Dataset.from_tensors(make_batch(config)).repeat()
    history = gan.fit(dataset, epochs=2, steps_per_epoch=3, verbose=0)
    assert set(history.history) == {
        "d_loss",
        "g_loss",
        "d_real",
        "d_wrong",
        "d_fake",
        "d_gan_cls",
        "g_gan",
        "g_gan_int",
    }
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert int(gan.step.numpy()) == 6


def _seeded_cls_gan(**overrides):
    """A seeded GAN-CLS text model, a batch with noise, its right conditions and D's
    logits before any update (see _hand_logits)."""
    keras.utils.set_random_seed(0)
    config = tiny_config(conditions=["text"], cls=True, interp=False, **overrides)
    batch = make_batch(config, with_noise=True)
    gan = build_gan(config, seed=0)
    right = {"embeddings": batch["embeddings"]}
    logits = _hand_logits(
        gan, batch, {"right": right, "wrong": {"embeddings": batch["wrong_embeddings"]}}
    )
    return gan, batch, right, logits


def test_r1_term_enters_d_loss_and_d_learns_through_it():
    gan, batch, right, logits = _seeded_cls_gan(r1_gamma=2.0)
    images = batch["images"]
    with tf.GradientTape() as tape:
        tape.watch(images)
        real = tf.reduce_sum(gan.discriminator({"images": images, **right}, training=True))
    penalty = tf.reduce_sum(tf.square(tape.gradient(real, images)), [1, 2, 3])
    expected = (
        losses.gan_cls_discriminator_loss(
            logits["real"], logits["wrong"], logits["fake"], real_label=0.9
        )
        + 0.5 * 2.0 * penalty
    )
    d_before = _values(gan.discriminator.trainable_variables)
    logs = tf.function(gan.train_step)(batch)
    np.testing.assert_allclose(float(logs["d_loss"]), float(tf.reduce_mean(expected)), rtol=1e-4)
    np.testing.assert_allclose(float(logs["d_r1"]), float(tf.reduce_mean(penalty)), rtol=1e-4)
    assert float(logs["d_r1"]) > 0
    assert all(_changed(d_before, gan.discriminator.trainable_variables))


def test_r1_gradient_is_the_penalty_gradient():
    # D's update with only the R1 term (no GAN term reaches D: d_lr irrelevant, SGD) equals
    # minus lr times the double-backprop gradient of gamma/2 ||grad_x D||^2.
    keras.utils.set_random_seed(1)
    config = tiny_config(conditions=["text"], cls=False, interp=False, r1_gamma=1.0)
    batch = make_batch(config, with_noise=True)
    with_r1 = ConditionalGAN(config, seed=0)
    with_r1.compile(keras.optimizers.SGD(1.0), keras.optimizers.SGD(0.0))
    plain = ConditionalGAN(tiny_config(conditions=["text"], cls=False, interp=False), seed=0)
    plain.compile(keras.optimizers.SGD(1.0), keras.optimizers.SGD(0.0))
    plain.set_weights(with_r1.get_weights())
    d = with_r1.discriminator
    right = {"embeddings": batch["embeddings"]}
    images = batch["images"]
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(images)
            real = tf.reduce_sum(d({"images": images, **right}, training=True))
        grads = inner.gradient(real, images)
        r1 = 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(grads), [1, 2, 3]))
    expected = outer.gradient(r1, d.trainable_variables)
    before = _values(d.trainable_variables)
    with_r1.train_step(batch)
    plain.train_step(batch)
    for b, a, p, g in zip(
        before,
        d.trainable_variables,
        plain.discriminator.trainable_variables,
        expected,
        strict=True,
    ):
        # (update with R1) - (update without) = -lr * dR1/dw
        got = (a.numpy() - b) - (p.numpy() - b)
        want = np.zeros_like(b) if g is None else -g.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6)


def test_aux_classifier_terms_enter_both_losses():
    gan, batch, right, logits = _seeded_cls_gan(aux_weight=0.5)
    trunk = gan.discriminator.get_layer("d_trunk")
    fake = gan.generator({"noise": batch["noise"], **right}, training=True)
    real_class = gan.classifier(trunk({"images": batch["images"]}, training=True))
    fake_class = gan.classifier(trunk({"images": fake}, training=True))
    d_aux = losses.auxiliary_class_loss(real_class, batch["labels"])
    g_aux = losses.auxiliary_class_loss(fake_class, batch["labels"])
    d_expected = losses.gan_cls_discriminator_loss(
        logits["real"], logits["wrong"], logits["fake"], real_label=0.9
    )
    g_expected = losses.gan_cls_generator_loss(logits["fake"], None)
    logs = gan.train_step(batch)
    mean = lambda x: float(tf.reduce_mean(x))  # noqa: E731
    np.testing.assert_allclose(float(logs["d_aux"]), mean(d_aux), rtol=1e-5)
    np.testing.assert_allclose(float(logs["g_aux"]), mean(g_aux), rtol=1e-5)
    np.testing.assert_allclose(float(logs["d_loss"]), mean(d_expected + 0.5 * d_aux), rtol=1e-5)
    np.testing.assert_allclose(float(logs["g_loss"]), mean(g_expected + 0.5 * g_aux), rtol=1e-5)
    assert mean(d_aux) > 0.1 and mean(g_aux) > 0.1  # untrained: the terms are not negligible


def test_aux_classifier_learns_with_d_only():
    config = tiny_config(conditions=["text"], aux_weight=1.0)
    batch = make_batch(config)
    frozen_d = _gan_with_learning_rates(config, d_lr=0.0, g_lr=1e-2)
    before = _values(frozen_d.classifier.trainable_variables)
    frozen_d.train_step(batch)  # G learns from the classifier, which must not move
    assert not any(_changed(before, frozen_d.classifier.trainable_variables))
    frozen_g = _gan_with_learning_rates(config, d_lr=1e-2, g_lr=0.0)
    before = _values(frozen_g.classifier.trainable_variables)
    frozen_g.train_step(batch)
    assert all(_changed(before, frozen_g.classifier.trainable_variables))


def test_aux_classifier_needs_classes():
    with pytest.raises(T2IError, match="model.num_classes"):
        tiny_config(conditions=["text"], aux_weight=1.0, num_classes=0).validate()


def test_d_only_steps_skip_all_of_gs_work(monkeypatch):
    # GAN-INT and mode seeking on: G's terms need two more passes of G; none run on D-only steps
    config = tiny_config(conditions=["text"], d_steps=3, mode_seeking_weight=1.0)
    gan = build_gan(config, seed=0)
    calls = {"generator_terms": 0, "interpolation": 0, "mode_seeking": 0, "updates": []}

    def counting(name, method):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return method(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(gan, "_generator_terms", counting("generator_terms", gan._generator_terms))
    monkeypatch.setattr(gan, "_interpolation", counting("interpolation", gan._interpolation))
    monkeypatch.setattr(gan, "_mode_seeking", counting("mode_seeking", gan._mode_seeking))
    update = gan.apply_loss
    monkeypatch.setattr(
        gan,
        "apply_loss",
        lambda tape, loss, variables, optimizer: (
            calls["updates"].append(optimizer.name),
            update(tape, loss, variables, optimizer),
        ),
    )
    batch = make_batch(config)
    g_before = _values(gan.generator.trainable_variables)
    for _ in range(2):  # eager: tf.cond runs only the taken branch
        logs = gan.train_step(batch)
    assert calls == {
        "generator_terms": 0,
        "interpolation": 0,
        "mode_seeking": 0,
        "updates": [gan.d_optimizer.name] * 2,
    }
    assert not any(_changed(g_before, gan.generator.trainable_variables))
    assert gan.trackers["g_loss"].count.numpy() == 0 and float(logs["d_loss"]) > 0
    gan.train_step(batch)  # the third step is G's turn
    assert calls["generator_terms"] == calls["interpolation"] == calls["mode_seeking"] == 1
    assert calls["updates"][2:] == [gan.d_optimizer.name, gan.g_optimizer.name]
    assert all(_changed(g_before, gan.generator.trainable_variables))
    assert int(gan.step.numpy()) == 3
