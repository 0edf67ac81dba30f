"""The caption builder of bench/multilingual.py: every language, every combination."""

import importlib.util
import pathlib
import re
import sys

import pytest

from tf_t2i.data.sources import shapes

_PATH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "multilingual.py"
_spec = importlib.util.spec_from_file_location("bench_multilingual", _PATH)
multilingual = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(multilingual)

ENGLISH_WORDS = {
    *shapes.COLORS, *shapes.SHAPES, *shapes.SIZES, "top", "bottom", "left", "right", "center",
    "corner", "the", "in", "at", "on",
}  # fmt: skip
# English words that are also the right word in the language
SAME_WORD = {
    "French": {"orange", "triangle", "cyan"},
    "German": {"in"},
    "Italian": {"in"},
    "Portuguese": {"em"},
}


def test_the_grid_is_the_shapes_data_sets():
    assert multilingual.COLORS == tuple(shapes.COLORS)
    assert multilingual.KINDS == shapes.SHAPES
    assert multilingual.SIZES == tuple(shapes.SIZES)
    assert multilingual.POSITIONS == tuple(shapes.POSITIONS)
    assert len(multilingual.combinations()) == 8 * 6 * 3 * 9


def test_english_captions_are_the_data_sets_first_template():
    for color, kind, size, position in multilingual.combinations()[:60]:
        phrase = shapes.POSITIONS[position][1]
        expected = shapes._SHAPE_PHRASES[0].format(s=size, c=color, k=kind, p=phrase)
        assert (
            multilingual.captions("English")[
                multilingual.combinations().index((color, kind, size, position))
            ]
            == expected
        )


@pytest.mark.parametrize(
    "language", ["French", "German", "Spanish", "Chinese", "Italian", "Portuguese"]
)
def test_every_combination_has_its_own_caption_without_english(language):
    texts = multilingual.captions(language)
    assert len(texts) == len(set(texts)) == len(multilingual.combinations())
    for text in texts:
        assert text.strip() == text and "  " not in text and "{" not in text
        words = set(re.findall(r"[a-z]+", text.lower()))
        leaked = words & ENGLISH_WORDS - SAME_WORD.get(language, set())
        assert not leaked, (text, leaked)


def test_genders_agree():
    caption = dict(zip(multilingual.combinations(), range(10**4), strict=False))

    def text(language, *combo):
        return multilingual.captions(language)[caption[combo]]

    assert text("French", "green", "star", "small", "top") == "une petite étoile verte en haut"
    assert text("French", "green", "circle", "large", "center") == "un grand cercle vert au centre"
    assert text("German", "red", "square", "small", "left") == "ein kleines rotes Quadrat links"
    assert text("German", "red", "diamond", "large", "left") == "eine große rote Raute links"
    assert (
        text("German", "blue", "star", "medium", "right") == "ein mittelgroßer blauer Stern rechts"
    )
    assert text("Spanish", "yellow", "cross", "small", "center") == (
        "una cruz amarilla pequeña en el centro"
    )
    assert text("Chinese", "pink", "triangle", "large", "top left") == "左上角有一个大的粉色三角形"
    assert text("Italian", "red", "star", "small", "center") == "una piccola stella rossa al centro"
    assert text("Portuguese", "yellow", "square", "medium", "bottom") == (
        "um quadrado amarelo médio em baixo"
    )


def test_italian_and_portuguese_are_never_training_languages():
    from tf_t2i.data.sources import shapes_languages

    assert set(multilingual.CODES.values()) == set(shapes_languages.CODES)
    assert {"Italian", "Portuguese"} <= set(multilingual.LANGUAGES) - set(multilingual.CODES)


def test_unseen_english_is_a_phrasing_the_shapes_data_never_uses():
    texts = multilingual.captions(multilingual.UNSEEN_ENGLISH)
    assert len(set(texts)) == len(multilingual.combinations())
    training = {
        template.format(s=size, c=color, k=kind, p=shapes.POSITIONS[position][1])
        for template in shapes._SHAPE_PHRASES
        for color, kind, size, position in multilingual.combinations()
    }
    assert not training & set(texts)
    data_positions = {phrase for _, phrase in shapes.POSITIONS.values()}
    assert not data_positions & set(multilingual._EN_POSITIONS)
    # the same colour, kind and size words as the data's
    combo = multilingual.combinations().index(("pink", "star", "large", "bottom right"))
    assert texts[combo] == "one large-sized pink star at the lower right"


def _bench(name):
    path = pathlib.Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parents[1]))  # its `from bench import multilingual`
    spec.loader.exec_module(module)
    return module


def test_english_phrasings_say_which_are_the_data_sets():
    phrasings = _bench("english_phrasings").PHRASINGS
    training = {
        template.format(s=size, c=color, k=kind, p=shapes.POSITIONS[position][1])
        for template in shapes._SHAPE_PHRASES
        for color, kind, size, position in multilingual.combinations()
    }
    for name, (phrase, seen) in phrasings.items():
        texts = {phrase(*combo) for combo in multilingual.combinations()}
        assert (texts <= training) if seen else not (texts & training), name
        for color, kind, size, _ in multilingual.combinations()[:30]:
            text = phrase(color, kind, size, "top left")
            assert color in text and kind in text, (name, text)
