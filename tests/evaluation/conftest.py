"""A tiny converted shapes data set and an evaluator trained on it, shared by the
evaluation tests (built once per session: converting and training take seconds)."""

import hashlib

import numpy as np
import pytest

TINY_SIZE = 32
TINY_IMAGES = 600


class HashEncoder:
    """A small deterministic text encoder (bag of hashed words, 16-d), so the
    tests convert real TFRecords without loading the 84 MB sentence encoder."""

    spec = "test-hash16"
    dim = 16
    fingerprint = "hash16"
    path = None

    def encode(self, texts, batch_size=256):
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return out


def convert_tiny_shapes(out_dir, num_images=TINY_IMAGES, seed=0):
    from tf_t2i.data.convert import convert
    from tf_t2i.data.sources import get_source

    source = get_source("shapes", None, num_images=num_images, image_size=TINY_SIZE, seed=seed)
    convert(source, out_dir, encoder=HashEncoder(), image_size=TINY_SIZE, progress=False)
    return out_dir


@pytest.fixture(scope="session")
def hash_encoder():
    """The tests' small text encoder, for tests that convert other sources."""
    return HashEncoder()


@pytest.fixture(scope="session")
def make_shapes():
    """The converter, for tests that need another data set."""
    return convert_tiny_shapes


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory):
    return convert_tiny_shapes(tmp_path_factory.mktemp("data") / "shapes")


@pytest.fixture(scope="session")
def trained_evaluator(shapes_dir):
    """(path of the saved evaluator, its info dict), trained on `shapes_dir`."""
    import json

    from tf_t2i.evaluation.evaluator import info_path
    from tf_t2i.evaluation.evaluator_training import train_evaluator

    # 60 epochs of 540 images: at 30 the loss was still 0.81 on an AMD EPYC and the class
    # accuracy at chance x 4.8; at 60 it is 0.31 and 0.40 (chance 0.02)
    path = train_evaluator(shapes_dir, epochs=60, seed=0, log=lambda *_: None)
    return path, json.loads(info_path(path).read_text())
