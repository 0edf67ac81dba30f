import json
import shutil

import numpy as np
import pytest

from tf_t2i.errors import T2IError
from tf_t2i.evaluation import evaluator as ev
from tf_t2i.evaluation import inception
from tf_t2i.evaluation.evaluator_training import train_evaluator


def test_network_outputs_features_and_the_heads_the_data_has():
    net = ev.build_evaluator_network(28, 1, num_classes=10, num_attributes=0)
    out = net(np.zeros((2, 28, 28, 1), np.float32))
    assert sorted(out) == ["features", "label"]
    assert out["features"].shape == (2, ev.FEATURE_DIM)
    np.testing.assert_allclose(np.sum(out["label"], axis=1), 1.0, rtol=1e-5)
    assert ev.head_sizes(net) == (10, 0)
    with pytest.raises(T2IError, match="neither class names nor attribute names"):
        ev.build_evaluator_network(32, 3, 0, 0)


def test_evaluator_trained_on_real_shapes_beats_chance_clearly(shapes_dir, trained_evaluator):
    path, info = trained_evaluator
    assert path == shapes_dir / "evaluator" / "evaluator.keras" and path.is_file()
    chance = 1 / len(info["class_names"])  # 48 colour x shape classes
    assert info["accuracy_split"] == "test"
    assert info["real_accuracy"]["class_accuracy"] > 5 * chance
    # the loaded model reproduces the stored accuracy on the real test split
    loaded = ev.Evaluator.load(data_dir=shapes_dir)
    again = ev.evaluate_accuracy(loaded.network, shapes_dir, "test")
    assert again == pytest.approx(info["real_accuracy"])


def test_predict_returns_features_and_posteriors(shapes_dir, trained_evaluator):
    loaded = ev.Evaluator.load(trained_evaluator[0], data_dir=shapes_dir)
    batch = next(ev.real_batches(shapes_dir, "test", 8))
    out = loaded.predict(batch["images"], batch_size=3)  # several batches, one partial
    assert out["features"].shape == (8, ev.FEATURE_DIM)
    assert out["probs"].shape == (8, 48) and out["attr_probs"].shape == (8, 29)
    np.testing.assert_allclose(out["probs"].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out["features"], loaded.predict(batch["images"])["features"])


def test_evaluator_of_another_data_set_is_refused(
    tmp_path, make_shapes, shapes_dir, trained_evaluator
):
    other = make_shapes(tmp_path / "other", num_images=40, seed=1)
    with pytest.raises(T2IError, match="trained on another data set"):
        ev.Evaluator.load(trained_evaluator[0], data_dir=other)


def test_a_moved_copy_of_the_data_set_still_matches(tmp_path, shapes_dir, trained_evaluator):
    copy = tmp_path / "copy"
    shutil.copytree(shapes_dir, copy)
    assert (
        ev.Evaluator.load(data_dir=copy).info["data_fingerprint"]
        == (trained_evaluator[1]["data_fingerprint"])
    )


def test_missing_evaluator_or_metadata_is_a_clear_error(tmp_path, shapes_dir, trained_evaluator):
    with pytest.raises(T2IError, match="t2i evaluator train --data"):
        ev.Evaluator.load(tmp_path / "none.keras", data_dir=shapes_dir)
    lone = tmp_path / "lone.keras"
    shutil.copy(trained_evaluator[0], lone)
    with pytest.raises(T2IError, match="lone.json is missing"):
        ev.Evaluator.load(lone, data_dir=shapes_dir)


def test_inception_features_offline_give_a_clear_error(tmp_path, monkeypatch, shapes_dir):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    with pytest.raises(T2IError, match="Inception-v3 ImageNet weights") as err:
        ev.Evaluator.load(data_dir=shapes_dir, features="inception")
    assert inception.NOTOP_WEIGHTS in str(err.value)
    with pytest.raises(T2IError, match="no such file"):
        inception.resolve_weights(tmp_path / "missing.h5")


def test_evaluator_info_records_the_data_set(shapes_dir, trained_evaluator):
    info = json.loads(ev.info_path(trained_evaluator[0]).read_text())
    assert info["source"]["name"] == "shapes" and info["image_size"] == 32
    assert len(info["attribute_names"]) == 29


@pytest.mark.large
def test_inception_features_from_a_local_weights_file(tmp_path, shapes_dir, trained_evaluator):
    import keras
    import tensorflow as tf

    # the real architecture with random weights, saved where a user would put ImageNet's
    network = keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(299, 299, 3), pooling="avg"
    )
    weights = tmp_path / "inception.weights.h5"
    network.save_weights(weights)
    loaded = ev.Evaluator.load(data_dir=shapes_dir, features="inception", inception_weights=weights)
    images = next(ev.real_batches(shapes_dir, "test", 3))["images"]
    out = loaded.predict(images)
    assert loaded.features_name == "inception"
    assert out["features"].shape == (3, inception.FEATURE_DIM)
    assert out["probs"].shape == (3, 48)  # posteriors still come from the evaluator
    resized = tf.image.resize(images, (299, 299))  # [-1, 1] is already Inception's range
    expected = network.predict(np.asarray(resized), verbose=0)
    np.testing.assert_allclose(out["features"], expected, rtol=1e-3, atol=1e-4)


def test_evaluator_trains_on_a_data_set_without_attributes(tmp_path, hash_encoder):
    """Digits have labels but no attributes: their [B, 0] attribute tensors once crashed
    TensorFlow (segfault) when the evaluator's pipeline unbatched them into a cache."""
    from tf_t2i.data.convert import convert
    from tf_t2i.data.sources import get_source

    data = tmp_path / "digits"
    source = get_source("digits", None, image_size=32)
    convert(source, data, encoder=hash_encoder, image_size=32, limit=200, progress=False)
    path = train_evaluator(data, epochs=2, seed=0, log=lambda *_: None)
    info = json.loads(ev.info_path(path).read_text())
    assert info["attribute_names"] == [] and len(info["class_names"]) == 10
    assert "class_accuracy" in info["real_accuracy"]
