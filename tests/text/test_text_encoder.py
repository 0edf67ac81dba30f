"""load_encoder / TextEncoder: use-m3, local SavedModel directories, TF Hub handles."""

import hashlib
import os
import socket
import time

import numpy as np
import pytest
import tensorflow as tf

from tf_t2i.errors import T2IError
from tf_t2i.text.encoder import HUB_TIMEOUT_ENV, load_encoder


class CallableEncoder(tf.Module):
    """A tiny encoder with `__call__`: string [N] -> float32 [N, 3]."""

    def __init__(self, scale):
        super().__init__()
        self.w = tf.Variable([scale, 2.0 * scale, -scale])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        length = tf.cast(tf.strings.length(texts, unit="UTF8_CHAR"), tf.float32)
        return (length[:, None] + 1.0) * self.w[None, :]


class SignatureOnlyEncoder(tf.Module):
    """A tiny encoder exposing only a serving_default signature (no __call__)."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable([1.0, 10.0])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def embed(self, sentences):
        length = tf.cast(tf.strings.length(sentences), tf.float32)
        return {"vectors": length[:, None] * self.w[None, :]}


def save_callable(path, scale=1.0):
    tf.saved_model.save(CallableEncoder(scale), str(path))
    return str(path)


def test_use_m3_reports_dim_path_and_a_stable_fingerprint(use_m3):
    assert use_m3.spec == "use-m3" and use_m3.dim == 512
    assert len(use_m3.fingerprint) == 16 and int(use_m3.fingerprint, 16) >= 0
    again = load_encoder("use-m3")
    assert again.fingerprint == use_m3.fingerprint and again.path == use_m3.path


def test_encode_shapes_batches_and_edge_cases(use_m3, captions):
    texts = captions[:10] + ["", "x" * 20000, "Großer Vogel, 大きな鳥"]
    whole = use_m3.encode(texts)
    assert whole.dtype == np.float32 and whole.shape == (len(texts), 512)
    np.testing.assert_allclose(use_m3.encode(texts, batch_size=3), whole, atol=2e-6)
    empty = use_m3.encode([])
    assert empty.dtype == np.float32 and empty.shape == (0, 512)
    with pytest.raises(T2IError, match="text 1 is bytes"):
        use_m3.encode(["ok", b"bytes"])


def test_module_works_inside_tf_function_and_dataset_map(use_m3, captions):
    expected = use_m3.encode(captions[:4])

    @tf.function
    def embed(texts):
        return use_m3.module(texts)

    np.testing.assert_allclose(embed(tf.constant(captions[:4])).numpy(), expected, atol=1e-6)
    ds = tf.data.Dataset.from_tensor_slices(captions[:4]).batch(2).map(use_m3.module)
    np.testing.assert_allclose(np.concatenate(list(ds.as_numpy_iterator())), expected, atol=1e-6)


def test_built_use_m3_directory_as_a_local_spec(use_m3, captions):
    local = load_encoder(use_m3.path)
    assert local.spec == use_m3.path and local.dim == 512
    assert local.fingerprint == use_m3.fingerprint
    np.testing.assert_allclose(local.encode(captions[:5]), use_m3.encode(captions[:5]))


def test_tiny_local_saved_model_with_call(tmp_path):
    encoder = load_encoder(save_callable(tmp_path / "a", scale=1.0))
    assert encoder.dim == 3
    out = encoder.encode(["", "ab", "日本"])
    np.testing.assert_allclose(out, [[1, 2, -1], [3, 6, -3], [3, 6, -3]])
    # Fingerprint: a hash of the variables, equal across loads and re-saves,
    # different when a value differs.
    assert load_encoder(encoder.path).fingerprint == encoder.fingerprint
    assert load_encoder(save_callable(tmp_path / "b", 1.0)).fingerprint == encoder.fingerprint
    assert load_encoder(save_callable(tmp_path / "c", 2.0)).fingerprint != encoder.fingerprint


def test_tiny_local_saved_model_with_only_a_default_signature(tmp_path):
    module = SignatureOnlyEncoder()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.embed})
    encoder = load_encoder(str(tmp_path))
    assert encoder.dim == 2
    np.testing.assert_allclose(encoder.encode(["abc", ""]), [[3, 30], [0, 0]])
    # Usable as a callable module inside a graph, like a hub.load object.
    graph_fn = tf.function(lambda t: encoder.module(t))
    np.testing.assert_allclose(graph_fn(tf.constant(["ab"])).numpy(), [[2, 20]])


def test_local_directories_that_are_not_encoders(tmp_path):
    with pytest.raises(T2IError, match="no such directory.*use-m3"):
        load_encoder(str(tmp_path / "missing"))
    with pytest.raises(T2IError, match="not a SavedModel directory"):
        load_encoder(str(tmp_path))

    class FloatModel(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return x[:, None]

    tf.saved_model.save(FloatModel(), str(tmp_path / "floats"))
    with pytest.raises(T2IError, match="must map strings to \\[N, D\\]"):
        load_encoder(str(tmp_path / "floats"))


def test_tfhub_handle_offline_is_a_quick_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    handle = "https://tfhub.dev/google/universal-sentence-encoder/4"
    start = time.monotonic()
    with pytest.raises(T2IError) as err:
        load_encoder(handle)
    assert time.monotonic() - start < 60
    message = str(err.value)
    assert handle in message and "use-m3" in message and "local SavedModel directory" in message


def test_hub_download_that_never_answers_times_out(monkeypatch, tmp_path):
    # A server that accepts connections but never replies: without a timeout,
    # tensorflow_hub's urlopen would wait forever.
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv(HUB_TIMEOUT_ENV, "1")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        handle = f"http://127.0.0.1:{server.getsockname()[1]}/models/encoder/1"
        start = time.monotonic()
        with pytest.raises(T2IError, match="cannot fetch TF Hub model .*use-m3"):
            load_encoder(handle)
        assert time.monotonic() - start < 15
    assert socket.getdefaulttimeout() is None


def test_hub_handle_found_in_tfhub_cache_dir_loads_offline(monkeypatch, tmp_path):
    handle = "https://tfhub.dev/someone/tiny-encoder/1"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    cached = tmp_path / hashlib.sha1(handle.encode()).hexdigest()
    save_callable(cached, scale=3.0)
    encoder = load_encoder(handle)
    assert encoder.spec == handle and encoder.dim == 3
    assert os.path.samefile(encoder.path, cached)
    np.testing.assert_allclose(encoder.encode(["a"]), [[6, 12, -3 * 2]])
    # The same handle without the scheme resolves to the same model.
    assert load_encoder("tfhub.dev/someone/tiny-encoder/1").fingerprint == encoder.fingerprint


def test_module_can_be_embedded_in_another_saved_model(use_m3, tmp_path):
    # What export does: track the encoder inside the served module, re-save it.
    class Served(tf.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, texts):
            return {"embeddings": self.encoder(texts)}

    served = Served(use_m3.module)
    tf.saved_model.save(served, str(tmp_path), signatures={"serving_default": served.serve})
    reloaded = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    out = reloaded(texts=tf.constant(["a red bird", ""]))["embeddings"]
    np.testing.assert_allclose(out.numpy(), use_m3.encode(["a red bird", ""]), atol=1e-6)
