"""The built-in digits source (scikit-learn's 1,797 real handwritten digits)."""

import numpy as np
import pytest
from sources_testing import records, split_counts

from tf_t2i.data.sources import get_source
from tf_t2i.errors import T2IError


def test_counts_examples_per_split():
    assert split_counts(get_source("digits")) == {"train": 1438, "test": 359}


def test_records():
    source = get_source("digits", image_size=24)
    train, test = records(source, "train"), records(source, "test")
    assert not {r.image_id for r in train} & {r.image_id for r in test}
    first = train[0]
    assert first.image.shape == (24, 24) and first.image.dtype == np.uint8
    assert first.image.max() > 200 and first.image.min() < 30  # white ink on black
    seven = next(r for r in train if r.label == 7)
    assert seven.captions[:2] == ["a handwritten seven", "the digit 7"]
    assert seven.label_text == "seven"
    assert source.info().class_names[7] == "seven"
    assert records(get_source("digits", image_size=24), "test")[0].image_id == test[0].image_id


def test_bad_split_and_path():
    with pytest.raises(T2IError, match="splits train and test"):
        list(get_source("digits").examples("val"))
    with pytest.raises(T2IError, match="takes no PATH"):
        get_source("digits", "/x")


def test_digits_are_never_flipped_and_old_caches_are_not_reused(tmp_path, monkeypatch):
    from tf_t2i.data.builtin import ensure_builtin
    from tf_t2i.data.schema import read_manifest
    from tf_t2i.data.sources.digits import DigitsSource

    monkeypatch.setenv("TF_T2I_CACHE", str(tmp_path))
    # a mirrored 3 is no digit: the pipeline must not flip these images
    data_dir = ensure_builtin("digits", image_size=16, encoder="use-m3")
    assert read_manifest(data_dir).random_flip is False
    # revision 2 has a cache key of its own: a copy converted with flips (revision 1,
    # the key before revisions existed) is not reused
    monkeypatch.setattr(DigitsSource, "revision", 1)
    monkeypatch.setattr("tf_t2i.data.builtin.convert", lambda source, out_dir, **kw: out_dir)
    revision_one = ensure_builtin("digits", image_size=16, encoder="use-m3")
    assert revision_one != data_dir and revision_one.parent == data_dir.parent
