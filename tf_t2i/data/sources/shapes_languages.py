"""Captions of the shapes data in French, German, Spanish and Chinese (`languages` option).

The default text encoder, USE-m3, maps 16 languages into one space, but not
closely enough for a G trained on English captions alone to draw as well from
a translation (bench/results/multilingual_limits.md: the English caption
nearest a translation names the same colour and kind for only 65-82% of them).
With `languages`, each image also gets PER_IMAGE captions in each listed
language, so G learns where each language's captions lie.

Each language has TEMPLATES sentence patterns and VARIANTS ways to say each
position; an image's captions in a language take PER_IMAGE distinct patterns,
and each shape in them a position phrase, drawn at random. The more ways a
language is phrased in training, the better G draws from a phrasing it never
saw (bench/results/multilingual_phrasings.md).

These templates are our own, and no caption they make is one that
bench/multilingual.py scores with: its position phrases are never used here
("dans le coin supérieur gauche" there, "en haut à gauche" or "dans l'angle en
haut à gauche" here), so that bench measures captions phrased as the model
never saw them. Some patterns here do order a shape's words as that bench does
("on aperçoit un petit cercle rouge ..."), as any corpus of the language would.
The colour and shape words are the languages' own and the same in both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from tf_t2i.errors import T2IError

# position names in shapes.POSITIONS order: top left, top, top right, left, center, right,
# bottom left, bottom, bottom right
_ORDER = (
    "top left", "top", "top right", "left", "center", "right",
    "bottom left", "bottom", "bottom right",
)  # fmt: skip
TEMPLATES = 7  # sentence patterns per language
VARIANTS = 2  # phrases per position and language
PER_IMAGE = 5  # captions per language and image, each of its own pattern
# the cache revision of shapes data with other languages (2: seven patterns and two position
# phrases each, five captions per image; 1: three fixed patterns), so that a data set
# converted with older captions is converted again, not reused
REVISION = 2


def _where(phrases: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, str]]:
    return dict(zip(_ORDER, phrases, strict=True))


# --- French: nouns with gender, colours (masculine, feminine) ---
_FR_KINDS = {"circle": ("cercle", "m"), "square": ("carré", "m"), "triangle": ("triangle", "m"),
             "diamond": ("losange", "m"), "star": ("étoile", "f"), "cross": ("croix", "f")}  # fmt: skip
_FR_COLORS = {"red": ("rouge", "rouge"), "green": ("vert", "verte"), "blue": ("bleu", "bleue"),
              "yellow": ("jaune", "jaune"), "purple": ("violet", "violette"),
              "orange": ("orange", "orange"), "cyan": ("cyan", "cyan"), "pink": ("rose", "rose")}  # fmt: skip
_FR_SIZE_NOUN = {"small": "de petite taille", "medium": "de taille moyenne",
                 "large": "de grande taille"}  # fmt: skip
_FR_SIZE_ADJ = {"small": ("petit", "petite"), "medium": ("moyen", "moyenne"),
                "large": ("grand", "grande")}  # fmt: skip
_FR_WHERE = _where((
    ("en haut à gauche", "dans l'angle en haut à gauche"), ("tout en haut", "dans la partie haute"),
    ("en haut à droite", "dans l'angle en haut à droite"), ("sur la gauche", "du côté gauche"),
    ("au milieu", "en plein milieu"), ("sur la droite", "du côté droit"),
    ("en bas à gauche", "dans l'angle en bas à gauche"), ("tout en bas", "dans la partie basse"),
    ("en bas à droite", "dans l'angle en bas à droite"),
))  # fmt: skip
_FR_BACKGROUNDS = {"black": "noir", "gray": "gris", "white": "blanc"}


_FR_PATTERNS = (
    "{where} se trouve {a} {noun} {colour} {size_noun}",
    "{a} {noun} de couleur {colour_m}, {size_noun}, {where}",
    "{the}{noun} est {colour} et {size_adj}, {where}",
    "{where}, on voit {a} {noun} {colour} {size_noun}",
    "{a} {noun} {colour}, {size_noun}, placé{e} {where}",
    "il y a {a} {noun} {colour} {size_noun} {where}",
    "on aperçoit {a} {before}{noun} {colour}{after} {where}",
)


def _french(color, kind, size):
    noun, gender = _FR_KINDS[kind]
    g = 0 if gender == "m" else 1
    # "petit" and "grand" go before the noun, "de taille moyenne" after the colour
    before = "" if size == "medium" else f"{_FR_SIZE_ADJ[size][g]} "
    return {
        "a": ("un", "une")[g], "noun": noun, "colour": _FR_COLORS[color][g],
        "colour_m": _FR_COLORS[color][0], "size_noun": _FR_SIZE_NOUN[size],
        "size_adj": _FR_SIZE_ADJ[size][g], "e": ("", "e")[g],
        "the": "l'" if noun[0] in "aeéiou" else ("le ", "la ")[g],
        "before": before, "after": f" {_FR_SIZE_NOUN[size]}" if size == "medium" else "",
    }  # fmt: skip


# --- German: gender, mixed declension after ein/eine; colour nouns for "in Rot" ---
_DE_KINDS = {"circle": ("Kreis", "m"), "square": ("Quadrat", "n"), "triangle": ("Dreieck", "n"),
             "diamond": ("Raute", "f"), "star": ("Stern", "m"), "cross": ("Kreuz", "n")}  # fmt: skip
_DE_COLORS = {"red": "rot", "green": "grün", "blue": "blau", "yellow": "gelb",
              "purple": "violett", "orange": "orangefarben", "cyan": "türkisfarben",
              "pink": "rosafarben"}  # fmt: skip
_DE_COLOR_NOUNS = {"red": "Rot", "green": "Grün", "blue": "Blau", "yellow": "Gelb",
                   "purple": "Violett", "orange": "Orange", "cyan": "Türkis", "pink": "Rosa"}  # fmt: skip
_DE_SIZES = {"small": "klein", "medium": "mittelgroß", "large": "groß"}
# gender -> (nominative article, its adjective ending, definite article,
#            accusative article, its adjective ending)
_DE_ARTICLES = {"m": ("ein", "er", "der", "einen", "en"), "n": ("ein", "es", "das", "ein", "es"),
                "f": ("eine", "e", "die", "eine", "e")}  # fmt: skip
_DE_WHERE = _where((
    ("links oben", "in der linken oberen Ecke"), ("ganz oben", "am oberen Rand"),
    ("rechts oben", "in der rechten oberen Ecke"), ("auf der linken Seite", "am linken Rand"),
    ("im Zentrum", "genau in der Bildmitte"), ("auf der rechten Seite", "am rechten Rand"),
    ("links unten", "in der linken unteren Ecke"), ("ganz unten", "am unteren Rand"),
    ("rechts unten", "in der rechten unteren Ecke"),
))  # fmt: skip
_DE_BACKGROUNDS = {"black": "schwarzem", "gray": "grauem", "white": "weißem"}


_DE_PATTERNS = (
    "{where} befindet sich {a} {size}{ending} {colour}{ending} {noun}",
    "{the} {noun} ist {colour_word} und {size}, {where}",
    "{a} {size}{ending} {noun} in {colour_noun}, {where}",
    "zu sehen ist {a} {size}{ending} {colour}{ending} {noun} {where}",
    "{where} gibt es {a_acc} {size}{ending_acc} {colour}{ending_acc} {noun}",
    "{a} {noun} in {colour_noun}, {size}, {where}",
    "{where}: {a} {colour}{ending} {noun}, {size}",
)


def _german(color, kind, size):
    noun, gender = _DE_KINDS[kind]
    article, ending, definite, accusative, acc_ending = _DE_ARTICLES[gender]
    return {
        "a": article, "ending": ending, "the": definite, "a_acc": accusative,
        "ending_acc": acc_ending, "noun": noun, "size": _DE_SIZES[size],
        "colour": _DE_COLORS[color], "colour_noun": _DE_COLOR_NOUNS[color],
        # after "ist": rot, orange, türkis, rosa
        "colour_word": _DE_COLOR_NOUNS[color].lower(),
    }  # fmt: skip


# --- Spanish: gender agreement; "de color" takes the masculine form ---
_ES_KINDS = {"circle": ("círculo", "m"), "square": ("cuadrado", "m"),
             "triangle": ("triángulo", "m"), "diamond": ("rombo", "m"),
             "star": ("estrella", "f"), "cross": ("cruz", "f")}  # fmt: skip
_ES_COLORS = {"red": ("rojo", "roja"), "green": ("verde", "verde"), "blue": ("azul", "azul"),
              "yellow": ("amarillo", "amarilla"), "purple": ("morado", "morada"),
              "orange": ("naranja", "naranja"), "cyan": ("cian", "cian"),
              "pink": ("rosa", "rosa")}  # fmt: skip
_ES_SIZES = {"small": ("pequeño", "pequeña"), "medium": ("mediano", "mediana"),
             "large": ("grande", "grande")}  # fmt: skip
_ES_SIZE_BEFORE = {"small": ("pequeño", "pequeña"), "medium": ("mediano", "mediana"),
                   "large": ("gran", "gran")}  # fmt: skip
_ES_WHERE = _where((
    ("arriba a la izquierda", "en la parte superior izquierda"),
    ("en la parte de arriba", "en el borde superior"),
    ("arriba a la derecha", "en la parte superior derecha"),
    ("en el lado izquierdo", "junto al borde izquierdo"), ("en el medio", "en medio de la imagen"),
    ("en el lado derecho", "junto al borde derecho"),
    ("abajo a la izquierda", "en la parte inferior izquierda"),
    ("en la parte de abajo", "en el borde inferior"),
    ("abajo a la derecha", "en la parte inferior derecha"),
))  # fmt: skip
_ES_BACKGROUNDS = {"black": "negro", "gray": "gris", "white": "blanco"}


_ES_PATTERNS = (
    "{where} hay {a} {noun} {colour} de tamaño {size_m}",
    "{the} {noun} es {colour} y {size}, {where}",
    "{a} {size_before} {noun} de color {colour_m} {where}",
    "se ve {a} {noun} {colour} {size} {where}",
    "{where} aparece {a} {noun} {size} de color {colour_m}",
    "{a} {noun} {colour}, {size}, situad{o} {where}",
    "{a} {noun} de tamaño {size_m} y color {colour_m}, {where}",
)


def _spanish(color, kind, size):
    noun, gender = _ES_KINDS[kind]
    g = 0 if gender == "m" else 1
    return {
        "a": ("un", "una")[g], "the": ("el", "la")[g], "o": ("o", "a")[g], "noun": noun,
        "colour": _ES_COLORS[color][g], "colour_m": _ES_COLORS[color][0],
        "size": _ES_SIZES[size][g], "size_m": _ES_SIZES[size][0],
        "size_before": _ES_SIZE_BEFORE[size][g],
    }  # fmt: skip


# --- Chinese ---
_ZH_KINDS = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "diamond": "菱形",
             "star": "星形", "cross": "十字形"}  # fmt: skip
_ZH_COLORS = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色",
              "orange": "橙色", "cyan": "青色", "pink": "粉色"}  # fmt: skip
_ZH_SIZES = {"small": "小", "medium": "中等", "large": "大"}
_ZH_SIZE_PHRASE = {"small": "尺寸较小", "medium": "尺寸中等", "large": "尺寸较大"}
_ZH_WHERE = _where((
    ("左上方", "靠左上的位置"), ("上方", "靠上的位置"), ("右上方", "靠右上的位置"),
    ("左侧", "靠左的位置"), ("中央", "正中"), ("右侧", "靠右的位置"),
    ("左下方", "靠左下的位置"), ("下方", "靠下的位置"), ("右下方", "靠右下的位置"),
))  # fmt: skip
_ZH_BACKGROUNDS = {"black": "黑色", "gray": "灰色", "white": "白色"}


_ZH_PATTERNS = (
    "一个{size}的{colour}{noun}在{where}",
    "位于{where}的{size}{colour}{noun}",
    "画面{where}有个{colour}的{noun}，{size_phrase}",
    "{where}画着一个{size}的{colour}{noun}",
    "在{where}可以看到一个{colour}{noun}，{size_phrase}",
    "{colour}的{noun}，{size_phrase}，在{where}",
    "图中{where}是一个{size}{colour}{noun}",
)


def _chinese(color, kind, size):
    return {
        "colour": _ZH_COLORS[color], "noun": _ZH_KINDS[kind], "size": _ZH_SIZES[size],
        "size_phrase": _ZH_SIZE_PHRASE[size],
    }  # fmt: skip


class Language(NamedTuple):
    words: Callable  # (colour, kind, size) -> the format fields of a shape's words
    patterns: tuple[str, ...]  # TEMPLATES sentence patterns of one shape
    where: dict[str, tuple[str, ...]]  # position -> its VARIANTS phrases
    conjunction: str  # between the shapes of one caption
    background: Callable  # background name -> the phrase that names it


LANGUAGES = {
    "fr": Language(_french, _FR_PATTERNS, _FR_WHERE, " et ",
                   lambda b: f" sur un fond {_FR_BACKGROUNDS[b]}"),
    "de": Language(_german, _DE_PATTERNS, _DE_WHERE, " und ",
                   lambda b: f" auf {_DE_BACKGROUNDS[b]} Hintergrund"),
    "es": Language(_spanish, _ES_PATTERNS, _ES_WHERE, " y ",
                   lambda b: f" sobre un fondo {_ES_BACKGROUNDS[b]}"),
    "zh": Language(_chinese, _ZH_PATTERNS, _ZH_WHERE, "，还有",
                   lambda b: f"，背景是{_ZH_BACKGROUNDS[b]}"),
}  # fmt: skip


def phrase(code: str, template: int, variant: int, color, kind, size, position) -> str:
    """One shape in language `code`: pattern `template`, the position's phrase `variant`."""
    language = LANGUAGES[code]
    where = language.where[position][variant]
    return language.patterns[template].format(**language.words(color, kind, size), where=where)


CODES = ("en", *LANGUAGES)


def parse_languages(value) -> tuple[str, ...]:
    """The `languages` option ("en,fr" or a list) as codes, English first; checked."""
    items = value.split(",") if isinstance(value, str) else list(value or ["en"])
    codes = [str(item).strip().lower() for item in items if str(item).strip()]
    unknown = [code for code in codes if code not in CODES]
    if unknown or "en" not in codes:
        raise T2IError(
            f"shapes: languages {', '.join(unknown) or value!r}: give codes from "
            f"{', '.join(CODES)}, en included (the data set's own captions)"
        )
    return ("en", *sorted(set(codes) - {"en"}, key=CODES.index))


def captions(code: str, shapes: list[dict], background: str, rng) -> list[str]:
    """PER_IMAGE captions of one image in language `code`, each of its own pattern.

    Each shape takes one of its position's VARIANTS phrases at random; the background is
    named 40% of the time.
    """
    language = LANGUAGES[code]
    texts = []
    for template in rng.choice(TEMPLATES, size=PER_IMAGE, replace=False):
        parts = [
            phrase(code, int(template), int(rng.integers(VARIANTS)), s["color"], s["kind"],
                   s["size"], s["position"])
            for s in shapes
        ]  # fmt: skip
        text = language.conjunction.join(parts)
        if rng.random() < 0.4:
            text += language.background(background)
        texts.append(text)
    return texts
