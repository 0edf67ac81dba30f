"""Colour x kind accuracy from English captions phrased as the shapes data does and as it does not.

The shapes data's English captions come from five fixed patterns, and every one
names the shape's size and position. A user types their own words: "a red
circle", "small red circle top left". For every colour x kind x size x position
of the shapes data this writes the caption in each phrasing below, draws one
image per caption with the same noise for every phrasing (bench/multilingual.py's
scoring) and scores colour x kind with the data set's evaluator.

    .venv/bin/python -m bench.english_phrasings RUN_OR_EXPORT [RUN_OR_EXPORT ...] --data DIR [--out FILE.md]
"""

from __future__ import annotations

import argparse
import pathlib
import shlex
import sys

from bench import multilingual
from tf_t2i.data.sources import shapes


def _where(position):
    return shapes.POSITIONS[position][1]


def _unseen_where(position):
    return multilingual._EN_POSITIONS[multilingual.POSITIONS.index(position)]


# name -> (caption of (colour, kind, size, position), whether the data uses the phrasing)
PHRASINGS = {
    "the data's first pattern": (lambda c, k, s, p: f"a {s} {c} {k} {_where(p)}", True),
    "reordered: colour and kind, then size": (lambda c, k, s, p: f"a {c} {k}, {s}, {_where(p)}", False),
    "the data's pattern, unseen position phrases": (
        lambda c, k, s, p: f"a {s} {c} {k} {_unseen_where(p)}", False),
    "keywords: size colour kind position": (lambda c, k, s, p: f"{s} {c} {k} {p}", False),
    "bench/multilingual's unseen English": (multilingual._english_unseen, False),
    "colour and kind only": (lambda c, k, s, p: f"a {c} {k}", False),
}  # fmt: skip


def report(results: dict, command: str, data_dir) -> str:
    runs = list(results)
    lines = [
        "# Colour x kind from English captions in seen and unseen phrasings",
        "",
        f"Command: `{command}`",
        "",
        f"Data and evaluator: `{data_dir}`. One image per colour x kind x size x position "
        f"({len(multilingual.combinations())} captions per phrasing), the same noise for "
        "every phrasing; colour x kind, and colour alone in brackets.",
        "",
        "| phrasing | example | in the data | " + " | ".join(f"`{r}`" for r in runs) + " |",
        "|---|---|---|" + "---|" * len(runs),
    ]
    for name, (phrase, seen) in PHRASINGS.items():
        example = phrase("red", "circle", "small", "top left")
        cells = [
            f"{results[r][name]['color_kind']:.3f} ({results[r][name]['color']:.2f})" for r in runs
        ]
        lines.append(
            f"| {name} | {example} | {'yes' if seen else 'no'} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sources", type=pathlib.Path, nargs="+", help="run directories or SavedModels"
    )
    parser.add_argument("--data", type=pathlib.Path, required=True)
    parser.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("bench/results/english_phrasings.md")
    )
    args = parser.parse_args()
    phrasings = {name: phrase for name, (phrase, _) in PHRASINGS.items()}
    results = {
        str(source): multilingual.score(source, args.data, languages=phrasings)
        for source in args.sources
    }
    command = shlex.join([".venv/bin/python", "-m", "bench.english_phrasings", *sys.argv[1:]])
    text = report(results, command, args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
