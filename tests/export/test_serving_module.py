"""ServingModule endpoints for every conditioning, and the atomic version layout.

These use freshly built tiny GANs and a hashing stand-in for the text
encoder, so they run in seconds; test_savedmodel.py covers the real export.
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from export_testing import toy_export, toy_module

from tf_t2i.errors import T2IError
from tf_t2i.export import layout, ops, savedmodel, warmup
from tf_t2i.export.model_card import read_model_card


def _inputs(fn):
    return {spec.name: spec for spec in fn.input_signature}


@pytest.mark.parametrize(
    "conditions, extra, expected",
    [
        ([], {}, ["seed", "noise"]),
        (["attributes"], {"num_attributes": 5}, ["attributes", "seed", "noise"]),
        (["class"], {"num_classes": 3}, ["label", "seed", "noise"]),
        (["mask"], {}, ["mask", "seed", "noise"]),
        (["text", "mask"], {}, ["text", "mask", "seed", "noise"]),
    ],
)
def test_each_conditioning_gets_its_own_inputs(conditions, extra, expected):
    module, config = toy_module(conditions, **extra)
    assert list(_inputs(module.serving_default)) == expected
    assert module.endpoint_names == ["serving_default"]  # GAN-INT / style only for text models
    example = warmup.example_inputs({"serving_default": _inputs(module.serving_default)}, 32, 3)
    example = {k: tf.constant(v) for k, v in example["serving_default"].items()}
    out = module.serving_default(**example)
    assert out["images"].dtype == tf.uint8 and out["images"].shape == (1, 32, 32, 3)
    assert out["png_bytes"].shape == (1,)


def test_text_model_endpoints_and_seed_determinism():
    module, config = toy_module(["text"])
    assert module.endpoint_names == ["serving_default", "from_embedding", "interpolate"]
    text = tf.constant(["a red circle", "a blue square"])
    seed = tf.constant([3, 3], tf.int64)
    first = module.serving_default(text=text, seed=seed)["images"].numpy()
    again = module.serving_default(text=text, seed=seed)["images"].numpy()
    np.testing.assert_array_equal(first, again)
    other = module.serving_default(text=text, seed=tf.constant([4, 4], tf.int64))["images"]
    assert not np.array_equal(first, other.numpy())
    # explicit noise wins over seeds
    noise = tf.zeros([2, config.z_dim])
    a = module.serving_default(text=text, seed=seed, noise=noise)["images"].numpy()
    b = module.serving_default(text=text, noise=noise)["images"].numpy()
    np.testing.assert_array_equal(a, b)
    # from_embedding with the encoder's embeddings = serving_default
    embeddings = module.text_encoder(text)
    via = module.from_embedding(embeddings=embeddings, seed=seed)["images"].numpy()
    np.testing.assert_array_equal(via, first)


def test_interpolate_walks_from_text_a_to_text_b():
    module, _ = toy_module(["text"])
    strip = module.interpolate(text_a="a red circle", text_b="a blue square", steps=5, seed=2)
    images = strip["images"].numpy()
    assert images.shape == (5, 32, 32, 3)
    ends = module.serving_default(
        text=tf.constant(["a red circle", "a blue square"]),
        noise=tf.tile(
            tf.random.stateless_normal([1, 16], seed=tf.constant([2, 0], tf.int64)), [2, 1]
        ),
    )["images"].numpy()
    np.testing.assert_array_equal(images[0], ends[0])
    np.testing.assert_array_equal(images[-1], ends[1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="steps: give at least 2"):
        module.interpolate(text_a="a", text_b="b", steps=1)


def test_a_truncated_model_draws_truncated_noise_from_seeds_in_process_and_saved(tmp_path):
    module, config = toy_module(["text"], truncation=0.5)
    assert module.truncation == 0.5
    text = tf.constant(["a red circle", "a red circle", "a blue square"])
    seed = tf.constant([3, 3, 5], tf.int64)
    seeded = module.serving_default(text=text, seed=seed)["images"].numpy()
    truncated = ops.seeded_noise(seed, config.z_dim, 0.5)
    given = module.serving_default(text=text, noise=truncated)["images"].numpy()
    np.testing.assert_array_equal(seeded, given)
    plain = module.serving_default(text=text, noise=ops.seeded_noise(seed, config.z_dim))
    assert not np.array_equal(seeded, plain["images"].numpy())
    # the interpolation's one noise row is the seed's, truncated too (2 steps: the two ends,
    # a batch of the same size as the one it is compared with)
    strip = module.interpolate(text_a="a red circle", text_b="a blue square", steps=2, seed=2)
    ends = module.serving_default(
        text=tf.constant(["a red circle", "a blue square"]),
        noise=tf.tile(ops.seeded_noise(tf.constant([2], tf.int64), config.z_dim, 0.5), [2, 1]),
    )["images"].numpy()
    np.testing.assert_array_equal(strip["images"].numpy(), ends)
    # the SavedModel draws the very same noise from the same seeds
    result = savedmodel.write_savedmodel(module, tmp_path, "narrow")
    loaded = tf.saved_model.load(str(result.path))
    np.testing.assert_array_equal(loaded.serving_default(text=text, seed=seed)["images"], seeded)
    saved_strip = loaded.interpolate(text_a="a red circle", text_b="a blue square", steps=2, seed=2)
    np.testing.assert_array_equal(saved_strip["images"], strip["images"])


def test_style_transfer_uses_the_style_encoder():
    module, _ = toy_module(["text"], style_encoder=True)
    assert "style_transfer" in module.endpoint_names
    style = tf.io.encode_png(tf.fill([48, 48, 3], tf.constant(200, tf.uint8)))
    out = module.style_transfer(image=tf.stack([style, style]), text=tf.constant(["a", "b"]))
    assert out["images"].shape == (2, 32, 32, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sizes differ"):
        module.style_transfer(image=tf.stack([style]), text=tf.constant(["a", "b"]))


def test_wrong_seed_count_and_empty_text_are_errors():
    module, _ = toy_module(["text"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="one seed per row"):
        module.serving_default(text=tf.constant(["a", "b"]), seed=tf.constant([1], tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch is empty"):
        module.serving_default(text=tf.constant([], tf.string))


def test_versions_increment_and_are_never_overwritten(tmp_path):
    first = toy_export(tmp_path, conditions=())
    second = toy_export(tmp_path, conditions=())
    assert (first.version, second.version) == (1, 2)
    assert layout.versions(tmp_path / "toy") == [1, 2]
    assert read_model_card(second.path) is None  # no run, no card
    module, _ = toy_module(())
    stamp = os.stat(first.path / "saved_model.pb").st_mtime_ns
    with pytest.raises(T2IError, match="exists already"):
        savedmodel.write_savedmodel(module, tmp_path, "toy", version=1)
    assert os.stat(first.path / "saved_model.pb").st_mtime_ns == stamp
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == ["1", "2"]


def test_an_interrupted_export_leaves_no_version(tmp_path, monkeypatch):
    module, _ = toy_module(())

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C while writing

    monkeypatch.setattr(savedmodel, "write_warmup_requests", crash)
    with pytest.raises(KeyboardInterrupt):
        savedmodel.write_savedmodel(module, tmp_path, "toy")
    assert not (tmp_path / "toy").exists()  # the model dir it made is gone too
    assert layout.next_version(tmp_path / "toy") == 1


def test_resolve_and_discover(tmp_path):
    result = toy_export(tmp_path / "root", conditions=())
    assert layout.resolve_savedmodel(result.path) == result.path
    assert layout.resolve_savedmodel(tmp_path / "root" / "toy") == result.path
    assert layout.discover_models(tmp_path / "root") == {"toy": {1: result.path}}
    (tmp_path / "root" / "toy" / ".incomplete-2-x").mkdir()  # ignored, as TF Serving does
    assert layout.discover_models(tmp_path / "root" / "toy") == {"toy": {1: result.path}}
    with pytest.raises(T2IError, match="not a SavedModel"):
        layout.resolve_savedmodel(tmp_path)
