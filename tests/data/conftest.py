"""Fixtures for the data tests: a tiny hashing text encoder and tiny converted data sets.

`HashEncoder` is test-only: it maps each text to a deterministic unit vector
from its SHA-256, so writer/input tests do not wait for the real encoder where
the embedding values are beside the point. Conversion end-to-end tests use
the real use-m3 encoder.
"""

import hashlib

import numpy as np
import pytest


class HashEncoder:
    """Deterministic text -> float32 [D] vectors (not a language model)."""

    def __init__(self, dim=8):
        self.spec = f"test-hash-{dim}"
        self.dim = dim
        self.fingerprint = "0" * 16
        self.path = None

    def encode(self, texts, batch_size=256):
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self.dim)
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, np.float32).reshape(len(texts), self.dim)


@pytest.fixture(scope="session")
def hash_encoder():
    return HashEncoder()


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory, hash_encoder):
    """64 shapes (56 train / 8 test), stored at 36 px for 32 px crops, 3 shards per split."""
    from tf_t2i.data.convert import convert
    from tf_t2i.data.sources.shapes import ShapesSource

    out = tmp_path_factory.mktemp("shapes")
    source = ShapesSource(num_images=64, test_fraction=0.125, image_size=36, seed=1)
    convert(source, out, encoder=hash_encoder, image_size=32, stored_size=36, shard_size=20,
            progress=False)  # fmt: skip
    return out
