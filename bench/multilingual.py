"""Colour x kind accuracy from captions in English, French, German, Spanish, Chinese,
Italian and Portuguese.

The default text encoder, USE-m3, maps sentences of 16 languages into one
space, so a G trained on English shapes captions may draw from a French one.
For every colour x kind x size x position of the shapes data (8 x 6 x 3 x 9 =
1296 combinations) this writes the caption in each language (our own
translations, templated, with gender agreement), encodes it with the run's
text encoder, draws one image per caption with the same noise in every
language (seed = combination index) and scores the image's class with the
data set's evaluator: colour x kind, colour alone and kind alone.

    .venv/bin/python -m bench.multilingual RUN_OR_EXPORT --data DIR [--out FILE.md]

RUN_OR_EXPORT is a `t2i fit` run directory or a `t2i export` SavedModel
(its serving_default takes `text` and `noise`). DIR is the shapes data set it
was trained on, with its evaluator (`t2i evaluator train --data DIR`).
"""

from __future__ import annotations

import argparse
import itertools
import pathlib
import shlex
import sys
import time

import numpy as np

from tf_t2i.data.sources import shapes

# the shapes data set's own vocabulary, in its order
COLORS = tuple(shapes.COLORS)
KINDS = shapes.SHAPES
SIZES = tuple(shapes.SIZES)
POSITIONS = tuple(shapes.POSITIONS)

# French: nouns with gender; colours (masculine, feminine); "petit"/"grand" go before the noun,
# "de taille moyenne" after the colour
_FR_KINDS = {"circle": ("cercle", "m"), "square": ("carré", "m"), "triangle": ("triangle", "m"),
             "diamond": ("losange", "m"), "star": ("étoile", "f"), "cross": ("croix", "f")}  # fmt: skip
_FR_COLORS = {"red": ("rouge", "rouge"), "green": ("vert", "verte"), "blue": ("bleu", "bleue"),
              "yellow": ("jaune", "jaune"), "purple": ("violet", "violette"),
              "orange": ("orange", "orange"), "cyan": ("cyan", "cyan"), "pink": ("rose", "rose")}  # fmt: skip
_FR_SIZES = {"small": (("petit ", "petite "), ""), "medium": (("", ""), " de taille moyenne"),
             "large": (("grand ", "grande "), "")}  # fmt: skip
_FR_POSITIONS = (
    "dans le coin supérieur gauche", "en haut", "dans le coin supérieur droit", "à gauche",
    "au centre", "à droite", "dans le coin inférieur gauche", "en bas",
    "dans le coin inférieur droit",
)  # fmt: skip

# German: "ein"/"eine" + adjectives with the mixed declension's nominative ending
# (masculine -er, neuter -es, feminine -e); colours that do not decline take "-farben"
_DE_KINDS = {"circle": ("Kreis", "m"), "square": ("Quadrat", "n"), "triangle": ("Dreieck", "n"),
             "diamond": ("Raute", "f"), "star": ("Stern", "m"), "cross": ("Kreuz", "n")}  # fmt: skip
_DE_COLORS = {"red": "rot", "green": "grün", "blue": "blau", "yellow": "gelb",
              "purple": "violett", "orange": "orangefarben", "cyan": "türkisfarben",
              "pink": "rosafarben"}  # fmt: skip
_DE_SIZES = {"small": "klein", "medium": "mittelgroß", "large": "groß"}
_DE_ENDINGS = {"m": ("ein", "er"), "n": ("ein", "es"), "f": ("eine", "e")}
_DE_POSITIONS = (
    "oben links", "oben", "oben rechts", "links", "in der Mitte", "rechts",
    "unten links", "unten", "unten rechts",
)  # fmt: skip

# Spanish: noun, colour, size, each agreeing in gender
_ES_KINDS = {"circle": ("círculo", "m"), "square": ("cuadrado", "m"),
             "triangle": ("triángulo", "m"), "diamond": ("rombo", "m"),
             "star": ("estrella", "f"), "cross": ("cruz", "f")}  # fmt: skip
_ES_COLORS = {"red": ("rojo", "roja"), "green": ("verde", "verde"), "blue": ("azul", "azul"),
              "yellow": ("amarillo", "amarilla"), "purple": ("morado", "morada"),
              "orange": ("naranja", "naranja"), "cyan": ("cian", "cian"),
              "pink": ("rosa", "rosa")}  # fmt: skip
_ES_SIZES = {"small": ("pequeño", "pequeña"), "medium": ("mediano", "mediana"),
             "large": ("grande", "grande")}  # fmt: skip
_ES_POSITIONS = (
    "en la esquina superior izquierda", "arriba", "en la esquina superior derecha",
    "a la izquierda", "en el centro", "a la derecha", "en la esquina inferior izquierda",
    "abajo", "en la esquina inferior derecha",
)  # fmt: skip

# Chinese: "{position}有一个{size}的{colour}{kind}"
_ZH_KINDS = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "diamond": "菱形",
             "star": "星形", "cross": "十字形"}  # fmt: skip
_ZH_COLORS = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色",
              "orange": "橙色", "cyan": "青色", "pink": "粉色"}  # fmt: skip
_ZH_SIZES = {"small": "小", "medium": "中等大小", "large": "大"}
_ZH_POSITIONS = ("左上角", "顶部", "右上角", "左边", "中间", "右边", "左下角", "底部", "右下角")


# Italian and Portuguese: never among the `languages` the shapes data can be trained on
# (tf_t2i/data/sources/shapes_languages.py), so they show what carries over untrained
_IT_KINDS = {"circle": ("cerchio", "m"), "square": ("quadrato", "m"),
             "triangle": ("triangolo", "m"), "diamond": ("rombo", "m"),
             "star": ("stella", "f"), "cross": ("croce", "f")}  # fmt: skip
_IT_COLORS = {"red": ("rosso", "rossa"), "green": ("verde", "verde"), "blue": ("blu", "blu"),
              "yellow": ("giallo", "gialla"), "purple": ("viola", "viola"),
              "orange": ("arancione", "arancione"), "cyan": ("ciano", "ciano"),
              "pink": ("rosa", "rosa")}  # fmt: skip
_IT_SIZES = {"small": ("piccolo", "piccola"), "medium": ("medio", "media"),
             "large": ("grande", "grande")}  # fmt: skip
_IT_POSITIONS = (
    "nell'angolo in alto a sinistra", "in alto", "nell'angolo in alto a destra", "a sinistra",
    "al centro", "a destra", "nell'angolo in basso a sinistra", "in basso",
    "nell'angolo in basso a destra",
)  # fmt: skip

_PT_KINDS = {"circle": ("círculo", "m"), "square": ("quadrado", "m"),
             "triangle": ("triângulo", "m"), "diamond": ("losango", "m"),
             "star": ("estrela", "f"), "cross": ("cruz", "f")}  # fmt: skip
_PT_COLORS = {"red": ("vermelho", "vermelha"), "green": ("verde", "verde"),
              "blue": ("azul", "azul"), "yellow": ("amarelo", "amarela"),
              "purple": ("roxo", "roxa"), "orange": ("laranja", "laranja"),
              "cyan": ("ciano", "ciano"), "pink": ("rosa", "rosa")}  # fmt: skip
_PT_SIZES = {"small": ("pequeno", "pequena"), "medium": ("médio", "média"),
             "large": ("grande", "grande")}  # fmt: skip
_PT_POSITIONS = (
    "no canto superior esquerdo", "em cima", "no canto superior direito", "à esquerda",
    "no centro", "à direita", "no canto inferior esquerdo", "em baixo",
    "no canto inferior direito",
)  # fmt: skip


# English in a phrasing the shapes data never uses, with its own position phrases: scored
# like the translations, it shows what an unseen phrasing costs in the training language
_EN_POSITIONS = (
    "at the upper left", "near the top edge", "at the upper right", "toward the left side",
    "in the middle", "toward the right side", "at the lower left", "near the bottom edge",
    "at the lower right",
)  # fmt: skip


def _english(color, kind, size, position):
    # English: the data set's own first template, "a {size} {colour} {kind} {position}"
    return f"a {size} {color} {kind} {shapes.POSITIONS[position][1]}"


def _english_unseen(color, kind, size, position):
    where = _EN_POSITIONS[POSITIONS.index(position)]
    return f"one {size}-sized {color} {kind} {where}"


def _french(color, kind, size, position):
    noun, gender = _FR_KINDS[kind]
    g = 0 if gender == "m" else 1
    article = ("un", "une")[g]
    before, after = _FR_SIZES[size][0][g], _FR_SIZES[size][1]
    where = _FR_POSITIONS[POSITIONS.index(position)]
    return f"{article} {before}{noun} {_FR_COLORS[color][g]}{after} {where}"


def _german(color, kind, size, position):
    noun, gender = _DE_KINDS[kind]
    article, ending = _DE_ENDINGS[gender]
    where = _DE_POSITIONS[POSITIONS.index(position)]
    return f"{article} {_DE_SIZES[size]}{ending} {_DE_COLORS[color]}{ending} {noun} {where}"


def _spanish(color, kind, size, position):
    noun, gender = _ES_KINDS[kind]
    g = 0 if gender == "m" else 1
    where = _ES_POSITIONS[POSITIONS.index(position)]
    return f"{('un', 'una')[g]} {noun} {_ES_COLORS[color][g]} {_ES_SIZES[size][g]} {where}"


def _chinese(color, kind, size, position):
    where = _ZH_POSITIONS[POSITIONS.index(position)]
    return f"{where}有一个{_ZH_SIZES[size]}的{_ZH_COLORS[color]}{_ZH_KINDS[kind]}"


def _italian(color, kind, size, position):
    noun, gender = _IT_KINDS[kind]
    g = 0 if gender == "m" else 1
    where = _IT_POSITIONS[POSITIONS.index(position)]
    return f"{('un', 'una')[g]} {_IT_SIZES[size][g]} {noun} {_IT_COLORS[color][g]} {where}"


def _portuguese(color, kind, size, position):
    noun, gender = _PT_KINDS[kind]
    g = 0 if gender == "m" else 1
    where = _PT_POSITIONS[POSITIONS.index(position)]
    return f"{('um', 'uma')[g]} {noun} {_PT_COLORS[color][g]} {_PT_SIZES[size][g]} {where}"


UNSEEN_ENGLISH = "English, unseen phrasing"
LANGUAGES = {
    "English": _english,
    UNSEEN_ENGLISH: _english_unseen,
    "French": _french,
    "German": _german,
    "Spanish": _spanish,
    "Chinese": _chinese,
    "Italian": _italian,
    "Portuguese": _portuguese,
}
# the shapes `languages` code of each (Italian and Portuguese have none: never trained on)
CODES = {
    "English": "en",
    UNSEEN_ENGLISH: "en",
    "French": "fr",
    "German": "de",
    "Spanish": "es",
    "Chinese": "zh",
}


def combinations() -> list[tuple[str, str, str, str]]:
    """Every (colour, kind, size, position) of the shapes data, in a fixed order."""
    return list(itertools.product(COLORS, KINDS, SIZES, POSITIONS))


def captions(language: str, languages: dict | None = None) -> list[str]:
    """One caption per `combinations()` entry, in `language` (a key of `languages`,
    LANGUAGES by default)."""
    phrase = (languages or LANGUAGES)[language]
    return [phrase(*combo) for combo in combinations()]


# === Drawing and scoring ===


def _drawer(source: pathlib.Path):
    """(captions [N], noise float32 [N, Z]) -> images float32 [N, H, W, C] in [-1, 1]; and Z."""
    from tf_t2i.evaluation.sources import is_run_dir, resolve_saved_model

    if is_run_dir(source):
        from tf_t2i.text.encoder import load_encoder
        from tf_t2i.training.run_dir import load_run

        run = load_run(source)
        encoder = load_encoder(run.encoder_spec)

        def draw(texts, noise):
            embeddings = np.asarray(encoder.encode(list(texts)), np.float32)
            return np.asarray(run.gan.generate({"embeddings": embeddings}, noise=noise))

        return draw, run.gan.model_config.z_dim
    saved_model = resolve_saved_model(source)
    if saved_model is None:
        raise SystemExit(f"multilingual: {source} is neither a run directory nor a SavedModel")
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (SentencePiece ops of the embedded encoder)

    signature = tf.saved_model.load(str(saved_model)).signatures["serving_default"]
    z_dim = int(signature.structured_input_signature[1]["noise"].shape[-1])

    def draw_export(texts, noise):
        out = signature(text=tf.constant(list(texts)), noise=tf.constant(noise, tf.float32))
        return out["images"].numpy().astype(np.float32) / 127.5 - 1.0

    return draw_export, z_dim


def score(source, data_dir, batch: int = 256, log=print, drawer=None, languages=None) -> dict:
    """Language -> {"color_kind", "color", "kind"} accuracies (see the module docstring).

    Args:
        drawer: (draw, z_dim) to score instead of the source's own (see _drawer).
        languages: name -> caption function of (colour, kind, size, position), to score
            instead of LANGUAGES.
    """
    from tf_t2i.evaluation.evaluator import Evaluator

    evaluator = Evaluator.load(data_dir=data_dir)
    class_names = evaluator.info["class_names"]
    combos = combinations()
    draw, z_dim = drawer or _drawer(pathlib.Path(source))
    noise = np.stack(
        [np.random.default_rng(i).standard_normal(z_dim) for i in range(len(combos))]
    ).astype(np.float32)
    results = {}
    for language in languages or LANGUAGES:
        started = time.perf_counter()
        texts = captions(language, languages)
        predicted = []
        for start in range(0, len(texts), batch):
            images = draw(texts[start : start + batch], noise[start : start + batch])
            predicted += np.argmax(evaluator.predict(images)["probs"], axis=-1).tolist()
        named = np.array([class_names[p].split(" ") for p in predicted])  # [N, 2]
        truth = np.array([combo[:2] for combo in combos])  # [N, 2] colour, kind
        right = named == truth
        results[language] = {
            "color_kind": float(np.mean(right.all(axis=1))),
            "color": float(np.mean(right[:, 0])),
            "kind": float(np.mean(right[:, 1])),
        }
        log(f"{language}: {results[language]} ({time.perf_counter() - started:.0f} s)")
    return results


def trained_languages(source) -> list[str] | None:
    """The shapes `languages` a run directory was trained on (codes), or None if unknown."""
    import json

    config = pathlib.Path(source) / "config.json"
    if not config.is_file():
        return None
    options = json.loads(config.read_text())["data"].get("options") or {}
    return list(options.get("languages") or ["en"])


def report(results: dict, command: str, source, data_dir, note: str = "") -> str:
    """The Markdown of bench/results/multilingual.md."""
    english = results["English"]["color_kind"]
    unseen = results.get(UNSEEN_ENGLISH, {}).get("color_kind")
    trained = trained_languages(source)

    def seen(language):
        if trained is None:
            return "?"
        return "yes" if CODES.get(language) in trained else "no"

    lines = [
        f"# Colour x kind accuracy from captions in {len(results)} languages",
        "",
        f"Command: `{command}`",
        "",
        f"Model: `{source}`; data and evaluator: `{data_dir}`. One image per "
        f"colour x kind x size x position ({len(combinations())} captions per language), "
        "the same noise in every language, scored by the data set's evaluator.",
        *(["", note] if note else []),
        "",
        "The language's captions in training: `yes` if the run's data had them (the shapes "
        "`languages` option, in phrasings unlike the ones scored here), `no` if G only saw "
        "them through the encoder. `English` is the data set's own first template (a phrasing "
        f"G trained on); `{UNSEEN_ENGLISH}` is English phrased as the data never is, as "
        "unseen to G as the translations' phrasings are.",
        "",
        "| language | in training captions | colour x kind | colour | kind "
        "| vs English (points) | vs English, unseen phrasing (points) |",
        "|---|---|---|---|---|---|---|",
    ]
    for language, r in results.items():
        delta = 100 * (r["color_kind"] - english)
        fair = "" if unseen is None else f"{100 * (r['color_kind'] - unseen):+.1f}"
        lines.append(
            f"| {language} | {seen(language)} | {r['color_kind']:.3f} | {r['color']:.3f} "
            f"| {r['kind']:.3f} | {delta:+.1f} | {fair} |"
        )
    lines += ["", "Example captions (a small red circle in the top left corner):", ""]
    lines += [f"- {language}: {captions(language)[0]}" for language in LANGUAGES]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=pathlib.Path, help="run directory or SavedModel")
    parser.add_argument("--data", type=pathlib.Path, required=True)
    parser.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("bench/results/multilingual.md")
    )
    parser.add_argument("--note", default="", help="a line about the model, for the report")
    args = parser.parse_args()
    results = score(args.source, args.data)
    command = shlex.join([".venv/bin/python", "-m", "bench.multilingual", *sys.argv[1:]])
    text = report(results, command, args.source, args.data, args.note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
