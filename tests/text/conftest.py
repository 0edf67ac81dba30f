"""Fixtures for the text encoder tests: the built use-m3 encoder, English captions."""

import pathlib

import pytest

CAPTIONS_FILE = pathlib.Path(__file__).parent / "data" / "captions_en.txt"


@pytest.fixture(scope="session")
def use_m3():
    """The use-m3 TextEncoder, built once into the normal cache (later sessions reuse it)."""
    from tf_t2i.text.encoder import load_encoder

    return load_encoder("use-m3")


@pytest.fixture(scope="session")
def captions():
    """254 English captions of birds, flowers, faces and scenes."""
    return CAPTIONS_FILE.read_text(encoding="utf-8").splitlines()
