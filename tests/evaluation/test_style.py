"""Style metrics (spread, style transfer) with generators whose answers are known."""

import math
import re

import numpy as np
import pytest

from tf_t2i.data.schema import read_manifest
from tf_t2i.data.sources import shapes
from tf_t2i.evaluation import evaluate, groups, rotation, style
from tf_t2i.evaluation.evaluator import Evaluator, real_batches

NAMES = shapes.attribute_names()


@pytest.fixture(scope="module")
def loaded_evaluator(shapes_dir, trained_evaluator):
    return Evaluator.load(trained_evaluator[0], data_dir=shapes_dir)


@pytest.fixture(scope="module")
def real_data(shapes_dir):
    """The tiny data set's test and train examples, and lookups by caption embedding."""
    test = next(real_batches(shapes_dir, "test", 1000))
    train = next(real_batches(shapes_dir, "train", 1000))
    return {
        "test": test,
        "label_of": {
            e.tobytes(): int(label)
            for e, label in zip(test["embeddings"], test["labels"], strict=True)
        },
        "attributes_of": {
            c.decode(): a for c, a in zip(test["captions"], test["attributes"], strict=True)
        },
        "by_label": {
            int(label): np.concatenate([d["images"][d["labels"] == label] for d in (test, train)])
            for label in np.unique(test["labels"])
        },
    }


def _run(shapes_dir, evaluator, generate, transfer=None):
    return evaluate.run_protocol(
        generate, ["text"], 4, shapes_dir, evaluator, num_samples=60, seed=0, transfer_fn=transfer
    )["style"]


def _value(attributes, group):
    return groups.value_names(NAMES, group)[
        groups.group_values(attributes[None], groups.attribute_groups(NAMES)[group])[0]
    ]


def _render(attributes, background, angle=0.0):
    """A shapes image with the content of `attributes` on `background`, in [-1, 1]."""
    shape = {
        "color": _value(attributes, "color"),
        "kind": _value(attributes, "shape"),
        "size": _value(attributes, "size"),
        "position": _value(attributes, "position"),
        "angle": angle,
        "jitter": (0.0, 0.0),
    }
    image, _ = shapes._render([shape], background, 32)
    return image.astype(np.float32) / 127.5 - 1.0


def _background_of(image):
    """The background a real image is drawn on, read off its corners."""
    corners = (image[[0, 0, -1, -1], [0, -1, 0, -1]] + 1.0) * 127.5  # [4, 3]
    level = np.median(corners)
    return min(shapes.BACKGROUNDS, key=lambda b: abs(shapes.BACKGROUNDS[b][0] - level))


def test_groups_are_read_from_attribute_names_and_captions():
    assert groups.value_names(NAMES, "background") == ["black", "gray", "white"]
    assert groups.is_free("a small red circle on the left", NAMES, "background")
    assert not groups.is_free("a red circle on a Gray background", NAMES, "background")
    assert groups.named_groups("a large blue star at the top", NAMES) == [
        "color",
        "shape",
        "size",
        "position",
    ]
    assert groups.class_groups("red circle", NAMES) == ["color", "shape"]
    assert groups.entropy(np.array([0, 1, 2] * 4), 3) == pytest.approx(math.log(3))
    assert groups.entropy(np.zeros(32, int), 3) == 0.0


def test_a_generator_drawing_real_images_of_the_class_spreads_like_real_data(
    shapes_dir, loaded_evaluator, real_data
):
    def generate(conditions, noise):
        labels = [real_data["label_of"][e.tobytes()] for e in conditions["embeddings"]]
        picks = (np.abs(noise[:, 0]) * 1e6).astype(np.int64)
        return np.stack(
            [
                real_data["by_label"][label][pick % len(real_data["by_label"][label])]
                for label, pick in zip(labels, picks, strict=True)
            ]
        )

    result = _run(shapes_dir, loaded_evaluator, generate)["spread"]
    spread = result["background"]
    assert spread["captions"] == style.SPREAD_CAPTIONS and spread["seeds"] == style.SPREAD_SEEDS
    assert spread["max_entropy"] == pytest.approx(math.log(3))
    assert spread["spread_vs_real"] == pytest.approx(1.0, abs=0.2)
    assert spread["spread"] > 0.5
    # the rotation, read off the images: real images are turned uniformly in +-MAX_ANGLE
    turned = result["rotation"]
    assert turned["captions"] == style.SPREAD_CAPTIONS and turned["unread"] == 0.0
    assert turned["max_entropy"] == pytest.approx(math.log(rotation.ANGLE_BINS))
    assert turned["spread_vs_real"] == pytest.approx(1.0, abs=0.2)
    assert turned["spread"] > 0.6


def test_a_generator_that_ignores_its_noise_has_no_spread(shapes_dir, loaded_evaluator, real_data):
    constant = real_data["test"]["images"][0]

    def generate(conditions, noise):
        return np.repeat(constant[None], len(noise), axis=0)

    result = _run(shapes_dir, loaded_evaluator, generate)
    assert result["spread"]["background"]["entropy"] == 0.0
    assert result["spread"]["background"]["spread"] == 0.0
    assert result["spread"]["rotation"]["spread"] == 0.0
    assert result["spread"]["rotation"]["real_entropy"] > 1.0
    assert result["transfer"] == {"skipped": "the model has no style encoder"}


def _transfer_with(real_data, pick_background, pick_angle=lambda image: 0.0):
    def transfer(style_images, conditions, captions):
        return np.stack(
            [
                _render(
                    real_data["attributes_of"][caption], pick_background(image), pick_angle(image)
                )
                for image, caption in zip(style_images, captions, strict=True)
            ]
        )

    return transfer


def _angle_of(real_data, class_names):
    """The angle of a real image's shape, read with the class of its caption."""
    reader = rotation.AngleReader(class_names, shapes.MAX_ANGLE)
    label_of = {image.tobytes(): label for image, label in zip(
        real_data["test"]["images"], real_data["test"]["labels"], strict=True
    )}  # fmt: skip

    def angle(image):
        read = reader.read(image[None], np.array([label_of[image.tobytes()]]))[0]
        return 0.0 if np.isnan(read) else read

    return angle


def _a_real_image(real_data):
    def generate(conditions, noise):
        return np.repeat(real_data["test"]["images"][:1], len(noise), axis=0)

    return generate


def test_a_transfer_that_keeps_the_style_image_background_scores_one(
    shapes_dir, loaded_evaluator, real_data
):
    class_names = read_manifest(shapes_dir).class_names
    transfer = _transfer_with(real_data, _background_of, _angle_of(real_data, class_names))
    result = _run(shapes_dir, loaded_evaluator, _a_real_image(real_data), transfer)["transfer"]
    assert result["pairs"] == 60
    assert result["keeps_style"]["background"] >= 0.95
    assert result["keeps_style_chance"]["background"] < 0.6
    # the angle read off x, drawn on t's shape (which may be a circle: those pairs drop out)
    assert result["keeps_style"]["rotation"] >= 0.8
    assert result["keeps_style_chance"]["rotation"] < 0.45
    # the content is t's: as well drawn as t's own real image, by the evaluator's reading
    assert result["captioned_attributes"] >= result["captioned_attributes_real"] - 0.15


def test_a_transfer_that_ignores_the_style_image_scores_about_chance(
    shapes_dir, loaded_evaluator, real_data
):
    rng = np.random.default_rng(0)
    transfer = _transfer_with(real_data, lambda image: str(rng.choice(list(shapes.BACKGROUNDS))))
    result = _run(shapes_dir, loaded_evaluator, _a_real_image(real_data), transfer)["transfer"]
    keeps = result["keeps_style"]["background"]
    assert keeps < 0.6
    assert keeps == pytest.approx(result["keeps_style_chance"]["background"], abs=0.2)
    # every transfer drawn unturned: only the sources whose angle falls in the middle bin
    assert result["keeps_style"]["rotation"] < 0.45


def test_style_groups_come_from_the_manifest_or_the_source(shapes_dir):
    manifest = read_manifest(shapes_dir)
    assert manifest.style_groups == ["background"]
    manifest.style_groups = []  # a manifest written before the field: the source declares it
    assert style.declared_style_groups(manifest) == ["background"]
    manifest.source = {"name": "folder", "options": {}}
    assert style.declared_style_groups(manifest) == []
    skipped = style.style_metrics(None, [], np.random.default_rng(0))
    assert "no style groups" in skipped["skipped"]
    attributes_model = style.StyleInputs(*[None] * 3, {"attributes": None}, *[None] * 5)
    skipped = style.style_metrics(attributes_model, ["background"], np.random.default_rng(0))
    assert "conditioned on attributes" in skipped["skipped"]


def test_the_summary_prints_every_figure_and_says_what_was_skipped():
    results = {
        "style": {
            "groups": ["background"],
            "spread": {"background": {"spread": 0.5, "spread_vs_real": None}},
            "transfer": {"skipped": "the model has no style encoder"},
        },
        "zero_shot": {
            "num_samples": 9,
            "class_accuracy": 0.25,
            "class_accuracy_real": 1.0,
            "seen_class_accuracy": 0.75,
        },
    }
    text = "\n".join(style.summary_lines(results))
    assert re.search(r"background spread \(of max\) +0\.5000", text)
    assert re.search(r"background spread vs real +n/a", text)
    assert "style transfer: skipped, the model has no style encoder" in text
    assert re.search(r"zero-shot accuracy \(9 images\) +0\.2500", text)
    assert style.summary_lines({}) == []


def test_truncation_reaches_every_sample_and_narrows_the_spread(
    shapes_dir, loaded_evaluator, real_data
):
    # the background follows the first noise entry by its terciles under N(0, 1), so plain
    # noise spreads it and noise truncated to |z| <= 2 * 0.1 leaves only gray
    largest = []

    def generate(conditions, noise):
        largest.append(float(np.abs(noise).max()))
        captions = {
            e.tobytes(): c for c, e in zip(real_data["test"]["captions"],
                                           real_data["test"]["embeddings"], strict=True)
        }  # fmt: skip
        images = []
        for embedding, z in zip(conditions["embeddings"], noise[:, 0], strict=True):
            attributes = real_data["attributes_of"][captions[embedding.tobytes()].decode()]
            background = "black" if z < -0.43 else "white" if z > 0.43 else "gray"
            images.append(_render(attributes, background))
        return np.stack(images)

    run = lambda truncation: evaluate.run_protocol(  # noqa: E731
        generate, ["text"], 4, shapes_dir, loaded_evaluator, num_samples=60, seed=0,
        truncation=truncation,
    )  # fmt: skip
    plain = run(None)
    assert plain["truncation"] is None and max(largest) > 2.0
    assert plain["style"]["spread"]["background"]["spread"] > 0.8
    largest.clear()
    narrow = run(0.1)
    assert narrow["truncation"] == {"scale": 0.1, "bound": evaluate.TRUNCATION_BOUND}
    assert max(largest) <= 0.2 + 1e-6
    assert narrow["style"]["spread"]["background"]["spread"] == 0.0
    assert narrow["diversity"] < plain["diversity"]


def test_the_caption_diversity_scale_compares_real_images_of_what_the_caption_names():
    names = ["color=red", "color=blue", "size=small", "size=large", "background=black",
             "background=white"]  # fmt: skip
    rows = [(c, s, b) for c in (0, 1) for s in (0, 1) for b in (0, 1)]
    attributes = np.zeros((len(rows), 6), np.float32)
    for i, (c, s, b) in enumerate(rows):
        attributes[i, [c, 2 + s, 4 + b]] = 1.0
    # the features read size in tens and the background in ones; the label is the colour
    pool = {
        "labels": np.array([c for c, _, _ in rows]),
        "attributes": attributes,
        "features": np.array([[10.0 * s, 1.0 * b] for _, s, b in rows]),
    }

    def scale(*captions):
        picks = [0] * len(captions)  # the red, small, black image's labels and attributes
        return style.caption_diversity_scale(
            captions, pool["labels"][picks], attributes[picks], pool, names
        )

    # a caption naming the size leaves the background: real images differ by 1
    assert scale("a small red square") == pytest.approx(1.0)
    # one naming neither leaves both: the four red images' mean distance
    everything = (1 + 10 + 101**0.5 + 101**0.5 + 10 + 1) / 6
    assert scale("a red square") == pytest.approx(everything)
    assert scale("a small red square", "a red square") == pytest.approx((1 + everything) / 2)
    # one naming everything has a single real image: no scale from it
    assert np.isnan(scale("a small red square on a black background"))
    assert scale("a small red square on a black background", "a red one") == pytest.approx(
        everything
    )


def _caption_oracle(real_data, keep_size=True):
    """Draws each caption's shape and, at random, what it leaves free (the background
    when unnamed, rotation, jitter); with keep_size=False also a random size and position."""
    captions = {
        e.tobytes(): c.decode()
        for c, e in zip(real_data["test"]["captions"], real_data["test"]["embeddings"],
                        strict=True)
    }  # fmt: skip

    def generate(conditions, noise):
        images = []
        for embedding, z in zip(conditions["embeddings"], noise, strict=True):
            caption = captions[embedding.tobytes()]
            attributes = real_data["attributes_of"][caption]
            rng = np.random.default_rng(np.abs(z[:4] * 1e6).astype(np.int64))
            shape = {
                "color": _value(attributes, "color"),
                "kind": _value(attributes, "shape"),
                "size": _value(attributes, "size") if keep_size else rng.choice(list(shapes.SIZES)),
                "position": _value(attributes, "position")
                if keep_size
                else rng.choice(list(shapes.POSITIONS)),
                "angle": float(rng.uniform(-0.25, 0.25)),
                "jitter": rng.uniform(-0.04, 0.04, size=2),
            }
            background = _value(attributes, "background")
            if groups.is_free(caption, NAMES, "background"):
                allowed = [
                    b for b in shapes.BACKGROUNDS if shape["color"] not in shapes._clashes(b)
                ]
                background = str(rng.choice(allowed))
            image, _ = shapes._render([shape], background, 32)
            images.append(image.astype(np.float32) / 127.5 - 1.0)
        return np.stack(images)

    return generate


def test_a_generator_faithful_to_the_caption_has_the_diversity_of_its_real_images(
    shapes_dir, loaded_evaluator, real_data
):
    def run(generate):
        return evaluate.run_protocol(
            generate, ["text"], 4, shapes_dir, loaded_evaluator, num_samples=60, seed=0
        )

    faithful = run(_caption_oracle(real_data))
    # about the real images with the caption's content, and well below those of its class,
    # which also vary in the size and position the caption names
    assert faithful["diversity_caption_ratio"] == pytest.approx(1.0, abs=0.35)
    assert faithful["diversity_ratio"] < 0.75 * faithful["diversity_caption_ratio"]
    # drawing sizes and positions the caption did not ask for varies more than its real images
    loose = run(_caption_oracle(real_data, keep_size=False))
    assert loose["diversity_caption_ratio"] > 1.25 * faithful["diversity_caption_ratio"]
    assert loose["diversity_caption_real"] == faithful["diversity_caption_real"]
    constant = run(_a_real_image(real_data))
    assert constant["diversity_caption_ratio"] == 0.0
