"""A train step under each precision policy: float32, mixed_bfloat16, mixed_float16."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import make_batch, tiny_config

from tf_t2i.models.build import build_gan

REMEDIES = dict(
    projection=True,
    minibatch_stddev=True,
    mode_seeking_weight=0.5,
    augment=["color", "translation", "cutout"],
    r1_gamma=1.0,
    ema_decay=0.9,
    style_encoder=True,
    latent_regression_weight=1.0,  # S's weights join G's (loss-scaled) optimizer
)


@pytest.mark.parametrize("remedies", [False, True], ids=["reed", "remedies"])
@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_step_under_policy(policy, remedies, float32_policy):
    keras.mixed_precision.set_dtype_policy(policy)
    extra = REMEDIES if remedies else {}
    config = tiny_config(image_size=28, channels=1, conditions=["text"], **extra)
    gan = build_gan(config, seed=0)
    scaled = isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")
    assert scaled == isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    compute = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
    assert gan.generator.get_layer("g_up0").compute_dtype == compute[policy]
    assert gan.generator.get_layer("g_up0").kernel.dtype == "float32"

    batch = make_batch(config, batch_size=3)
    before = [v.numpy().copy() for v in gan.generator.trainable_variables]
    logs = tf.function(gan.train_step)(batch)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(
        not np.array_equal(b, v.numpy())
        for b, v in zip(before, gan.generator.trainable_variables, strict=True)
    )
    assert (
        gan.discriminator({"images": batch["images"], "embeddings": batch["embeddings"]}).dtype
        == tf.float32
    )
    images = gan.generate({"embeddings": batch["embeddings"]}, seed=0)
    assert images.dtype == tf.float32 and float(tf.reduce_max(tf.abs(images))) <= 1.0


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_r1_is_unscaled_under_mixed_precision(policy, float32_policy):
    # Under float16 the inner gradient is loss-scaled (2**15 at first): R1 must come out
    # as in float32, not scale**2 times larger.
    config = tiny_config(image_size=28, channels=1, conditions=["text"], r1_gamma=1.0)
    batch = make_batch(config, batch_size=3, with_noise=True)
    reference = build_gan(config, seed=0)
    weights = reference.get_weights()
    expected = float(reference.train_step(batch)["d_r1"])
    keras.mixed_precision.set_dtype_policy(policy)
    mixed = build_gan(config, seed=0)
    mixed.set_weights(weights)
    got = float(mixed.train_step(batch)["d_r1"])
    assert expected > 0
    np.testing.assert_allclose(got, expected, rtol=0.1)
