"""What a perfect shapes generator scores on `t2i evaluate`'s diversity and style figures.

The diversity ratio divides the spread of 8 samples of one caption by the spread
of real test images of one *class* (colour x kind). A shapes caption also names
the size and the position of its shape, and 40% of the captions the background,
so real images of one class vary more than the images one caption allows. This
benchmark measures that ceiling with an oracle: a "generator" that renders, for
each caption, the data set's own shape (colour, kind, size, position, and the
background when the caption names it) and draws everything the caption leaves
free from the data's own distributions (a background that suits the colour when
the caption does not name one, the rotation, the jitter), seeded by its noise.
It goes through `evaluate.run_protocol` like a trained model, with the same
evaluator, and also scores diversity over more captions than the protocol's 10.

    python -m bench.diversity_ceiling --data ~/.cache/tf_t2i/datasets/shapes-7551aee0eaf6

writes bench/results/diversity_ceiling.md (and --out for the JSON).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import zlib

import numpy as np

from bench.machine import section_header
from tf_t2i.data.schema import read_manifest
from tf_t2i.data.sources import shapes
from tf_t2i.evaluation import evaluate, groups
from tf_t2i.evaluation.evaluator import Evaluator
from tf_t2i.evaluation.metrics import within_group_diversity

RESULTS = pathlib.Path(__file__).parent / "results" / "diversity_ceiling.md"
WIDE_CAPTIONS = 100  # captions in the wider diversity estimate (the protocol uses 10)


def background_weights(color: str) -> dict[str, float]:
    """P(background | colour) in the shapes data: a background first, then a colour that reads on it."""
    weights = {}
    for background in shapes.BACKGROUNDS:
        allowed = [c for c in shapes.COLORS if c not in shapes._clashes(background)]
        weights[background] = (1.0 / len(allowed)) if color in allowed else 0.0
    total = sum(weights.values())
    return {b: w / total for b, w in weights.items()}


class Oracle:
    """Renders each caption's own content with the free attributes drawn from the data's laws.

    Args:
        data_dir: a converted shapes data set (its dataset.json names the source options).
        split: the split whose captions the protocol uses.
        keep: also keep these free attributes as the real image has them
            ("background", "pose": rotation and jitter), for the ablation rows.
    """

    def __init__(self, data_dir, split: str = "test", keep: tuple[str, ...] = ()):
        manifest = read_manifest(data_dir)
        if manifest.source.get("name") != "shapes":
            raise SystemExit(f"{data_dir}: not a shapes data set")
        self.source = shapes.ShapesSource(**manifest.source["options"])
        self.size = manifest.image_size
        self.keep = keep
        self.names = list(manifest.attribute_names)
        self.index_of = {}
        for record in self.source.examples(split):
            index = int(record.image_id.rsplit("/", 1)[1])
            for caption in record.captions:
                self.index_of.setdefault(caption, index)
        self.caption_of = {}

    def learn_captions(self, real: dict) -> None:
        for embedding, caption in zip(real["embeddings"], real["captions"], strict=True):
            self.caption_of[embedding.tobytes()] = caption.decode()

    def __call__(self, conditions, noise):
        images = []
        for embedding, z in zip(conditions["embeddings"], noise, strict=True):
            caption = self.caption_of[embedding.tobytes()]
            _, background, layout = self.source._layout(self.index_of[caption])
            rng = np.random.default_rng(zlib.crc32(np.asarray(z, np.float32).tobytes()))
            drawn = []
            for shape in layout:
                shape = dict(shape)
                angle, jitter = rng.uniform(-0.25, 0.25), rng.uniform(-0.04, 0.04, size=2)
                if "pose" not in self.keep:
                    shape["angle"], shape["jitter"] = float(angle), jitter
                drawn.append(shape)
            free = groups.is_free(caption, self.names, "background")
            if free and "background" not in self.keep:
                weights = background_weights(layout[0]["color"])
                background = rng.choice(list(weights), p=list(weights.values()))
            image, _ = shapes._render(drawn, str(background), self.size)
            images.append(image.astype(np.float32) / 127.5 - 1.0)
        return np.stack(images)


def _row(name: str, result: dict, wide: float) -> str:
    """One table row; `wide` is NaN for a trained model (not rescored over more captions)."""
    spread = result["style"]["spread"]["background"]
    accuracy = result.get("zero_shot", {}).get("seen_class_accuracy", result["class_accuracy"])
    return (
        f"| {name} | {result['diversity_ratio']:.2f} | {'—' if np.isnan(wide) else f'{wide:.2f}'} "
        f"| {result['diversity_caption_ratio']:.2f} | {spread['spread']:.3f} "
        f"| {spread['spread_vs_real']:.2f} | {accuracy:.3f} | {result['fid_ratio']:.2f} |"
    )


def _wide_diversity(oracle: Oracle, real: dict, evaluator: Evaluator, reference: float) -> float:
    """Diversity ratio over WIDE_CAPTIONS captions x 8 samples, against the same real scale."""
    count = min(WIDE_CAPTIONS, len(real["embeddings"]))
    embeddings = np.repeat(real["embeddings"][:count], evaluate.DIVERSITY_SAMPLES, axis=0)
    noise = np.random.default_rng(1).standard_normal((len(embeddings), 100)).astype("f4")
    images = evaluate._generate_all(oracle, {"embeddings": embeddings}, noise)
    features = evaluator.predict(images)["features"]
    group_ids = np.repeat(np.arange(count), evaluate.DIVERSITY_SAMPLES)
    return within_group_diversity(features, group_ids) / reference


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a converted shapes data set")
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--out", help="also write the figures as JSON here")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=EVALUATION_JSON",
        help="a trained model's `t2i evaluate` figures (same data and evaluator) as another row",
    )
    args = parser.parse_args(argv)
    data_dir = pathlib.Path(args.data).expanduser()
    evaluator = Evaluator.load(data_dir / "evaluator", data_dir=data_dir)
    real = evaluate._collect_real(data_dir, "test", args.num_samples)
    rows, figures = [], {}
    variants = [
        ("oracle: background (when free), rotation and jitter drawn", ()),
        ("oracle: rotation and jitter drawn, background as the real image", ("background",)),
        ("oracle: background drawn (when free), no rotation or jitter drawn", ("pose",)),
    ]
    for name, keep in variants:
        oracle = Oracle(data_dir, keep=keep)
        oracle.learn_captions(real)
        result = evaluate.run_protocol(
            oracle, ["text"], 100, data_dir, evaluator, num_samples=args.num_samples, seed=0
        )
        wide = _wide_diversity(oracle, real, evaluator, result["diversity_real"])
        figures[name] = {**result, "diversity_ratio_wide": wide}
        rows.append(_row(name, result, wide))
        print(rows[-1], flush=True)
    for item in args.compare:
        name, _, path = item.partition("=")
        result = json.loads(pathlib.Path(path).expanduser().read_text(encoding="utf-8"))
        rows.append(_row(f"{name} (`{path}`)", result, float("nan")))
    faithful, fixed_background, fixed_pose = (figures[name] for name, _ in variants)
    reading = (
        f"A generator that draws exactly what each caption says, and the rest as the data"
        f" does, scores {faithful['diversity_ratio']:.2f} against the class-wide scale that"
        f" `diversity_ratio` uses, since real images of one class also vary in the size and"
        f" position a caption names, and {faithful['diversity_caption_ratio']:.2f} against the"
        f" real images of the caption's content (`diversity_caption_ratio`). Without the"
        f" background's variation it scores {fixed_background['diversity_caption_ratio']:.2f},"
        f" without rotation and jitter {fixed_pose['diversity_caption_ratio']:.2f}: the caption"
        f" scale sees both kinds of style. A class-wide ratio above"
        f" {faithful['diversity_ratio']:.2f} can only come from drawing sizes or positions the"
        f" caption did not ask for (or from artefacts)."
    )
    detail = f"data {data_dir.name} ({read_manifest(data_dir).image_size} px)"
    text = "\n".join(
        [
            *section_header(
                "The diversity a perfect shapes generator scores",
                "bench.diversity_ceiling",
                argv,
                detail,
            ),
            "An oracle renders each test caption's own shape (colour, kind, size, position,"
            " and the background when the caption names it) and draws what the caption"
            " leaves free from the data's own laws, seeded by the noise; `run_protocol`"
            " scores it like a model, with the same evaluator. `diversity` is the"
            f" protocol's (10 captions x 8 samples); `wide` uses {WIDE_CAPTIONS} captions.",
            "",
            "| generator | diversity / real (class) | wide | diversity / real (caption) "
            "| bg spread (of max) | spread vs real | class acc (seen) | FID / real-real |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            reading,
            "",
        ]
    )
    RESULTS.write_text(text, encoding="utf-8")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(figures, indent=1, default=str) + "\n")
    print(text)


if __name__ == "__main__":
    main()
