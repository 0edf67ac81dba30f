"""Captions of the shapes data in French, German, Spanish and Chinese (`languages` option).

The default text encoder, USE-m3, maps 16 languages into one space, but not
closely enough for a G trained on English captions alone to draw as well from
a translation (bench/results/multilingual_limits.md: the English caption
nearest a translation names the same colour and kind for only 65-82% of them).
With `languages`, each image also gets three paraphrases in each listed
language, so G learns where each language's captions lie.

These templates are our own, and they are deliberately not the ones
bench/multilingual.py scores with: word order, position phrases and the way
size is said all differ ("au milieu se trouve un cercle rouge de grande taille"
here, "un grand cercle rouge au centre" there), so that bench measures captions
phrased as the model never saw them. The colour and shape words are the
languages' own and the same in both.
"""

from __future__ import annotations

from tf_t2i.errors import T2IError

# position names in shapes.POSITIONS order: top left, top, top right, left, center, right,
# bottom left, bottom, bottom right
_ORDER = (
    "top left", "top", "top right", "left", "center", "right",
    "bottom left", "bottom", "bottom right",
)  # fmt: skip

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
_FR_WHERE = dict(zip(_ORDER, (
    "en haut à gauche", "tout en haut", "en haut à droite", "sur la gauche", "au milieu",
    "sur la droite", "en bas à gauche", "tout en bas", "en bas à droite",
), strict=True))  # fmt: skip
_FR_BACKGROUNDS = {"black": "noir", "gray": "gris", "white": "blanc"}


def _french(template, color, kind, size, position):
    noun, gender = _FR_KINDS[kind]
    g = 0 if gender == "m" else 1
    colour, where = _FR_COLORS[color][g], _FR_WHERE[position]
    if template == 0:
        return f"{where} se trouve {('un', 'une')[g]} {noun} {colour} {_FR_SIZE_NOUN[size]}"
    if template == 1:
        return f"{('un', 'une')[g]} {noun} de couleur {_FR_COLORS[color][0]}, {_FR_SIZE_NOUN[size]}, {where}"
    article = "l'" if noun[0] in "aeéiou" else ("le ", "la ")[g]
    return f"{article}{noun} est {colour} et {_FR_SIZE_ADJ[size][g]}, {where}"


# --- German: gender, mixed declension after ein/eine; colour nouns for "in Rot" ---
_DE_KINDS = {"circle": ("Kreis", "m"), "square": ("Quadrat", "n"), "triangle": ("Dreieck", "n"),
             "diamond": ("Raute", "f"), "star": ("Stern", "m"), "cross": ("Kreuz", "n")}  # fmt: skip
_DE_COLORS = {"red": "rot", "green": "grün", "blue": "blau", "yellow": "gelb",
              "purple": "violett", "orange": "orangefarben", "cyan": "türkisfarben",
              "pink": "rosafarben"}  # fmt: skip
_DE_COLOR_NOUNS = {"red": "Rot", "green": "Grün", "blue": "Blau", "yellow": "Gelb",
                   "purple": "Violett", "orange": "Orange", "cyan": "Türkis", "pink": "Rosa"}  # fmt: skip
_DE_SIZES = {"small": "klein", "medium": "mittelgroß", "large": "groß"}
_DE_ARTICLES = {"m": ("ein", "er", "der"), "n": ("ein", "es", "das"), "f": ("eine", "e", "die")}
_DE_WHERE = dict(zip(_ORDER, (
    "links oben", "ganz oben", "rechts oben", "auf der linken Seite", "im Zentrum",
    "auf der rechten Seite", "links unten", "ganz unten", "rechts unten",
), strict=True))  # fmt: skip
_DE_BACKGROUNDS = {"black": "schwarzem", "gray": "grauem", "white": "weißem"}


def _german(template, color, kind, size, position):
    noun, gender = _DE_KINDS[kind]
    article, ending, definite = _DE_ARTICLES[gender]
    where = _DE_WHERE[position]
    if template == 0:
        colour = _DE_COLORS[color]
        return f"{where} befindet sich {article} {_DE_SIZES[size]}{ending} {colour}{ending} {noun}"
    if template == 1:
        colour = _DE_COLOR_NOUNS[color].lower()  # after "ist": rot, orange, türkis, rosa
        return f"{definite} {noun} ist {colour} und {_DE_SIZES[size]}, {where}"
    return f"{article} {_DE_SIZES[size]}{ending} {noun} in {_DE_COLOR_NOUNS[color]}, {where}"


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
_ES_WHERE = dict(zip(_ORDER, (
    "arriba a la izquierda", "en la parte de arriba", "arriba a la derecha",
    "en el lado izquierdo", "en el medio", "en el lado derecho", "abajo a la izquierda",
    "en la parte de abajo", "abajo a la derecha",
), strict=True))  # fmt: skip
_ES_BACKGROUNDS = {"black": "negro", "gray": "gris", "white": "blanco"}


def _spanish(template, color, kind, size, position):
    noun, gender = _ES_KINDS[kind]
    g = 0 if gender == "m" else 1
    where = _ES_WHERE[position]
    if template == 0:
        return f"{where} hay {('un', 'una')[g]} {noun} {_ES_COLORS[color][g]} de tamaño {_ES_SIZES[size][0]}"
    if template == 1:
        return f"{('el', 'la')[g]} {noun} es {_ES_COLORS[color][g]} y {_ES_SIZES[size][g]}, {where}"
    before = _ES_SIZE_BEFORE[size][g]
    return f"{('un', 'una')[g]} {before} {noun} de color {_ES_COLORS[color][0]} {where}"


# --- Chinese ---
_ZH_KINDS = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "diamond": "菱形",
             "star": "星形", "cross": "十字形"}  # fmt: skip
_ZH_COLORS = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色",
              "orange": "橙色", "cyan": "青色", "pink": "粉色"}  # fmt: skip
_ZH_SIZES = {"small": "小", "medium": "中等", "large": "大"}
_ZH_SIZE_PHRASE = {"small": "尺寸较小", "medium": "尺寸中等", "large": "尺寸较大"}
_ZH_WHERE = dict(zip(_ORDER, (
    "左上方", "上方", "右上方", "左侧", "中央", "右侧", "左下方", "下方", "右下方",
), strict=True))  # fmt: skip
_ZH_BACKGROUNDS = {"black": "黑色", "gray": "灰色", "white": "白色"}


def _chinese(template, color, kind, size, position):
    colour, noun, where = _ZH_COLORS[color], _ZH_KINDS[kind], _ZH_WHERE[position]
    if template == 0:
        return f"一个{_ZH_SIZES[size]}的{colour}{noun}在{where}"
    if template == 1:
        return f"位于{where}的{_ZH_SIZES[size]}{colour}{noun}"
    return f"画面{where}有个{colour}的{noun}，{_ZH_SIZE_PHRASE[size]}"


# code -> (one shape's phrase, conjunction between shapes, background phrase)
LANGUAGES = {
    "fr": (_french, " et ", lambda b: f" sur un fond {_FR_BACKGROUNDS[b]}"),
    "de": (_german, " und ", lambda b: f" auf {_DE_BACKGROUNDS[b]} Hintergrund"),
    "es": (_spanish, " y ", lambda b: f" sobre un fondo {_ES_BACKGROUNDS[b]}"),
    "zh": (_chinese, "，还有", lambda b: f"，背景是{_ZH_BACKGROUNDS[b]}"),
}
TEMPLATES = 3  # paraphrases per language and image
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
    """TEMPLATES captions of one image in language `code`; the background named 40% of the time."""
    phrase, conjunction, background_phrase = LANGUAGES[code]
    texts = []
    for template in range(TEMPLATES):
        parts = [phrase(template, s["color"], s["kind"], s["size"], s["position"]) for s in shapes]
        text = conjunction.join(parts)
        if rng.random() < 0.4:
            text += background_phrase(background)
        texts.append(text)
    return texts
