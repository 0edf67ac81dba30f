"""get_config / from_config, weights, and the .keras file round trip."""

import keras
import numpy as np
import pytest
from conftest import make_batch, tiny_config

from tf_t2i.models.build import build_gan
from tf_t2i.models.conditional_gan import ConditionalGAN


def _config():
    return tiny_config(
        conditions=["text", "mask"],
        mask_resolutions=[8],
        style_encoder=True,
        projection=True,
        minibatch_stddev=True,
        augment=["color"],  # the one policy allowed beside a mask
        ema_decay=0.9,  # generate() draws with G_ema: its weights must round-trip too
        aux_weight=1.0,
    )


def test_config_round_trip():
    gan = build_gan(_config(), seed=3)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(gan))
    assert isinstance(restored, ConditionalGAN)
    assert restored.model_config == gan.model_config and restored.seed == 3
    assert [w.shape for w in restored.weights] == [w.shape for w in gan.weights]


def test_weights_round_trip(tmp_path):
    config = _config()
    gan = build_gan(config, seed=0)
    gan.train_step(make_batch(config))  # moves weights and batch-norm statistics off init
    path = tmp_path / "gan.weights.h5"
    gan.save_weights(path)
    restored = build_gan(config, seed=1)
    restored.load_weights(path)
    conditions = make_batch(config, seed=5)
    np.testing.assert_array_equal(
        gan.generate(conditions, seed=7).numpy(), restored.generate(conditions, seed=7).numpy()
    )
    inputs = {k: conditions[k] for k in gan.discriminator.input}
    np.testing.assert_array_equal(gan.discriminator(inputs), restored.discriminator(inputs))
    images = conditions["images"]
    np.testing.assert_array_equal(gan.style_encoder(images), restored.style_encoder(images))
    trunk = gan.discriminator.get_layer("d_trunk")
    features = trunk({k: conditions[k] for k in trunk.input})
    np.testing.assert_array_equal(gan.classifier(features), restored.classifier(features))


@pytest.mark.parametrize("rotation", [False, True], ids=["masks", "style rotation"])
def test_keras_file_round_trip(tmp_path, rotation):
    # G's turn by z (never with masks) has weights of its own that must round-trip too
    config = tiny_config(style_rotation=0.2, ema_decay=0.9) if rotation else _config()
    gan = build_gan(config, seed=0)
    gan.train_step(make_batch(config))
    path = tmp_path / "gan.keras"
    gan.save(path)
    restored = keras.saving.load_model(path, compile=False)
    assert isinstance(restored, ConditionalGAN) and restored.model_config == config
    conditions = make_batch(config, seed=5)
    np.testing.assert_array_equal(
        gan.generate(conditions, seed=7).numpy(), restored.generate(conditions, seed=7).numpy()
    )
