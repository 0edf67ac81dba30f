"""Zero-shot figures: `t2i evaluate` scores the classes a data set held out of training."""

import json
import shutil

import numpy as np
import pytest

from tf_t2i.data.schema import read_manifest
from tf_t2i.evaluation import evaluate, zero_shot
from tf_t2i.evaluation.evaluator import Evaluator, real_batches


@pytest.fixture(scope="module")
def held_out_dir(shapes_dir, trained_evaluator, tmp_path_factory):
    """The tiny data set, its manifest naming 6 of its test classes as held out."""
    out = shutil.copytree(shapes_dir, tmp_path_factory.mktemp("zs") / "shapes")
    manifest_path = out / "dataset.json"
    manifest = json.loads(manifest_path.read_text())
    test = next(real_batches(shapes_dir, "test", 1000))
    labels = sorted(set(test["labels"].tolist()))[:6]
    manifest["held_out_classes"] = [manifest["class_names"][i] for i in labels]
    manifest_path.write_text(json.dumps(manifest))
    return out


def _by_caption(data_dir, transform=lambda image: image):
    test = next(real_batches(data_dir, "test", 1000))
    images = {
        e.tobytes(): transform(i) for e, i in zip(test["embeddings"], test["images"], strict=True)
    }

    def generate(conditions, noise):
        return np.stack([images[e.tobytes()] for e in conditions["embeddings"]])

    return generate


def _zero_shot(data_dir, trained_evaluator, generate):
    evaluator = Evaluator.load(trained_evaluator[0], data_dir=data_dir)
    return evaluate.run_protocol(generate, ["text"], 4, data_dir, evaluator, num_samples=60)


def test_a_generator_drawing_the_real_images_scores_the_real_ceiling(
    held_out_dir, trained_evaluator
):
    results = _zero_shot(held_out_dir, trained_evaluator, _by_caption(held_out_dir))
    figures = results["zero_shot"]
    assert figures["classes"] == read_manifest(held_out_dir).held_out_classes
    assert figures["groups"] == ["color", "shape"]
    assert figures["num_samples"] >= 6
    assert figures["class_accuracy"] == pytest.approx(figures["class_accuracy_real"])
    assert figures["class_accuracy_real"] > 0.2  # chance: 1 / 48 (the tiny evaluator is weak)
    assert "warning" not in figures  # no holdout split: the evaluator learnt every class
    assert set(figures["group_accuracy"]) == {"color", "shape"}


def test_a_generator_drawing_grey_blanks_scores_low(held_out_dir, trained_evaluator):
    blank = _by_caption(held_out_dir, lambda image: np.zeros_like(image))
    figures = _zero_shot(held_out_dir, trained_evaluator, blank)["zero_shot"]
    assert figures["class_accuracy"] < 0.2 < figures["class_accuracy_real"]


def test_no_zero_shot_figures_without_held_out_classes(shapes_dir, trained_evaluator):
    results = _zero_shot(shapes_dir, trained_evaluator, _by_caption(shapes_dir))
    assert "zero_shot" not in results


def test_a_split_without_held_out_images_says_so(shapes_dir):
    manifest = read_manifest(shapes_dir)
    manifest.held_out_classes = [manifest.class_names[0]]
    real = {"labels": np.array([1, 2]), "attributes": np.zeros((2, len(manifest.attribute_names)))}
    figures = zero_shot.zero_shot_metrics(manifest, real, {}, {})
    assert figures["num_samples"] == 0 and "no image of a held-out class" in figures["skipped"]
    assert "warning" not in figures
    # a data set with a holdout split, and an evaluator that did not learn from it
    manifest.splits = {**manifest.splits, "holdout": manifest.splits["train"]}
    figures = zero_shot.zero_shot_metrics(manifest, real, {}, {}, {"train_splits": ["train"]})
    assert "did not learn the held-out classes" in figures["warning"]


def test_the_evaluator_learns_from_the_holdout_split(tmp_path, hash_encoder):
    from tf_t2i.data.convert import convert
    from tf_t2i.data.sources import get_source
    from tf_t2i.evaluation.evaluator_training import train_evaluator

    source = get_source("shapes", None, num_images=80, image_size=16, holdout=8)
    convert(source, tmp_path / "d", encoder=hash_encoder, image_size=16, progress=False)
    logged = []
    path = train_evaluator(tmp_path / "d", epochs=1, log=logged.append)
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["train_splits"] == ["train", "holdout"]
    manifest = read_manifest(tmp_path / "d")
    total = manifest.num_examples("train") + manifest.num_examples("holdout")
    assert f"training the evaluator on {total} images of train + holdout" in logged[0]
