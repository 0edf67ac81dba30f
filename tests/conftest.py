"""Shared test set-up: quiet TensorFlow, the repo root, a CLI runner."""

import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = REPO_ROOT / "tests" / "data"


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()
