"""FID as published tables compute it: the 2015 Inception GraphDef (a tiny one with
the real tensor names), published .npz statistics, passes, truncation, protocols."""

import numpy as np
import pytest
from inception_fixture import FEATURES, write_graph

from tf_t2i.errors import T2IError
from tf_t2i.evaluation import metrics
from tf_t2i.evaluation.published import (
    FidProtocol,
    load_reference,
    protocol_line,
    protocol_settings,
    published_fid,
    truncated_noise,
)


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from tf_t2i.evaluation.inception_graph import InceptionGraph

    path = write_graph(tmp_path_factory.mktemp("inception") / "classify_image_graph_def.pb")
    return InceptionGraph(path)


def test_graph_features_come_from_pool_3_and_do_not_depend_on_the_batch(graph):
    images = np.random.default_rng(0).uniform(0, 255, (5, 20, 20, 3))
    together = graph(images)
    assert together.shape == (5, FEATURES) and graph.feature_dim == FEATURES
    np.testing.assert_allclose(together, np.concatenate([graph(images[i : i + 1]) for i in range(5)]),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    described = graph.description()
    assert described["output"] == "pool_3:0" and len(described["sha256"]) == 64
    assert described["resize"] == "the graph's ResizeBilinear to 16x16"


def test_a_graph_without_the_real_tensor_names_is_refused(tmp_path):
    import tensorflow as tf

    from tf_t2i.evaluation.inception_graph import InceptionGraph

    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.placeholder(tf.float32, [None, 4], name="input")
    path = tmp_path / "other.pb"
    path.write_bytes(g.as_graph_def().SerializeToString())
    with pytest.raises(T2IError, match="no ExpandDims:0 or pool_3:0"):
        InceptionGraph(path)
    with pytest.raises(T2IError, match="no such file"):
        InceptionGraph(tmp_path / "missing.pb")


def test_truncated_noise_stays_within_the_scaled_bound_and_is_seeded():
    z = truncated_noise(np.random.default_rng(3), (400, 100), 0.88, 2.0)
    assert z.dtype == np.float32 and np.abs(z).max() <= 0.88 * 2.0 + 1e-6
    np.testing.assert_array_equal(
        z, truncated_noise(np.random.default_rng(3), (400, 100), 0.88, 2.0)
    )
    assert np.abs(truncated_noise(np.random.default_rng(3), (400, 100), None, 2.0)).max() > 2.0


def test_reference_statistics_must_match_the_network(tmp_path):
    np.savez(tmp_path / "ref.npz", mu=np.zeros(FEATURES), sigma=np.eye(FEATURES))
    mu, sigma = load_reference(tmp_path / "ref.npz", FEATURES)
    assert mu.shape == (FEATURES,) and sigma.shape == (FEATURES, FEATURES)
    with pytest.raises(T2IError, match="gives 2048 features: they come from another network"):
        load_reference(tmp_path / "ref.npz", 2048)
    np.savez(tmp_path / "bad.npz", m=np.zeros(3))
    with pytest.raises(T2IError, match="expected arrays 'mu' and 'sigma'"):
        load_reference(tmp_path / "bad.npz", 3)


def test_named_protocols_set_every_setting_and_overrides_are_named():
    dfgan = protocol_settings("dfgan-cub")
    assert (dfgan.passes, dfgan.truncation, dfgan.quantize, dfgan.reference_required) == (
        10, 0.88, False, True)  # fmt: skip
    changed = protocol_settings("dfgan-cub", passes=2, truncation=0)
    assert changed.passes == 2 and changed.truncation is None
    assert changed.name == "dfgan-cub (modified: passes, truncation)"
    with pytest.raises(T2IError, match="choose one of dfgan-cub, ttur"):
        protocol_settings("fid-of-my-dreams")


def test_fid_is_the_frechet_distance_of_the_generated_pool_3_features(graph, tmp_path, monkeypatch):
    from tf_t2i.evaluation import published

    captions = [np.full((3, 4), i, np.float32) for i in range(6)]  # 6 examples, 3 captions each
    monkeypatch.setattr(published, "caption_embeddings", lambda data_dir, split: captions)
    drawn = []

    def generate(conditions, noise):  # images depend on the caption and the noise
        e = conditions["embeddings"][:, :1, None, None] / 6.0
        images = np.tanh(e + noise[:, :3][:, None, None, :] * np.ones((1, 8, 8, 1)))
        drawn.append(images)
        return images

    np.savez(tmp_path / "ref.npz", mu=np.full(FEATURES, 0.1), sigma=np.eye(FEATURES) * 0.01)
    settings = FidProtocol("test", passes=2, truncation=0.5, quantize=False)
    result = published_fid(generate, 5, "unused", graph, settings, tmp_path / "ref.npz", seed=1)
    features = graph((np.concatenate(drawn) + 1.0) * 127.5)
    expected = metrics.frechet_distance(*metrics.gaussian_stats(features), np.full(FEATURES, 0.1),
                                        np.eye(FEATURES) * 0.01)  # fmt: skip
    assert result["fid"] == pytest.approx(expected, rel=1e-6)
    recorded = result["settings"]
    assert recorded["num_samples"] == 12 and recorded["passes"] == 2
    assert recorded["truncation"] == {"scale": 0.5, "bound": 2.0}
    assert recorded["reference_stats"]["file"].endswith("ref.npz")
    assert result["protocol_line"] == protocol_line(result["fid"], recorded)
    assert "12 samples = 2 x 6 test captions" in result["protocol_line"]
