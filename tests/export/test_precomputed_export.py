"""Export of a model trained on precomputed embeddings (char-CNN-RNN): it serves
`from_embedding` and answers raw text with an error that says why."""

import re

import pytest
import tensorflow as tf
from export_testing import TINY, write_manifest, write_run

from tf_t2i.cli.main import cli
from tf_t2i.models.config import ModelConfig

SPEC = "char-cnn-rnn (precomputed, 16-d)"


@pytest.fixture
def run(tmp_path):
    data = write_manifest(tmp_path / "data", "5e18896e8fd2e48e", spec=SPEC, dim=16)
    config = ModelConfig(conditions=["text"], embedding_dim=16, **TINY)
    write_run(tmp_path / "run", config, data_dir=data)
    return tmp_path / "run"


def test_export_serves_embeddings_and_refuses_text(run, tmp_path, runner):
    result = runner.invoke(cli, ["export", str(run), "--out", str(tmp_path / "m"), "--name", "cub"])
    assert result.exit_code == 0, result.output
    assert "signatures: serving_default, from_embedding\n" in result.output
    version = tmp_path / "m" / "cub" / "1"
    # the warm-up requests TF Serving replays on load must not include refused text
    warmup = (version / "assets.extra" / "tf_serving_warmup_requests").read_bytes()
    assert b"from_embedding" in warmup and b"a red circle" not in warmup
    loaded = tf.saved_model.load(str(version))
    out = loaded.from_embedding(embeddings=tf.zeros([2, 16]), seed=tf.constant([1, 2], tf.int64))
    assert out["images"].shape == (2, 32, 32, 3)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=re.escape(f"precomputed caption embeddings ({SPEC})")
    ):
        loaded.serving_default(text=tf.constant(["a red bird"]))


def test_generate_from_text_is_a_clear_error(run, tmp_path, runner):
    result = runner.invoke(cli, ["generate", str(run), "a red bird", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "no text encoder exists for them" in result.output
    assert "send embeddings to the from_embedding signature" in result.output
    assert "Traceback" not in result.output and "File " not in result.output
