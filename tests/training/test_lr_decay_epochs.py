"""train.lr_decay_epochs: Reed et al.'s "halve the rates every 100 epochs", in steps
of the data set actually trained on."""

import pytest

from tf_t2i.config import load_config
from tf_t2i.data.schema import Manifest
from tf_t2i.errors import T2IError
from tf_t2i.training.setup import reconcile


def _manifest(train_examples, spec="char-cnn-rnn (precomputed, 1024-d)"):
    return Manifest(
        schema_version=1, source={"name": "stackgan"}, image_size=76, crop_size=64, channels=3,
        encoder={"spec": spec, "dim": 1024, "fingerprint": "f" * 16},
        splits={"train": {"num_examples": train_examples, "shards": []},
                "test": {"num_examples": 2933, "shards": []}},
    )  # fmt: skip


def test_cub_recipe_halves_the_rates_every_100_epochs_of_its_split(tmp_path):
    config = reconcile(load_config("cub"), tmp_path, _manifest(8855))
    assert config.model.lr_decay_steps == 100 * (8855 // 64) == 13800
    assert config.model.embedding_dim == 1024 and config.model.proj_dim == 128
    flowers = reconcile(load_config("flowers"), tmp_path, _manifest(7034))
    assert flowers.model.lr_decay_steps == 100 * (7034 // 64)


def test_precomputed_recipe_refuses_use_m3_data_until_told(tmp_path):
    with pytest.raises(T2IError, match="encoder 'use-m3' but the config asks for data.encoder"):
        reconcile(load_config("cub"), tmp_path, _manifest(8855, spec="use-m3"))
    config = load_config("cub", ["data.encoder=use-m3"])
    assert reconcile(config, tmp_path, _manifest(8855, spec="use-m3")).data.encoder == "use-m3"
