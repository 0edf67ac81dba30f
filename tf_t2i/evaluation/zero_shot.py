"""Zero-shot figures of `t2i evaluate`: accuracy on the classes the train split left out.

A data set converted with held-out classes (shapes `-o holdout=8`) records
them in dataset.json. The evaluator never saw those classes either (it trains
on the train split), so its class head cannot name them; it did learn each
part of their names (colour, kind) from other classes. A held-out image counts
as right when the evaluator's attribute head reads every group the class name
is made of ("red circle": color and shape) as the caption's. The same figure
on the real held-out images is the ceiling, and on the seen classes the
comparison.
"""

from __future__ import annotations

import numpy as np

from tf_t2i.evaluation import groups as attribute_groups_lib


def zero_shot_metrics(manifest, real: dict, ev_real: dict, ev_fake: dict) -> dict:
    """Class accuracy, through the attribute head, on held-out and on seen classes.

    Args:
        manifest: the data set's Manifest (held_out_classes, class and attribute names).
        real: the held-out examples: labels int64 [N], attributes float32 [N, A].
        ev_real, ev_fake: the evaluator's outputs on the real images and on the
            images generated from their captions (row i from caption i).

    Returns:
        JSON-ready {"classes", "groups", "num_samples", "class_accuracy",
        "class_accuracy_real", "seen_class_accuracy", "group_accuracy": {group: x}}.
    """
    names = manifest.attribute_names
    held = list(manifest.held_out_classes)
    groups = sorted(
        {g for c in held for g in attribute_groups_lib.class_groups(c, names)},
        key=list(attribute_groups_lib.attribute_groups(names)).index,
    )
    result = {"classes": held, "groups": groups}
    held_ids = [i for i, c in enumerate(manifest.class_names) if c in held]
    labels = np.asarray(real["labels"])
    is_held = np.isin(labels, held_ids)
    result["num_samples"] = int(is_held.sum())
    if not groups:
        return {**result, "skipped": "the class names name no attribute group"}
    if not is_held.any():
        return {**result, "skipped": "the split has no image of a held-out class"}
    index = attribute_groups_lib.attribute_groups(names)

    def right(attr_probs, group):
        predicted = attribute_groups_lib.group_values(attr_probs, index[group])
        return predicted == attribute_groups_lib.group_values(real["attributes"], index[group])

    def all_right(attr_probs):
        return np.logical_and.reduce([right(attr_probs, g) for g in groups])

    fake_right, real_right = all_right(ev_fake["attr_probs"]), all_right(ev_real["attr_probs"])
    seen = ~is_held & (labels >= 0)
    result.update(
        class_accuracy=float(fake_right[is_held].mean()),
        class_accuracy_real=float(real_right[is_held].mean()),
        seen_class_accuracy=float(fake_right[seen].mean()) if seen.any() else None,
        group_accuracy={g: float(right(ev_fake["attr_probs"], g)[is_held].mean()) for g in groups},
    )
    return result
