"""Style metrics of `t2i evaluate`: does G use its noise, and does style transfer work?

A data set declares its *style groups* (groups.py): attribute groups drawn
independently of the caption, e.g. shapes' background. For each one:

spread: for each of the first SPREAD_CAPTIONS held-out captions that leave the
    group free, generate SPREAD_SEEDS images with different noise, read the
    group's value off each with the evaluator, and take the entropy (nats) of
    those values. Reported as the mean entropy, its share of the maximum
    log(number of values) (`spread`), and its ratio to the same measure on
    SPREAD_SEEDS real images of the caption's class drawn with replacement
    from the held-out split and the first REFERENCE_IMAGES of the train split
    (`spread_vs_real`). A generator that ignores z scores 0.
style transfer: for the first TRANSFER_PAIRS held-out images x (style
    sources) and the captions t of other held-out images that leave every
    style group free, draw G(S(x), t). `keeps_style[group]` is the fraction
    whose group value is x's; `keeps_style_chance` the fraction of pairs whose
    real images share the value anyway (what ignoring x scores);
    `class_accuracy` and `captioned_attributes` say whether t's content was
    drawn (the class, and every group t names), with the real images of t
    as the ceiling.
rotation: the built-in shapes also turn each shape by an angle no caption
    names and no attribute records; rotation.py reads it off the image, so the
    spread (over captions whose shape has an angle, against real images of the
    caption's class; among the images whose angle can be read, `unread` the
    share of the others) and `keeps_style["rotation"]` (the same angle bin as
    x's) are reported for it as for a group.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from tf_t2i.evaluation import groups as groups_lib

SPREAD_CAPTIONS = 16
SPREAD_SEEDS = 32
TRANSFER_PAIRS = 128
TRANSFER_BATCH = 64
REFERENCE_IMAGES = 2000
MIN_READ = 8  # of a caption's SPREAD_SEEDS images with a readable angle, for its rotation spread

# (style images float32 [B, H, W, C] in [-1, 1], conditions of the captions, caption
# strings [B]) -> images float32 [B, H, W, C] in [-1, 1]
TransferFn = Callable[[np.ndarray, dict, list], np.ndarray]


def declared_style_groups(manifest) -> list[str]:
    """The style groups of a data set: dataset.json's `style_groups`, else the
    source's declaration (manifests written before the field existed), keeping
    only groups the attribute vector has."""
    declared = list(manifest.style_groups or [])
    if not declared:
        from tf_t2i.data.sources import SOURCES, source_class

        name = str(manifest.source.get("name", "")).partition(":")[0]
        try:
            cls = source_class(name) if name in SOURCES else None
        except ImportError:  # a source's optional dependency: it declared none we could read
            cls = None
        declared = list(getattr(cls, "style_groups", ()))
    known = groups_lib.valued_groups(manifest.attribute_names)
    return [g for g in declared if g in known]


@dataclasses.dataclass
class StyleInputs:
    """What the style metrics read.

    Attributes:
        generate_all: (conditions dict of [M, ...] arrays, noise float32 [M, z_dim])
            -> images float32 [M, H, W, C] in [-1, 1], batching as it needs.
        transfer_fn: see `TransferFn`; None when the model has no style encoder.
        real: the held-out examples as arrays: images, attributes float32 [N, A],
            labels int64 [N], captions bytes [N].
        conditions: the model's conditions for those N examples.
        ev_real: the evaluator's outputs on the real images.
        evaluator: has `predict(images)` -> {"probs", "attr_probs", ...}.
        attribute_names: the manifest's attribute names.
        z_dim: the generator's noise size.
        reference: the real images the spread is compared with: {"labels" int64 [M],
            "attr_probs" float32 [M, A]} (the held-out ones and up to
            REFERENCE_IMAGES of the train split, see `reference_pool`).
        angle_reader: rotation.AngleReader of the data set, None if it has no rotation.
    """

    generate_all: Callable
    transfer_fn: TransferFn | None
    real: dict
    conditions: dict
    ev_real: dict
    evaluator: object
    attribute_names: list
    z_dim: int
    reference: dict
    angle_reader: object = None


def reference_pool(
    data_dir,
    split: str,
    real: dict,
    ev_real: dict,
    evaluator,
    with_train: bool = True,
    angle_reader=None,
) -> dict:
    """Labels, attributes, evaluator features and attribute probabilities of the
    held-out real images plus (`with_train`) up to REFERENCE_IMAGES train images,
    so a class has enough real images to draw SPREAD_SEEDS from, and a caption's
    content enough to measure its diversity; with an `angle_reader`, their
    "angles" too (rotation.py)."""
    from tf_t2i.data.schema import read_manifest
    from tf_t2i.evaluation.evaluator import real_batches

    pool = {
        "labels": [real["labels"]],
        "attr_probs": [ev_real["attr_probs"]],
        "attributes": [real["attributes"]],
        "features": [ev_real["features"]],
    }
    if angle_reader is not None:
        pool["angles"] = [angle_reader.read(real["images"], real["labels"])]
    if with_train and split != "train" and "train" in read_manifest(data_dir).splits:
        for batch in real_batches(data_dir, "train", 256, limit=REFERENCE_IMAGES):
            predicted = evaluator.predict(batch["images"])
            pool["labels"].append(batch["labels"])
            pool["attr_probs"].append(predicted["attr_probs"])
            pool["attributes"].append(batch["attributes"])
            pool["features"].append(predicted["features"])
            if angle_reader is not None:
                pool["angles"].append(angle_reader.read(batch["images"], batch["labels"]))
    return {key: np.concatenate(parts) for key, parts in pool.items()}


def caption_diversity_scale(captions, labels, attributes, pool, attribute_names) -> float:
    """The real images' diversity within what a caption allows.

    For each caption, the real images of the pool (`reference_pool`) with the
    caption's class and the caption's value of every attribute group it names
    ("a small red star in the top left corner": colour, kind, size, position,
    but not the background) differ only in what the caption leaves free. The
    scale is the mean over captions of their mean pairwise feature distance,
    for captions with at least two such images. A generator that draws exactly
    what each caption says, and the rest as the data does, scores about this.
    (The class-wide scale, `diversity_real`, also counts the sizes and
    positions a caption fixes.)

    Args:
        captions: str [N]; labels: int [N] (-1: none); attributes: float [N, A].
        pool: from `reference_pool`.
        attribute_names: the data set's ("group=value").

    Returns:
        The scale, or NaN if no caption has two matching real images.
    """
    from tf_t2i.evaluation.metrics import mean_pairwise_distance

    names = list(attribute_names or [])
    group_indices = groups_lib.valued_groups(names)
    pool_values = {
        group: groups_lib.group_values(pool["attributes"], indices)
        for group, indices in group_indices.items()
    }
    by_key: dict[tuple, float] = {}  # captions naming the same content share their images
    per_caption = []
    for caption, label, values in zip(captions, labels, attributes, strict=True):
        named = [g for g in groups_lib.named_groups(caption, names) if g in pool_values]
        key = (int(label), *(
            (g, int(groups_lib.group_values(values[None], group_indices[g])[0])) for g in named
        ))  # fmt: skip
        if key not in by_key:
            match = pool["labels"] == label if label >= 0 else np.ones(len(pool["labels"]), bool)
            for group, value in key[1:]:
                match &= pool_values[group] == value
            features = pool["features"][match]
            by_key[key] = mean_pairwise_distance(features) if len(features) >= 2 else np.nan
        if not np.isnan(by_key[key]):
            per_caption.append(by_key[key])
    return float(np.mean(per_caption)) if per_caption else float("nan")


def style_metrics(inputs: StyleInputs, style_groups: list[str], rng: np.random.Generator) -> dict:
    """Spread per style group and style-transfer scores (module docstring).

    Args:
        inputs: see `StyleInputs`.
        style_groups: from `declared_style_groups`.
        rng: numpy Generator for noise and draws.

    Returns:
        JSON-ready {"groups", "spread": {group: {...}}, "transfer": {...}}, or
        {"skipped": why} for a data set without style groups.
    """
    if not style_groups:
        return {"skipped": "the data set declares no style groups (dataset.json style_groups)"}
    if "attributes" in inputs.conditions:
        return {"skipped": "the model is conditioned on attributes, which fix the style groups"}
    captions = [_text(c) for c in inputs.real["captions"]]
    spread = {group: _spread(inputs, group, captions, rng) for group in style_groups}
    if inputs.transfer_fn is None:
        transfer = {"skipped": "the model has no style encoder"}
    else:
        transfer = _transfer(inputs, style_groups, captions, rng)
    if inputs.angle_reader is not None:  # last: the other figures keep their noise
        spread["rotation"] = _rotation_spread(inputs, rng)
    return {"groups": list(style_groups), "spread": spread, "transfer": transfer}


def _text(caption) -> str:
    return caption.decode("utf-8") if isinstance(caption, bytes) else str(caption)


def _spread(inputs: StyleInputs, group: str, captions: list[str], rng) -> dict:
    names = inputs.attribute_names
    indices = groups_lib.attribute_groups(names)[group]
    chosen = [i for i, c in enumerate(captions) if groups_lib.is_free(c, names, group)]
    chosen = chosen[:SPREAD_CAPTIONS]
    if not chosen:
        return {"skipped": f"no held-out caption leaves {group} free"}
    images = _seeded_images(inputs, chosen, rng)
    predicted = groups_lib.group_values(
        inputs.evaluator.predict(images)["attr_probs"], indices
    ).reshape(len(chosen), SPREAD_SEEDS)
    num_values = len(indices)
    fake = float(np.mean([groups_lib.entropy(p, num_values) for p in predicted]))
    pool_labels = inputs.reference["labels"]
    pools = [
        np.flatnonzero(pool_labels == label) if label >= 0 else np.arange(len(pool_labels))
        for label in inputs.real["labels"][chosen]
    ]
    pool_values = groups_lib.group_values(inputs.reference["attr_probs"], indices)
    real_entropy = _real_entropy(pools, pool_values, num_values, rng)
    return _spread_figures(len(chosen), num_values, fake, real_entropy)


def _real_entropy(pools, values, num_values: int, rng) -> float:
    """The mean entropy (nats) of `values` over SPREAD_SEEDS real images drawn with
    replacement from each caption's pool (indices into the reference pool): the spread
    measure on real images. Empty pools are skipped (a rotation pool holds only the
    images whose angle was read); 0.0 when all are empty. A caption's own class is
    never empty in `_spread`: the held-out images are part of the reference pool."""
    entropies = [
        groups_lib.entropy(values[rng.choice(pool, SPREAD_SEEDS, replace=True)], num_values)
        for pool in pools
        if len(pool)
    ]
    return float(np.mean(entropies)) if entropies else 0.0


def _seeded_images(inputs: StyleInputs, chosen, rng) -> np.ndarray:
    """G's images of the captions `chosen`, each drawn with SPREAD_SEEDS noise vectors,
    caption by caption: [len(chosen) * SPREAD_SEEDS, H, W, C]."""
    repeated = {k: np.repeat(v[chosen], SPREAD_SEEDS, axis=0) for k, v in inputs.conditions.items()}
    noise = rng.standard_normal((len(chosen) * SPREAD_SEEDS, inputs.z_dim)).astype("f4")
    return inputs.generate_all(repeated, noise)


def _spread_figures(captions: int, num_values: int, fake: float, real_entropy: float) -> dict:
    """The spread's figures from the mean entropies (nats) of G's and the real images' values."""
    return {
        "captions": captions,
        "seeds": SPREAD_SEEDS,
        "values": num_values,
        "entropy": fake,
        "max_entropy": math.log(num_values),
        "spread": fake / math.log(num_values),
        "real_entropy": real_entropy,
        "spread_vs_real": fake / real_entropy if real_entropy > 0 else None,
    }


def _rotation_spread(inputs: StyleInputs, rng) -> dict:
    """`_spread` for the rotation read off the images (rotation.py), over the captions
    whose shape has an angle; the reference pool holds the real images' angles."""
    from tf_t2i.evaluation.rotation import ANGLE_BINS

    reader, labels = inputs.angle_reader, inputs.real["labels"]
    chosen = np.flatnonzero(reader.readable(labels))[:SPREAD_CAPTIONS]
    if not len(chosen):
        return {"skipped": "no held-out caption names a shape with an angle"}
    images = _seeded_images(inputs, chosen, rng)
    bins = reader.bins(reader.read(images, np.repeat(labels[chosen], SPREAD_SEEDS)))
    bins = bins.reshape(len(chosen), SPREAD_SEEDS)
    # a caption counts with at least MIN_READ images whose shape shows its corners
    counted = [b[b >= 0] for b in bins if (b >= 0).sum() >= MIN_READ]
    unread = float(np.mean(bins < 0))
    if not counted:
        return {"captions": 0, "unread": unread, "spread": None, "spread_vs_real": None,
                "skipped": f"no caption has {MIN_READ} images whose angle can be read"}  # fmt: skip
    fake = float(np.mean([groups_lib.entropy(b, ANGLE_BINS) for b in counted]))
    pool_labels = inputs.reference["labels"]
    pool_bins = reader.bins(inputs.reference["angles"])
    pools = [np.flatnonzero((pool_labels == label) & (pool_bins >= 0)) for label in labels[chosen]]
    real_entropy = _real_entropy(pools, pool_bins, ANGLE_BINS, rng)
    return {"unread": unread, **_spread_figures(len(counted), ANGLE_BINS, fake, real_entropy)}


def _transfer(inputs: StyleInputs, style_groups: list[str], captions: list[str], rng) -> dict:
    names, real = inputs.attribute_names, inputs.real
    free = [
        i
        for i, c in enumerate(captions)
        if all(groups_lib.is_free(c, names, g) for g in style_groups)
    ]
    if len(free) < 2:
        return {"skipped": "fewer than 2 held-out captions leave the style groups free"}
    sources = np.arange(min(len(captions), TRANSFER_PAIRS))
    targets = np.array([rng.choice([j for j in free if j != i]) for i in sources])
    fakes = []
    for start in range(0, len(sources), TRANSFER_BATCH):
        s, t = sources[start : start + TRANSFER_BATCH], targets[start : start + TRANSFER_BATCH]
        batch = inputs.transfer_fn(
            real["images"][s],
            {k: v[t] for k, v in inputs.conditions.items()},
            [captions[j] for j in t],
        )
        fakes.append(np.asarray(batch, np.float32))
    ev_fake = inputs.evaluator.predict(np.concatenate(fakes))
    group_index = groups_lib.attribute_groups(names)

    def values(probs, group):
        return groups_lib.group_values(probs, group_index[group])

    truth = {g: values(real["attributes"], g) for g in group_index}
    keeps = {
        g: float(np.mean(values(ev_fake["attr_probs"], g) == truth[g][sources]))
        for g in style_groups
    }
    chance = {g: float(np.mean(truth[g][targets] == truth[g][sources])) for g in style_groups}
    if inputs.angle_reader is not None:
        keeps["rotation"], chance["rotation"] = _keeps_rotation(
            inputs, np.concatenate(fakes), sources, targets
        )
    result = {"pairs": len(sources), "keeps_style": keeps, "keeps_style_chance": chance}
    labels = real["labels"][targets]
    labelled = labels >= 0
    if ev_fake["probs"].shape[1] and labelled.any():
        for key, probs in (("", ev_fake["probs"]), ("_real", inputs.ev_real["probs"][targets])):
            right = np.argmax(probs, 1)[labelled] == labels[labelled]
            result["class_accuracy" + key] = float(np.mean(right))

    def captioned(attr_probs) -> float:
        """Fraction of images in which every group the caption names is t's."""
        hits = [
            all(
                values(attr_probs[k : k + 1], g)[0] == truth[g][j]
                for g in groups_lib.named_groups(captions[j], names)
            )
            for k, j in enumerate(targets)
        ]
        return float(np.mean(hits))

    result["captioned_attributes"] = captioned(ev_fake["attr_probs"])
    result["captioned_attributes_real"] = captioned(inputs.ev_real["attr_probs"][targets])
    return result


def _keeps_rotation(inputs: StyleInputs, fakes, sources, targets) -> tuple[float | None, ...]:
    """(fraction of G(S(x), t) in x's angle bin, the same for t's real image: chance)
    over the pairs where both x's and t's shapes have an angle."""
    reader, real = inputs.angle_reader, inputs.real
    labels = real["labels"]
    source_bins = reader.bins(reader.read(real["images"][sources], labels[sources]))
    target_bins = reader.bins(reader.read(real["images"][targets], labels[targets]))
    fake_bins = reader.bins(reader.read(fakes, labels[targets]))
    pairs = (source_bins >= 0) & (target_bins >= 0)
    if not pairs.any():
        return None, None
    return (
        float(np.mean(fake_bins[pairs] == source_bins[pairs])),
        float(np.mean(target_bins[pairs] == source_bins[pairs])),
    )


# === The style transfer of a run directory and of a SavedModel ===


def gan_transfer_fn(gan) -> TransferFn | None:
    """G(S(x), t) of an in-memory ConditionalGAN; None without a style encoder."""
    if getattr(gan, "style_encoder", None) is None:
        return None

    def transfer(images, conditions, captions):
        return np.asarray(gan.transfer_style(images, conditions))

    return transfer


def saved_model_transfer_fn(loaded) -> TransferFn | None:
    """The `style_transfer` endpoint of a loaded SavedModel (style images sent as
    PNG, captions as text); None when the export has none."""
    import tensorflow as tf

    signature = loaded.signatures.get("style_transfer")
    if signature is None:
        return None

    def transfer(images, conditions, captions):
        pixels = np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)
        png = tf.stack([tf.io.encode_png(p) for p in pixels])
        out = signature(image=png, text=tf.constant(captions, tf.string))["images"].numpy()
        return out.astype(np.float32) / 127.5 - 1.0  # uint8 [0, 255] -> [-1, 1]

    return transfer


# === What `t2i evaluate` prints ===


def summary_lines(results: dict) -> list[str]:
    """The style and zero-shot figures of a results dict as `t2i evaluate` prints them."""
    rows, style = [], results.get("style", {})
    for group, figures in style.get("spread", {}).items():
        if "skipped" in figures:
            rows.append(f"{group} spread: skipped, {figures['skipped']}")
            continue
        rows.append((f"{group} spread (of max)", figures["spread"]))
        rows.append((f"{group} spread vs real", figures["spread_vs_real"]))
        if "unread" in figures:  # rotation: images whose angle could not be read
            rows.append((f"{group} unread", figures["unread"]))
    transfer = style.get("transfer", {})
    if "skipped" in transfer:
        rows.append(f"style transfer: skipped, {transfer['skipped']}")
    for group, kept in transfer.get("keeps_style", {}).items():
        rows.append((f"transfer keeps {group}", kept))
        rows.append((f"  chance of keeping {group}", transfer["keeps_style_chance"][group]))
    for key in ("class_accuracy", "captioned_attributes"):
        if key in transfer:
            rows.append((f"transfer {key.replace('_', ' ')}", transfer[key]))
    zero_shot = results.get("zero_shot", {})
    if "warning" in zero_shot:
        rows.append(f"WARNING: zero-shot: {zero_shot['warning']}")
    if "skipped" in zero_shot:
        rows.append(f"zero-shot: skipped, {zero_shot['skipped']}")
    elif zero_shot:
        rows.append(
            (f"zero-shot accuracy ({zero_shot['num_samples']} images)", zero_shot["class_accuracy"])
        )
        rows.append(("zero-shot, real images", zero_shot["class_accuracy_real"]))
        rows.append(("seen classes, same measure", zero_shot["seen_class_accuracy"]))
    return [
        f"  {row}" if isinstance(row, str) else f"  {row[0]:<30} {_number(row[1])}" for row in rows
    ]


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
