"""A run may resume with another model.kernels or model.truncation (same weights); other
model keys may not."""

import dataclasses

import pytest

from tf_t2i.config import load_config
from tf_t2i.errors import T2IError
from tf_t2i.training.run_dir import RunPaths, write_config
from tf_t2i.training.setup import check_resume


def _run_with_a_checkpoint(tmp_path, config):
    paths = RunPaths(tmp_path / "run")
    paths.checkpoints.mkdir(parents=True)
    write_config(paths.root, config)
    (paths.checkpoints / "checkpoint").write_text('model_checkpoint_path: "ckpt-3"\n')
    (paths.checkpoints / "ckpt-3.index").write_bytes(b"")
    return paths


def _with_model(config, **changes):
    return dataclasses.replace(config, model=dataclasses.replace(config.model, **changes))


def test_resume_may_change_the_kernels_but_not_the_networks(tmp_path):
    config = load_config("shapes", ["model.kernels=cpu"])
    paths = _run_with_a_checkpoint(tmp_path, config)
    check_resume(paths, _with_model(config, kernels="stock"), resume=True)  # no error
    with pytest.raises(T2IError, match=r"different model \(model\.ngf\)"):
        check_resume(paths, _with_model(config, kernels="stock", ngf=16), resume=True)


def test_resume_may_change_the_truncation_which_training_never_uses(tmp_path):
    config = load_config("shapes")
    paths = _run_with_a_checkpoint(tmp_path, config)
    check_resume(paths, _with_model(config, truncation=0.7), resume=True)  # no error
    with pytest.raises(T2IError, match=r"different model \(model\.z_dim\)"):
        check_resume(paths, _with_model(config, truncation=0.7, z_dim=64), resume=True)
