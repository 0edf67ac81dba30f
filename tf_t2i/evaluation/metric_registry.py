"""Metrics by name: `compute_metrics(names, inputs)` for the protocol of `t2i evaluate`.

Each registered metric reads one `MetricInputs` bundle (the evaluator's
outputs on real and generated images) and returns a flat dict of figures,
ready for JSON; the numbers themselves come from the pure functions of
metrics.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from tf_t2i.errors import T2IError
from tf_t2i.evaluation.metrics import (
    MODE_COLLAPSE_RATIO,
    attribute_accuracy,
    class_accuracy,
    fid,
    group_accuracy,
    inception_score,
    kid,
    mean_pairwise_distance,
    within_group_diversity,
)


@dataclasses.dataclass
class MetricInputs:
    """Everything the registered metrics read; fields a metric needs must be set.

    Attributes:
        real_features: float [N, F] evaluator features of real held-out images.
        fake_features: float [N, F] features of images generated from the same captions.
        real_reference: float [M, F] real features the FID/KID compare against
            (the second half of the real split); real_features is then the first half.
        fake_probs / real_probs: float [N, K] class posteriors (K may be 0).
        fake_attr_probs / real_attr_probs: float [N, A] attribute probabilities.
        labels: int [N] the captions' classes (-1 if none).
        attributes: float [N, A] the captions' attributes.
        diversity_features: float [G * S, F] features of S samples for each of G captions.
        diversity_groups: int [G * S] which caption each diversity sample belongs to.
        real_labels: int [N + M] classes of real_features then real_reference
            (for the real diversity scale).
        diversity_caption_real: the real images' diversity within what a caption
            allows (style.caption_diversity_scale); None or NaN: not known.
        seed: seeds the random subsets of KID.
        attribute_names: the data set's attribute names ("group=value"), for the
            per-group accuracy of one-hot groups (colour, kind, background, ...).
    """

    real_features: np.ndarray | None = None
    fake_features: np.ndarray | None = None
    real_reference: np.ndarray | None = None
    fake_probs: np.ndarray | None = None
    real_probs: np.ndarray | None = None
    fake_attr_probs: np.ndarray | None = None
    real_attr_probs: np.ndarray | None = None
    labels: np.ndarray | None = None
    attributes: np.ndarray | None = None
    diversity_features: np.ndarray | None = None
    diversity_groups: np.ndarray | None = None
    real_labels: np.ndarray | None = None
    diversity_caption_real: float | None = None
    seed: int = 0
    attribute_names: list[str] | None = None


MetricFn = Callable[[MetricInputs], dict]
METRICS: dict[str, MetricFn] = {}


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Registers `fn(inputs: MetricInputs) -> dict of figures` under `name`."""

    def decorate(fn: MetricFn) -> MetricFn:
        METRICS[name] = fn
        return fn

    return decorate


def compute_metrics(names: Sequence[str], inputs: MetricInputs) -> dict:
    """Runs the named metrics on one bundle and merges their figures into one dict.

    Raises:
        T2IError: for an unknown metric name.
    """
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise T2IError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    results: dict = {}
    for name in names:
        results.update(METRICS[name](inputs))
    return results


@register_metric("fid")
def _fid_metric(inputs: MetricInputs) -> dict:
    """FID of generated vs real, and of real vs real (two halves) for scale."""
    generated = fid(inputs.fake_features, inputs.real_reference)
    baseline = fid(inputs.real_features, inputs.real_reference)
    return {
        "fid": generated,
        "fid_real_baseline": baseline,
        "fid_ratio": generated / baseline if baseline > 0 else float("inf"),
    }


@register_metric("kid")
def _kid_metric(inputs: MetricInputs) -> dict:
    """KID mean/std of generated vs real, and the real-vs-real baseline."""
    # subsets of half the smaller set (at most 1000), so that they differ and the std means something
    size = min(1000, max(2, min(len(inputs.fake_features), len(inputs.real_reference)) // 2))
    mean, std = kid(inputs.fake_features, inputs.real_reference, subset_size=size, seed=inputs.seed)
    base_mean, base_std = kid(
        inputs.real_features, inputs.real_reference, subset_size=size, seed=inputs.seed
    )
    return {
        "kid": mean,
        "kid_std": std,
        "kid_real_baseline": base_mean,
        "kid_real_baseline_std": base_std,
    }


@register_metric("inception_score")
def _is_metric(inputs: MetricInputs) -> dict:
    """The IS-style figure on generated and on real images (the latter is the ceiling)."""
    if inputs.fake_probs is None or inputs.fake_probs.shape[1] == 0:
        return {}
    mean, std = inception_score(inputs.fake_probs)
    real_mean, _ = inception_score(inputs.real_probs)
    return {"inception_score": mean, "inception_score_std": std, "inception_score_real": real_mean}


@register_metric("conditional_accuracy")
def _conditional_accuracy_metric(inputs: MetricInputs) -> dict:
    """Does the evaluator read the caption's class / attributes in the generated image?"""
    results = {}
    if inputs.fake_probs is not None and inputs.fake_probs.shape[1] > 0:
        results["class_accuracy"] = class_accuracy(inputs.fake_probs, inputs.labels)
        results["class_accuracy_real"] = class_accuracy(inputs.real_probs, inputs.labels)
    if inputs.fake_attr_probs is not None and inputs.fake_attr_probs.shape[1] > 0:
        per_attr, exact = attribute_accuracy(inputs.fake_attr_probs, inputs.attributes)
        real_attr, real_exact = attribute_accuracy(inputs.real_attr_probs, inputs.attributes)
        results.update(
            attribute_accuracy=per_attr,
            attribute_exact_match=exact,
            attribute_accuracy_real=real_attr,
            attribute_exact_match_real=real_exact,
        )
        if inputs.attribute_names:
            results["group_accuracy"] = group_accuracy(
                inputs.fake_attr_probs, inputs.attributes, inputs.attribute_names
            )
            results["group_accuracy_real"] = group_accuracy(
                inputs.real_attr_probs, inputs.attributes, inputs.attribute_names
            )
    return results


@register_metric("diversity")
def _diversity_metric(inputs: MetricInputs) -> dict:
    """Within-caption diversity, its real scales, and the mode-collapse alarm.

    `diversity_ratio`'s scale is the real images' mean within-class distance;
    with no class holding two real images (no labels, or few samples) it is
    the spread of the whole real set. `diversity_caption_ratio`'s is the real
    images' diversity within what a caption allows (the sizes and positions
    a shapes caption names are fixed), which a faithful generator can reach.
    """
    generated = within_group_diversity(inputs.diversity_features, inputs.diversity_groups)
    real = np.concatenate([inputs.real_features, inputs.real_reference])
    scope = "class"
    reference = float("nan")
    if inputs.real_labels is not None:
        reference = within_group_diversity(real, inputs.real_labels)
    if np.isnan(reference):
        scope = "all"
        reference = mean_pairwise_distance(real)
    ratio = generated / reference if reference > 0 else float("nan")
    caption_scale = inputs.diversity_caption_real
    if caption_scale is None or not caption_scale > 0:
        caption_scale = float("nan")
    return {
        "diversity": generated,
        "diversity_real": reference,
        "diversity_real_scope": scope,
        "diversity_ratio": ratio,
        # against real images with the caption's content: what a faithful generator can vary
        "diversity_caption_real": caption_scale,
        "diversity_caption_ratio": generated / caption_scale,
        "mode_collapse": bool(ratio < MODE_COLLAPSE_RATIO),
    }


DEFAULT_METRICS = ("fid", "kid", "inception_score", "conditional_accuracy", "diversity")
