"""Shapes captions in French, German, Spanish and Chinese (the `languages` option)."""

import itertools
import pathlib
import sys

import pytest

from tf_t2i.cli.main import cli
from tf_t2i.data.convert import convert
from tf_t2i.data.input import make_dataset
from tf_t2i.data.schema import read_manifest
from tf_t2i.data.sources import get_source, shapes_languages
from tf_t2i.data.sources.shapes import COLORS, POSITIONS, SHAPES, SIZES

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_positions_follow_the_shapes_order():
    assert shapes_languages._ORDER == tuple(POSITIONS)


def test_english_captions_and_options_are_unchanged_by_other_languages():
    plain = get_source("shapes", None, num_images=30, image_size=16, max_shapes=2)
    many = get_source("shapes", None, num_images=30, image_size=16, max_shapes=2,
                      languages="en,zh,fr")  # fmt: skip
    assert "languages" not in plain.info().options  # data converted before keeps its key
    assert many.info().options["languages"] == ["en", "fr", "zh"]  # English first, then in order
    per_image = shapes_languages.PER_IMAGE
    assert many.info().captions_per_image == 5 + 2 * per_image
    for a, b in zip(plain.examples("train"), many.examples("train"), strict=True):
        assert len(b.captions) == 5 + 2 * per_image
        assert b.captions[:5] == a.captions  # English first, drawn as before
        assert (a.image == b.image).all() and a.label == b.label


def test_each_language_names_every_shape_of_the_image_in_its_own_words():
    source = get_source("shapes", None, num_images=40, image_size=16, max_shapes=2,
                        languages=["en", "fr", "de", "es", "zh"])  # fmt: skip
    words = {  # one colour and one kind word per language, as the templates spell them
        "fr": ("rouge", "étoile"),
        "de": ("Rot", "Stern"),
        "es": ("roj", "estrella"),
        "zh": ("红色", "星形"),
    }
    seen = 0
    for record in source.examples("train"):
        other = record.captions[5:]
        n = shapes_languages.PER_IMAGE
        captions = {
            code: other[n * i : n * i + n] for i, code in enumerate(["fr", "de", "es", "zh"])
        }
        if "red star" in record.captions[0]:
            seen += 1
            for code, (colour, kind) in words.items():
                for caption in captions[code]:
                    assert kind in caption, caption
                    assert colour.lower() in caption.lower(), caption
        for caption in record.captions[5:]:
            english = {"the", "there", "coloured", "size", "corner", "background", "and"}
            assert not english & set(caption.replace(",", "").split()), caption
            assert "{" not in caption and "  " not in caption
    assert seen  # the fixed seed's 40 images include a red star


def test_the_bench_translations_are_phrasings_the_training_captions_never_use():
    # bench/multilingual scores unseen phrasing: none of its captions is a training caption,
    # and none of its position phrases is one the training captions use
    sys.path.insert(0, str(REPO_ROOT))
    from bench import multilingual

    languages = {"French": "fr", "German": "de", "Spanish": "es", "Chinese": "zh"}
    bench_positions = {"fr": multilingual._FR_POSITIONS, "de": multilingual._DE_POSITIONS,
                       "es": multilingual._ES_POSITIONS, "zh": multilingual._ZH_POSITIONS}  # fmt: skip
    for language, code in languages.items():
        training = {
            shapes_languages.phrase(code, t, v, c, k, s, p)
            for t in range(shapes_languages.TEMPLATES)
            for v in range(shapes_languages.VARIANTS)
            for c, k, s, p in itertools.product(COLORS, SHAPES, SIZES, POSITIONS)
        }
        # every combination, pattern and position phrase makes a caption of its own
        patterns = shapes_languages.TEMPLATES * shapes_languages.VARIANTS
        assert len(training) == patterns * 8 * 6 * 3 * 9
        assert not training & set(multilingual.captions(language)), language
        wheres = shapes_languages.LANGUAGES[code].where.values()
        assert not {w for pair in wheres for w in pair} & set(bench_positions[code]), language


def test_an_images_captions_take_distinct_patterns_and_varied_position_phrases():
    import numpy as np

    one = [{"color": "red", "kind": "circle", "size": "small", "position": "top left"}]
    seen = {}
    for code in shapes_languages.LANGUAGES:
        texts = []
        for index in range(40):
            rng = np.random.default_rng(index)
            drawn = shapes_languages.captions(code, one, "black", rng)
            assert len(drawn) == len(set(drawn)) == shapes_languages.PER_IMAGE
            texts += drawn
        variants = {
            (t, v): shapes_languages.phrase(code, t, v, "red", "circle", "small", "top left")
            for t in range(shapes_languages.TEMPLATES)
            for v in range(shapes_languages.VARIANTS)
        }
        # over 40 images every pattern with every position phrase occurs
        used = {key for key, text in variants.items() if any(x.startswith(text) for x in texts)}
        seen[code] = len(used)
    assert seen == {code: 14 for code in shapes_languages.LANGUAGES}


@pytest.mark.parametrize("value", ["fr,de", "en,it", ["en", "xx"]])
def test_unknown_or_english_less_languages_are_refused(runner, tmp_path, value):
    option = f"languages={value if isinstance(value, str) else ','.join(value)}"
    result = runner.invoke(cli, ["convert", "shapes", "--out", str(tmp_path / "d"), "-o", option])
    assert result.exit_code == 2, result.output
    assert "languages" in result.output and "en, fr, de, es, zh" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "d").exists()


def test_conversion_stores_every_language_and_training_draws_from_them(tmp_path, hash_encoder):
    import numpy as np

    source = get_source("shapes", None, num_images=24, image_size=16, languages="en,de")
    convert(source, tmp_path / "d", encoder=hash_encoder, image_size=16, progress=False)
    manifest = read_manifest(tmp_path / "d")
    assert manifest.captions_per_image == 5 + shapes_languages.PER_IMAGE
    assert manifest.source["options"]["languages"] == ["en", "de"]
    german = hash_encoder.encode([c for r in source.examples("train") for c in r.captions[5:]])
    dataset = make_dataset(tmp_path / "d", "train", 8, image_size=16, seed=0, repeat=True)
    chosen = np.concatenate([b["embeddings"].numpy() for b in dataset.take(10)])  # [80, D]
    is_german = (np.abs(chosen[:, None] - german[None]).max(-1) < 1e-6).any(-1)
    # a caption is drawn uniformly from 10, of which 5 are German: about half of 80
    assert 25 <= is_german.sum() <= 55


def test_data_converted_with_older_captions_of_other_languages_is_not_reused(tmp_path, monkeypatch):
    from tf_t2i.data.builtin import ensure_builtin

    monkeypatch.setenv("TF_T2I_CACHE", str(tmp_path))
    monkeypatch.setattr("tf_t2i.data.builtin.convert", lambda source, out_dir, **kw: out_dir)

    def data_dir(**options):
        return ensure_builtin("shapes", image_size=16, encoder="use-m3", num_images=8, **options)

    english, many = data_dir(), data_dir(languages="en,fr")
    monkeypatch.setattr(shapes_languages, "REVISION", 1)  # the captions before revisions
    assert data_dir() == english  # English captions never changed: their caches stay
    assert data_dir(languages="en,fr") not in (many, english)
