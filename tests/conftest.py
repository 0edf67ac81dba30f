"""Shared test set-up: quiet TensorFlow, the repo root, a CLI runner, a tiny export.

The session fixtures `tiny_run`, `exported` and `server` are shared by tests/export/,
tests/serving/ and tests/cli/: a real run directory (config.json + a
CheckpointManager checkpoint of a 32x32, ngf=ndf=8 text GAN built by
build_gan) written with the training package's own run_dir helpers, exported
once per session through the real `t2i export` command, and served by `t2i serve`'s server.
"""

import os
import pathlib
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = REPO_ROOT / "tests" / "data"
# export_testing: tiny runs, toy exports and a server thread (tests/export/, serving/, cli/)
sys.path.insert(0, str(REPO_ROOT / "tests" / "export"))


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """runs/tiny: a 32x32 text-conditioned GAN run directory (use-m3 embeddings, G_ema)."""
    from export_testing import TINY, write_manifest, write_run

    from tf_t2i.models.config import ModelConfig
    from tf_t2i.text.encoder import load_encoder

    data_dir = write_manifest(tmp_path_factory.mktemp("data"), load_encoder("use-m3").fingerprint)
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    # G_ema on: export and `t2i generate` must both draw with it (perturbed apart from G);
    # a style encoder, as the default recipe trains: export serves style_transfer
    config = ModelConfig(conditions=["text"], ema_decay=0.99, style_encoder=True, **TINY)
    write_run(run_dir, config, data_dir=data_dir)
    (run_dir / "metrics.jsonl").write_text(
        '{"step": 4, "d_loss": 1.5, "g_loss": 0.5}\n'
        '{"step": 5, "d_loss": 1.25, "g_loss": 0.75}\n'
        '{"event": "evaluate", "step": 5, "fid": 321.0}\n'
    )
    return run_dir


@pytest.fixture(scope="session")
def exported(tiny_run, tmp_path_factory):
    """The savedmodels/ root holding tiny/1, written by `t2i export`."""
    from click.testing import CliRunner

    from tf_t2i.cli.main import cli

    root = tmp_path_factory.mktemp("export") / "savedmodels"
    result = CliRunner().invoke(cli, ["export", str(tiny_run), "--out", str(root)])
    assert result.exit_code == 0, result.output
    assert (root / "tiny" / "1" / "saved_model.pb").is_file()
    return root


@pytest.fixture(scope="session")
def server(exported):
    """A running local server on the session's export (batch limit 16, 1 MB bodies)."""
    from export_testing import running_server

    with running_server(exported, max_batch=16, max_bytes=1 << 20) as srv:
        yield srv
