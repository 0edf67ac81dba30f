"""Zero-shot figures of `t2i evaluate`: accuracy on the classes the train split left out.

A data set converted with held-out classes (shapes `-o holdout=8`) records
them in dataset.json, and puts their train-range images in a "holdout" split
that the GAN never reads and `t2i evaluator train` learns from: an evaluator
trained on the train split alone cannot name a class it never saw (measured:
it read 8% of real held-out shapes' kinds right, and named none of their
classes). `class_accuracy` is the evaluator's class accuracy on the images
generated from held-out classes' captions, beside the same on their real
images (the ceiling) and on the seen classes; `group_accuracy` scores each
part of the class name (colour, shape) with the attribute head.
"""

from __future__ import annotations

import numpy as np

from tf_t2i.evaluation import groups as groups_lib


def zero_shot_metrics(
    manifest, real: dict, ev_real: dict, ev_fake: dict, evaluator_info=None
) -> dict:
    """Class accuracy on held-out and on seen classes, and per-group accuracy on held-out ones.

    Args:
        manifest: the data set's Manifest (held_out_classes, class and attribute names).
        real: the held-out examples: labels int64 [N], attributes float32 [N, A].
        ev_real, ev_fake: the evaluator's outputs on the real images and on the
            images generated from their captions (row i from caption i).
        evaluator_info: the evaluator's metadata; its "train_splits" say whether
            it learnt the held-out classes (a warning is added when not).

    Returns:
        JSON-ready {"classes", "groups", "num_samples", "class_accuracy",
        "class_accuracy_real", "seen_class_accuracy", "group_accuracy": {group: x}}.
    """
    names = manifest.attribute_names
    held = list(manifest.held_out_classes)
    groups = sorted(
        {g for c in held for g in groups_lib.class_groups(c, names)},
        key=list(groups_lib.attribute_groups(names)).index,
    )
    result = {"classes": held, "groups": groups}
    held_ids = [i for i, c in enumerate(manifest.class_names) if c in held]
    labels = np.asarray(real["labels"])
    is_held = np.isin(labels, held_ids)
    result["num_samples"] = int(is_held.sum())
    if "holdout" in manifest.splits and "holdout" not in (evaluator_info or {}).get(
        "train_splits", []
    ):
        result["warning"] = (
            "the evaluator did not learn the held-out classes (its train_splits lack 'holdout'); "
            "train it again with `t2i evaluator train`"
        )
    if not is_held.any():
        return {**result, "skipped": "the split has no image of a held-out class"}
    seen = ~is_held & (labels >= 0)

    def accuracy(probs, rows):
        return (
            float(np.mean(np.argmax(probs[rows], axis=1) == labels[rows])) if rows.any() else None
        )

    index = groups_lib.attribute_groups(names)

    def group_right(attr_probs, group):
        predicted = groups_lib.group_values(attr_probs, index[group])
        return predicted == groups_lib.group_values(real["attributes"], index[group])

    result.update(
        class_accuracy=accuracy(ev_fake["probs"], is_held),
        class_accuracy_real=accuracy(ev_real["probs"], is_held),
        seen_class_accuracy=accuracy(ev_fake["probs"], seen),
        group_accuracy={
            g: float(group_right(ev_fake["attr_probs"], g)[is_held].mean()) for g in groups
        },
    )
    return result
