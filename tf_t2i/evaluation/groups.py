"""Attribute groups: the one-hot blocks of a data set's attribute vector, and which of
them a caption names.

Attribute names are "group=value" ("color=red", "background=white"). A group is
*named* by a caption when one of its value names appears in the caption as whole
words ("a red circle on a white background" names color and background), and
*free* otherwise: the caption leaves it to the generator's noise, and the style
metrics (style.py) measure how G spreads it. The groups a source draws
independently of the caption (shapes: background) are its *style groups*,
recorded in dataset.json.
"""

from __future__ import annotations

import re

import numpy as np


def attribute_groups(attribute_names) -> dict[str, list[int]]:
    """group -> indices of its entries in the attribute vector, in order of first appearance.

    Names without "=" are their own one-entry group.
    """
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(attribute_names):
        groups.setdefault(name.partition("=")[0], []).append(i)
    return groups


def valued_groups(attribute_names) -> dict[str, list[int]]:
    """The groups of `attribute_groups` that choose among values: two entries or more."""
    return {g: i for g, i in attribute_groups(attribute_names).items() if len(i) > 1}


def value_names(attribute_names, group: str) -> list[str]:
    """The value names of one group ("background" -> ["black", "gray", "white"])."""
    return [name.partition("=")[2] for name in attribute_names if name.partition("=")[0] == group]


def _mentions(text: str, value: str) -> bool:
    return bool(value) and re.search(rf"\b{re.escape(value)}\b", text, re.IGNORECASE) is not None


def named_groups(caption: str, attribute_names) -> list[str]:
    """The groups of which the caption names at least one value."""
    return [
        group
        for group in attribute_groups(attribute_names)
        if any(_mentions(caption, v) for v in value_names(attribute_names, group))
    ]


def is_free(caption: str, attribute_names, group: str) -> bool:
    """True when the caption names none of the group's values."""
    return not any(_mentions(caption, v) for v in value_names(attribute_names, group))


def group_values(attribute_values: np.ndarray, indices: list[int]) -> np.ndarray:
    """The chosen value of a group per row: argmax over its entries.

    Args:
        attribute_values: float [N, A], one-hot truths or the evaluator's probabilities.
        indices: the group's entries (from `attribute_groups`).

    Returns:
        int64 [N], an index into the group's values.
    """
    return np.argmax(np.asarray(attribute_values)[:, indices], axis=1).astype(np.int64)


def class_groups(class_name: str, attribute_names) -> list[str]:
    """The groups a class name is made of ("red circle" -> ["color", "shape"])."""
    return named_groups(class_name, attribute_names)


def entropy(values: np.ndarray, num_values: int) -> float:
    """Entropy (nats) of the empirical distribution of int values in [0, num_values)."""
    counts = np.bincount(np.asarray(values, np.int64), minlength=num_values).astype(np.float64)
    if counts.sum() == 0:
        return 0.0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() + 0.0)
