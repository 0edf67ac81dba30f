"""The evaluation protocol behind `t2i evaluate` (and `t2i fit`'s periodic evaluation).

For a generator and a converted data set:

1. Take the first N examples of the held-out split in file order (N =
   `num_samples`, capped at the split size) and run the evaluator on the real
   images: features, class posteriors, attribute probabilities.
2. Generate one image per example from its caption embedding (and attributes,
   class or mask when the model is conditioned on them), with noise drawn
   from `numpy.random.default_rng(seed)`: the same seed gives the same images
   and the same numbers.
3. Split the N examples into halves A and B. FID and KID compare the images
   generated from A's captions with the real images of B; the real-vs-real
   baseline compares A's real images with B's. Both use the same sample
   sizes, so the baseline is the scale the generated figure should approach.
4. Conditional accuracy and the IS-style score use all N generated images;
   the evaluator's accuracy on the N real images is the ceiling.
5. Diversity: S samples for each of the first G captions; their mean
   pairwise feature distance against the real images' within-class distance
   gives the mode-collapse alarm, and against the distance between real
   images with the caption's content (its class and every attribute it
   names: style.caption_diversity_scale) the share of what a generator
   faithful to the caption can vary (`diversity_caption_ratio`).
6. Style ("style"): the spread of the data set's style groups over seeds and,
   for a model with a style encoder, style transfer (style.py).
7. Zero-shot ("zero_shot"), when the data set holds classes out of its train
   split: accuracy on those classes (zero_shot.py).

sources.py turns what `t2i evaluate` is given (a run directory or a
SavedModel) into a generate function for this protocol and records the figures.
"""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Callable

import numpy as np

from tf_t2i.errors import T2IError
from tf_t2i.evaluation import groups as groups_lib
from tf_t2i.evaluation import metric_registry, rotation, style, zero_shot
from tf_t2i.evaluation.evaluator import Evaluator, default_path, real_batches
from tf_t2i.evaluation.evaluator_training import train_evaluator
from tf_t2i.models.config import CONDITION_KEYS, TRUNCATION_BOUND

DIVERSITY_CAPTIONS = 10
DIVERSITY_SAMPLES = 8
GENERATE_BATCH = 64

# generate(conditions, noise) -> float32 [N, H, W, C] in [-1, 1]
GenerateFn = Callable[[dict, np.ndarray], np.ndarray]

_loaded_evaluators: dict[tuple, Evaluator] = {}


def get_evaluator(
    data_dir, evaluator_path=None, features="evaluator", inception_weights=None
) -> Evaluator:
    """Loads (once per process) the evaluator for a data set; see `Evaluator.load`."""
    path = pathlib.Path(evaluator_path) if evaluator_path else default_path(data_dir)
    key = (str(path.resolve()), str(pathlib.Path(data_dir).resolve()), features, inception_weights)
    if key not in _loaded_evaluators:
        _loaded_evaluators[key] = Evaluator.load(path, data_dir, features, inception_weights)
    return _loaded_evaluators[key]


def _collect_real(data_dir, split: str, num_samples: int) -> dict[str, np.ndarray]:
    """The first `num_samples` examples of a split as numpy arrays, in file order."""
    batches = list(real_batches(data_dir, split, 256, limit=num_samples))
    if not batches:
        raise T2IError(f"{data_dir}: split '{split}' has no examples")
    return {
        key: np.concatenate([b[key] for b in batches])[:num_samples]
        for key in batches[0]
        if key != "wrong_embeddings"
    }


def _generate_all(
    generate_fn: GenerateFn, conditions: dict[str, np.ndarray], noise: np.ndarray
) -> np.ndarray:
    """Generates in batches of GENERATE_BATCH; images float32 [N, H, W, C] in [-1, 1]."""
    outputs = []
    for start in range(0, len(noise), GENERATE_BATCH):
        part = slice(start, start + GENERATE_BATCH)
        images = generate_fn({k: v[part] for k, v in conditions.items()}, noise[part])
        outputs.append(np.asarray(images, np.float32))
    return np.concatenate(outputs)


def run_protocol(
    generate_fn: GenerateFn,
    condition_names: list[str],
    z_dim: int,
    data_dir: str | os.PathLike,
    evaluator: Evaluator,
    split: str = "test",
    num_samples: int = 1000,
    seed: int = 0,
    metric_names=metric_registry.DEFAULT_METRICS,
    transfer_fn=None,
    truncation: float | None = None,
) -> dict:
    """Runs the protocol (module docstring) for any generator.

    Args:
        generate_fn: (conditions dict, noise float32 [B, z_dim]) -> images
            float32 [B, H, W, C] in [-1, 1], H and C those of the data set.
        condition_names: the model's conditions ("text", "attributes", "class", "mask").
        z_dim: the generator's noise size.
        data_dir: the converted data set (its held-out split gives the captions).
        evaluator: from `get_evaluator` / `Evaluator.load`, trained on `data_dir`.
        split: the split whose captions and images are used.
        num_samples: how many captions (and real images); at least 4.
        seed: seeds the noise and KID's subsets.
        metric_names: registered metrics to compute.
        transfer_fn: the model's style transfer (`style.TransferFn`), None if it has none.
        truncation: sample with truncated noise, |z| <= TRUNCATION_BOUND times this
            scale (the fidelity-for-diversity trade of DF-GAN and BigGAN), in every
            figure that samples noise; style transfer takes its noise from S. None:
            plain N(0, 1).

    Returns:
        A JSON-ready dict of figures plus the protocol's settings.
    """
    from tf_t2i.data.schema import read_manifest

    started = time.perf_counter()
    manifest = read_manifest(data_dir)
    if split not in manifest.splits:
        raise T2IError(
            f"{data_dir}/dataset.json has no split '{split}' (it has {sorted(manifest.splits)}); "
            f"choose one with --split"
        )
    unknown = [c for c in condition_names if c not in CONDITION_KEYS]
    if unknown:
        raise T2IError(f"cannot evaluate a model conditioned on {unknown}")
    real = _collect_real(data_dir, split, num_samples)
    n = len(real["images"])
    if n < 4:
        raise T2IError(f"split '{split}' of {data_dir} has {n} examples; evaluation needs >= 4")
    if "masks" in [CONDITION_KEYS[c] for c in condition_names] and "masks" not in real:
        raise T2IError(f"the model is conditioned on masks but {data_dir} has none")
    conditions = {CONDITION_KEYS[c]: real[CONDITION_KEYS[c]] for c in condition_names}

    if truncation is not None:
        from tf_t2i.evaluation.published import truncate

        plain_fn, redraw = generate_fn, np.random.default_rng([seed, 1])

        def generate_fn(conditions, noise):
            return plain_fn(conditions, truncate(noise, truncation, TRUNCATION_BOUND, redraw))

    rng = np.random.default_rng(seed)
    fakes = _generate_all(generate_fn, conditions, rng.standard_normal((n, z_dim)).astype("f4"))
    if fakes.shape[1:] != real["images"].shape[1:]:
        raise T2IError(
            f"the generator makes images of shape {fakes.shape[1:]} but {data_dir} holds "
            f"{real['images'].shape[1:]}: evaluate with the data set the model was trained on"
        )
    groups = min(DIVERSITY_CAPTIONS, n)
    repeated = {k: np.repeat(v[:groups], DIVERSITY_SAMPLES, axis=0) for k, v in conditions.items()}
    diverse = _generate_all(
        generate_fn,
        repeated,
        rng.standard_normal((groups * DIVERSITY_SAMPLES, z_dim)).astype("f4"),
    )

    ev_real = evaluator.predict(real["images"])
    ev_fake = evaluator.predict(fakes)
    ev_diverse = evaluator.predict(diverse)
    # the held-out images plus train images: the real images a caption or class allows
    # (the train images only where style groups or attribute values need them: with
    # Inception features they cost a forward pass each)
    style_groups = style.declared_style_groups(manifest)
    valued = groups_lib.valued_groups(manifest.attribute_names or [])
    angle_reader = rotation.reader_for(manifest)
    pool = style.reference_pool(
        data_dir, split, real, ev_real, evaluator, bool(style_groups or valued), angle_reader
    )
    captions = [c.decode() if isinstance(c, bytes) else str(c) for c in real["captions"]]
    half = n // 2
    inputs = metric_registry.MetricInputs(
        real_features=ev_real["features"][:half],
        fake_features=ev_fake["features"][:half],
        real_reference=ev_real["features"][half:],
        real_probs=ev_real["probs"],
        fake_probs=ev_fake["probs"],
        real_attr_probs=ev_real["attr_probs"],
        fake_attr_probs=ev_fake["attr_probs"],
        labels=real["labels"],
        attributes=real["attributes"],
        diversity_features=ev_diverse["features"],
        diversity_groups=np.repeat(np.arange(groups), DIVERSITY_SAMPLES),
        real_labels=real["labels"],
        diversity_caption_real=style.caption_diversity_scale(
            captions, real["labels"], real["attributes"], pool, manifest.attribute_names
        ),
        seed=seed,
        attribute_names=list(manifest.attribute_names or []),
    )
    results = {
        # NaN (a figure the data cannot give, e.g. class accuracy without labels) -> null
        k: None if isinstance(v, float) and np.isnan(v) else v
        for k, v in metric_registry.compute_metrics(metric_names, inputs).items()
    }
    style_inputs = style.StyleInputs(
        generate_all=lambda c, z: _generate_all(generate_fn, c, z),
        transfer_fn=transfer_fn,
        real=real,
        conditions=conditions,
        ev_real=ev_real,
        evaluator=evaluator,
        attribute_names=manifest.attribute_names,
        z_dim=z_dim,
        reference=pool,
        angle_reader=angle_reader,
    )
    results["style"] = style.style_metrics(style_inputs, style_groups, rng)
    if manifest.held_out_classes:
        results["zero_shot"] = zero_shot.zero_shot_metrics(
            manifest, real, ev_real, ev_fake, evaluator.info
        )
    results.update(
        split=split,
        num_samples=n,
        seed=seed,
        features=evaluator.features_name,
        evaluator_real_accuracy=evaluator.info.get("real_accuracy"),
        diversity_captions=groups,
        diversity_samples_per_caption=DIVERSITY_SAMPLES,
        truncation=None if truncation is None else {"scale": truncation, "bound": TRUNCATION_BOUND},
        seconds=round(time.perf_counter() - started, 2),
    )
    return results


def sampling_truncation(requested: float | None, own: float) -> float | None:
    """The truncation to sample at, as `run_protocol` takes it.

    Args:
        requested: `--truncation`: None for the model's own, 0 for N(0, 1), else the scale.
        own: the model's truncation (model.truncation, or what its export recorded).

    Returns:
        The scale, or None for plain N(0, 1) noise.
    """
    scale = own if requested is None else requested
    return float(scale) if scale else None


def gan_generate_fn(gan, use_ema: bool = True) -> GenerateFn:
    def generate(conditions, noise):
        return np.asarray(gan.generate(conditions, noise=noise, use_ema=use_ema))

    return generate


def evaluate_gan(
    gan,
    data_dir: str | os.PathLike,
    split: str = "test",
    num_samples: int = 1000,
    seed: int = 0,
    evaluator_path: str | os.PathLike | None = None,
    features: str = "evaluator",
    inception_weights: str | os.PathLike | None = None,
    train_missing_evaluator: bool = False,
    log=print,
) -> dict:
    """Evaluates an in-memory ConditionalGAN (what `t2i fit` calls every N steps), at its
    own truncation (model.truncation), as `t2i evaluate` does by default.

    Args:
        gan: a ConditionalGAN (its `.generate` and `.model_config` are used).
        data_dir: the converted data set it trains on.
        split: held-out split whose captions are generated from.
        num_samples: captions to generate from (capped at the split size).
        seed: fixes the noise; the same seed and weights give the same numbers.
        evaluator_path: the evaluator .keras (default DATA_DIR/evaluator/evaluator.keras).
        features: "evaluator" or "inception".
        inception_weights: local Inception-v3 no-top .h5 for "inception".
        train_missing_evaluator: train the evaluator first (and save it at
            `evaluator_path` or the default place) when there is none, instead
            of raising; a couple of minutes on the default shapes.
        log: progress lines of that training.

    Returns:
        The figures as a dict (see `run_protocol`), with "step" added.
    """
    path = pathlib.Path(evaluator_path) if evaluator_path else default_path(data_dir)
    if train_missing_evaluator and not path.is_file():
        train_evaluator(data_dir, path, log=log)
    evaluator = get_evaluator(data_dir, evaluator_path, features, inception_weights)
    truncation = sampling_truncation(None, gan.model_config.truncation)
    return run_gan(gan, data_dir, evaluator, split, num_samples, seed, truncation=truncation)


def run_gan(
    gan, data_dir, evaluator, split, num_samples, seed, use_ema=True, truncation=None
) -> dict:
    """`run_protocol` for a ConditionalGAN, with its training step and which generator drew."""
    config = gan.model_config
    results = run_protocol(
        gan_generate_fn(gan, use_ema),
        list(config.conditions),
        config.z_dim,
        data_dir,
        evaluator,
        split,
        num_samples,
        seed,
        transfer_fn=style.gan_transfer_fn(gan),
        truncation=truncation,
    )
    drew = "ema" if use_ema and gan.generator_ema is not None else "generator"
    return {"step": int(gan.step.numpy()), "generator": drew, **results}
