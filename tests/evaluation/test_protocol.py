import json

import numpy as np
import pytest

from tf_t2i.errors import T2IError
from tf_t2i.evaluation import evaluate
from tf_t2i.evaluation.evaluator import Evaluator, real_batches


@pytest.fixture(scope="module")
def loaded_evaluator(shapes_dir, trained_evaluator):
    return Evaluator.load(trained_evaluator[0], data_dir=shapes_dir)


@pytest.fixture(scope="module")
def tiny_gan():
    """An untrained text-conditioned GAN at the tiny data set's size."""
    from tf_t2i.models.build import build_gan
    from tf_t2i.models.config import ModelConfig

    config = ModelConfig(image_size=32, z_dim=8, ngf=8, ndf=8, embedding_dim=16, proj_dim=8)
    return build_gan(config)


def _copying_generator(shapes_dir, num_samples, split="test"):
    """A 'perfect' generator: for the protocol's first pass (the N captions in
    file order) the real image of each caption; afterwards (the diversity
    pass) one fixed real image per caption text, whatever the noise."""
    images = next(real_batches(shapes_dir, split, 1000))
    by_caption = {
        e.tobytes(): i for e, i in zip(images["embeddings"], images["images"], strict=True)
    }
    served = []

    def generate(conditions, noise):
        start = sum(served)
        served.append(len(noise))
        if start < num_samples:
            return images["images"][start : start + len(noise)]
        return np.stack([by_caption[e.tobytes()] for e in conditions["embeddings"]])

    return generate


def test_a_generator_that_copies_the_real_images_scores_like_real_data(
    shapes_dir, loaded_evaluator
):
    results = evaluate.run_protocol(
        _copying_generator(shapes_dir, 40),
        ["text"],
        4,
        shapes_dir,
        loaded_evaluator,
        num_samples=40,
    )
    # fakes of captions A are the real images A: FID/KID equal the real-vs-real baseline
    assert results["fid"] == pytest.approx(results["fid_real_baseline"])
    assert results["kid"] == pytest.approx(results["kid_real_baseline"])
    assert results["class_accuracy"] == pytest.approx(results["class_accuracy_real"])
    # one fixed image per caption whatever the noise: the alarm must ring
    assert results["diversity"] == 0.0 and results["mode_collapse"] is True
    assert results["num_samples"] == 40 and results["split"] == "test"


def test_untrained_gan_is_far_from_real_and_the_same_seed_gives_the_same_numbers(
    shapes_dir, loaded_evaluator, tiny_gan
):
    run = lambda seed: evaluate.run_protocol(  # noqa: E731
        evaluate.gan_generate_fn(tiny_gan),
        ["text"],
        8,
        shapes_dir,
        loaded_evaluator,
        num_samples=60,
        seed=seed,
    )
    first, second, other = run(3), run(3), run(4)
    figures = [k for k in first if isinstance(first[k], float) and k != "seconds"]
    assert {k: first[k] for k in figures} == {k: second[k] for k in figures}
    assert first["fid"] != other["fid"]
    assert first["fid"] > 1.5 * first["fid_real_baseline"]
    assert first["kid"] > first["kid_real_baseline"]
    assert first["class_accuracy"] < first["class_accuracy_real"]
    json.dumps(first)  # the figures are JSON-ready


def test_evaluate_gan_adds_the_step(shapes_dir, trained_evaluator, tiny_gan):
    results = evaluate.evaluate_gan(
        tiny_gan, shapes_dir, num_samples=8, evaluator_path=trained_evaluator[0]
    )
    assert results["step"] == 0 and results["num_samples"] == 8 and "fid" in results
    assert results["truncation"] is None  # model.truncation 0: plain N(0, 1), as before


def test_evaluate_gan_samples_at_the_model_truncation(shapes_dir, trained_evaluator, tiny_gan):
    """`t2i fit`'s periodic evaluation draws as `t2i evaluate RUN` does by default."""
    import dataclasses

    from tf_t2i.models.build import build_gan

    gan = build_gan(dataclasses.replace(tiny_gan.model_config, truncation=0.5))
    results = evaluate.evaluate_gan(
        gan, shapes_dir, num_samples=8, evaluator_path=trained_evaluator[0]
    )
    assert results["truncation"] == {"scale": 0.5, "bound": evaluate.TRUNCATION_BOUND}


def test_sampling_truncation_defaults_to_the_models_own_and_0_is_plain():
    assert evaluate.sampling_truncation(None, 0.7) == 0.7
    assert evaluate.sampling_truncation(None, 0.0) is None
    assert evaluate.sampling_truncation(0.0, 0.7) is None
    assert evaluate.sampling_truncation(0.5, 0.7) == 0.5


def test_protocol_errors_name_the_problem(shapes_dir, loaded_evaluator, tiny_gan):
    gen = evaluate.gan_generate_fn(tiny_gan)
    with pytest.raises(T2IError, match="no split 'val'"):
        evaluate.run_protocol(gen, ["text"], 8, shapes_dir, loaded_evaluator, split="val")
    wrong_size = lambda c, noise: np.zeros((len(noise), 16, 16, 3), np.float32)  # noqa: E731
    with pytest.raises(T2IError, match="images of shape"):
        evaluate.run_protocol(wrong_size, ["text"], 8, shapes_dir, loaded_evaluator, num_samples=8)


def test_evaluate_gan_can_train_a_missing_evaluator_first(tmp_path, make_shapes, tiny_gan):
    data = make_shapes(tmp_path / "fresh", num_images=40, seed=2)
    with pytest.raises(T2IError, match="t2i evaluator train"):
        evaluate.evaluate_gan(tiny_gan, data, num_samples=8)
    results = evaluate.evaluate_gan(
        tiny_gan, data, num_samples=8, train_missing_evaluator=True, log=lambda *_: None
    )
    assert (data / "evaluator" / "evaluator.keras").is_file() and results["num_samples"] == 4
