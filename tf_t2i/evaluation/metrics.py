"""Image-quality and condition-fidelity metrics on evaluator outputs (pure NumPy).

Every function here works on arrays the evaluator already produced:

    features   float [N, F]   penultimate activations (evaluator or Inception)
    probs      float [N, K]   class posterior p(y | x), rows sum to 1
    attr_probs float [N, A]   per-attribute probability in [0, 1]

metric_registry.py registers them by name for the protocol of `t2i evaluate`.
"""

from __future__ import annotations

import numpy as np
import scipy.spatial.distance

from tf_t2i.errors import T2IError

# Generated samples of one caption whose mean pairwise feature distance falls
# below this fraction of the real images' within-class distance raise the
# mode-collapse alarm (real samples of one class differ in pose, size, colour
# shade; a healthy generator varies at least a fifth as much per caption).
MODE_COLLAPSE_RATIO = 0.2


# === Fréchet distance (FID) ===


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a feature set, in float64.

    Args:
        features: float [N, F], N >= 2.

    Returns:
        (mu [F], sigma [F, F]) with the unbiased (N - 1) covariance.
    """
    features = _as_matrix(features, "features")
    if features.shape[0] < 2:
        raise T2IError(f"features: need at least 2 samples for a covariance, got {len(features)}")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(
        features.shape[1], features.shape[1]
    )


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition.

    Negative eigenvalues (round-off on rank-deficient covariances) are clipped
    to zero, which keeps the result real where `scipy.linalg.sqrtm` would
    return complex noise.
    """
    eigvals, eigvecs = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))) @ eigvecs.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance between two Gaussians N(mu1, sigma1) and N(mu2, sigma2).

        d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))

    tr((S1 S2)^(1/2)) equals tr((A S2 A)^(1/2)) with A = S1^(1/2): the second
    matrix is symmetric PSD, so its eigenvalues are real and non-negative and
    the trace is the sum of their square roots. This avoids the complex
    round-off of a general matrix square root on near-singular covariances
    (few samples, many features).

    Args:
        mu1, mu2: float [F] means.
        sigma1, sigma2: float [F, F] covariances.

    Returns:
        The squared Fréchet distance (the number called FID), >= 0.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise T2IError(
            f"frechet_distance: shapes differ (mu {mu1.shape} vs {mu2.shape}, "
            f"sigma {sigma1.shape} vs {sigma2.shape})"
        )
    root1 = _sqrtm_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    eigvals = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eigvals, 0.0, None))))
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets (each float [N, F]); 0 for identical sets."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


# === Kernel Inception distance (KID) ===


def _polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int, coef0: float) -> np.ndarray:
    """k(x, y) = (x.y / F + coef0) ^ degree, the KID kernel."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased estimate of the squared MMD between samples x [m, F] and y [n, F].

    The diagonal terms k(x_i, x_i) are left out of the within-set means, so the
    estimate is centred on the true MMD^2 (and may be slightly negative when
    the two distributions are equal).
    """
    m, n = len(x), len(y)
    k_xx = _polynomial_kernel(x, x, degree, coef0)
    k_yy = _polynomial_kernel(y, y, degree, coef0)
    k_xy = _polynomial_kernel(x, y, degree, coef0)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kid(
    features_a: np.ndarray,
    features_b: np.ndarray,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    degree: int = 3,
    coef0: float = 1.0,
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased polynomial-kernel MMD^2 over random subsets.

    Args:
        features_a, features_b: float [N_a, F], [N_b, F].
        num_subsets: how many subset pairs to average.
        subset_size: samples per subset (capped at the smaller set's size).
        seed: seeds the subset draws, so the figure is reproducible.
        degree, coef0: the polynomial kernel (x.y / F + coef0) ^ degree.

    Returns:
        (mean, std) of the per-subset MMD^2 estimates.
    """
    a = _as_matrix(features_a, "features_a").astype(np.float64)
    b = _as_matrix(features_b, "features_b").astype(np.float64)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise T2IError(f"kid: need at least 2 samples per set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    estimates = [
        mmd2_unbiased(
            a[rng.choice(len(a), size, replace=False)],
            b[rng.choice(len(b), size, replace=False)],
            degree,
            coef0,
        )
        for _ in range(num_subsets)
    ]
    return float(np.mean(estimates)), float(np.std(estimates))


# === Posterior-based figures ===


def inception_score(probs: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """Inception-Score-style figure exp(E_x KL(p(y|x) || p(y))) with the evaluator's posterior.

    High when each image is confidently one class and the classes are spread
    evenly; it ranges from 1 to the number of classes.

    Args:
        probs: float [N, K] class posteriors (rows sum to 1).
        num_splits: the samples are scored in this many splits (capped so that
            every split has at least 2 samples); mean and std are over splits.

    Returns:
        (mean, std) over the splits.
    """
    probs = np.clip(_as_matrix(probs, "probs").astype(np.float64), 1e-12, 1.0)
    splits = max(1, min(num_splits, len(probs) // 2))
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part) - np.log(marginal)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def class_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose most likely class is the caption's class.

    Args:
        probs: float [N, K] posteriors.
        labels: int [N] target classes; -1 (no label) rows are ignored.

    Returns:
        Accuracy in [0, 1], or NaN when no row has a label.
    """
    probs = _as_matrix(probs, "probs")
    labels = np.asarray(labels).reshape(-1)
    known = labels >= 0
    if not known.any():
        return float("nan")
    return float(np.mean(np.argmax(probs[known], axis=1) == labels[known]))


def attribute_accuracy(
    attr_probs: np.ndarray, attributes: np.ndarray, threshold: float = 0.5
) -> tuple[float, float]:
    """How often the evaluator reads the caption's attributes back from the image.

    Args:
        attr_probs: float [N, A] predicted attribute probabilities.
        attributes: float [N, A] targets; values > 0.5 count as present.
        threshold: probability above which an attribute is predicted present.

    Returns:
        (per-attribute accuracy over all N*A entries, fraction of samples with
        every attribute right). NaN for both when A == 0.
    """
    attr_probs = np.asarray(attr_probs, np.float64)
    attributes = np.asarray(attributes, np.float64)
    if attr_probs.shape != attributes.shape:
        raise T2IError(f"attribute_accuracy: shapes {attr_probs.shape} vs {attributes.shape}")
    if attributes.ndim != 2 or attributes.shape[1] == 0 or attributes.shape[0] == 0:
        return float("nan"), float("nan")
    correct = (attr_probs > threshold) == (attributes > 0.5)
    return float(correct.mean()), float(correct.all(axis=1).mean())


# === Diversity ===


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over all unordered pairs of rows of float [M, F]; 0 if M < 2."""
    features = _as_matrix(features, "features").astype(np.float64)
    m = len(features)
    if m < 2:
        return 0.0
    # pdist takes differences directly: exact zeros for identical rows, unlike |a|^2+|b|^2-2ab
    return float(np.mean(scipy.spatial.distance.pdist(features)))


def within_group_diversity(features: np.ndarray, groups: np.ndarray) -> float:
    """Mean over groups of the mean pairwise feature distance inside each group.

    Args:
        features: float [N, F].
        groups: int [N] group ids (a caption index for generated samples, a
            class for real images); groups with fewer than 2 members and ids
            < 0 are skipped.

    Returns:
        The average within-group distance, or NaN when no group has 2 members.
    """
    features = _as_matrix(features, "features")
    groups = np.asarray(groups).reshape(-1)
    values = [
        mean_pairwise_distance(features[groups == g])
        for g in np.unique(groups)
        if g >= 0 and np.sum(groups == g) >= 2
    ]
    return float(np.mean(values)) if values else float("nan")


def group_accuracy(attr_probs: np.ndarray, attributes: np.ndarray, attribute_names) -> dict:
    """Accuracy of each one-hot attribute group ("color=red", "color=blue", ... -> "color").

    A group's prediction is the argmax of its entries; rows whose group is all zero
    (not annotated) are left out. Groups of one entry are not reported.

    Returns:
        {group: accuracy in [0, 1]}.
    """
    from tf_t2i.evaluation.groups import valued_groups

    result = {}
    for group, indices in valued_groups(attribute_names).items():
        truth = attributes[:, indices]
        known = truth.max(axis=1) > 0.5
        if not known.any():
            continue
        hits = attr_probs[known][:, indices].argmax(1) == truth[known].argmax(1)
        result[group] = float(hits.mean())
    return result


def _as_matrix(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise T2IError(f"{name}: expected a [N, F] matrix, got shape {array.shape}")
    return array
