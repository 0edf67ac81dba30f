import numpy as np
import pytest
import scipy.linalg

from tf_t2i.errors import T2IError
from tf_t2i.evaluation import metric_registry, metrics


def _gaussian(n, dim, mean=0.0, scale=1.0, seed=0):
    return np.random.default_rng(seed).normal(mean, scale, size=(n, dim))


def test_fid_of_identical_sets_is_zero():
    x = _gaussian(500, 8)
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_agrees_with_scipy_sqrtm_on_full_covariances():
    a, b = _gaussian(200, 6, seed=1), _gaussian(200, 6, mean=0.3, scale=2.0, seed=2)
    mu1, s1 = metrics.gaussian_stats(a)
    mu2, s2 = metrics.gaussian_stats(b)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-6)


def test_fid_of_shifted_gaussians_approaches_squared_shift():
    shift = np.array([3.0, 0.0, -4.0, 0.0])  # |shift|^2 = 25, same covariance
    a = _gaussian(20000, 4, seed=3)
    b = _gaussian(20000, 4, seed=4) + shift
    assert metrics.fid(a, b) == pytest.approx(25.0, rel=0.02)


def test_fid_stays_real_and_finite_on_rank_deficient_covariances():
    # 10 samples in 64 dimensions: both covariances are singular
    a, b = _gaussian(10, 64, seed=5), _gaussian(10, 64, seed=6)
    value = metrics.fid(a, b)
    assert np.isfinite(value) and value > 0


def test_kid_near_zero_for_same_distribution_and_positive_for_different():
    a, b = _gaussian(400, 16, seed=7), _gaussian(400, 16, seed=8)
    far = _gaussian(400, 16, mean=1.0, seed=9)
    same_mean, same_std = metrics.kid(a, b, num_subsets=20, subset_size=200)
    diff_mean, _ = metrics.kid(a, far, num_subsets=20, subset_size=200)
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert diff_mean > 10 * max(abs(same_mean), same_std)


def test_kid_is_reproducible_with_a_seed():
    a, b = _gaussian(300, 4, seed=10), _gaussian(300, 4, seed=11)
    assert metrics.kid(a, b, num_subsets=5, subset_size=50, seed=3) == metrics.kid(
        a, b, num_subsets=5, subset_size=50, seed=3
    )


def test_mmd2_unbiased_on_a_hand_computed_case():
    x, y = np.array([[1.0], [-1.0]]), np.array([[2.0], [0.0]])
    # k(u, v) = (u v + 1)^3 for F = 1
    within_x = 2 * (1 * -1 + 1) ** 3 / 2  # 0
    within_y = 2 * (2 * 0 + 1) ** 3 / 2  # 1
    cross = ((1 * 2 + 1) ** 3 + (1 * 0 + 1) ** 3 + (-1 * 2 + 1) ** 3 + (-1 * 0 + 1) ** 3) / 4
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(within_x + within_y - 2 * cross)


def test_inception_score_bounds():
    confident_spread = np.eye(4)[np.arange(40) % 4]
    uniform = np.full((40, 4), 0.25)
    collapsed = np.eye(4)[np.zeros(40, int)]
    assert metrics.inception_score(confident_spread)[0] == pytest.approx(4.0, rel=1e-6)
    assert metrics.inception_score(uniform)[0] == pytest.approx(1.0)
    assert metrics.inception_score(collapsed)[0] == pytest.approx(1.0)


def test_class_accuracy_on_hand_made_posteriors_ignores_unlabelled_rows():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.0, 0.0, 1.0]])
    labels = np.array([0, 1, 2, -1])
    assert metrics.class_accuracy(probs, labels) == pytest.approx(2 / 3)
    assert np.isnan(metrics.class_accuracy(probs, np.full(4, -1)))


def test_attribute_accuracy_per_entry_and_exact_match():
    probs = np.array([[0.9, 0.2, 0.6], [0.1, 0.8, 0.3]])
    targets = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    per_entry, exact = metrics.attribute_accuracy(probs, targets)
    assert per_entry == pytest.approx(5 / 6)
    assert exact == pytest.approx(0.5)
    assert all(np.isnan(v) for v in metrics.attribute_accuracy(np.zeros((2, 0)), np.zeros((2, 0))))


def test_group_accuracy_takes_the_argmax_of_each_one_hot_group():
    names = ["color=red", "color=blue", "color=green", "background=black", "background=white", "x"]
    targets = np.array(
        [[1, 0, 0, 1, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 1], [0, 0, 0, 1, 0, 0]], float
    )  # the last row has no colour annotated
    probs = np.array(
        [
            [0.4, 0.3, 0.3, 0.9, 0.1, 0.0],  # red right, black right
            [0.6, 0.2, 0.2, 0.2, 0.8, 0.0],  # blue wrong, white right
            [0.1, 0.1, 0.2, 0.7, 0.3, 0.0],  # green right, white wrong
            [0.9, 0.0, 0.0, 0.2, 0.1, 0.0],
        ]
    )
    accuracy = metrics.group_accuracy(probs, targets, names)
    assert accuracy == {"color": pytest.approx(2 / 3), "background": pytest.approx(3 / 4)}


def test_diversity_is_zero_for_identical_samples_and_positive_otherwise():
    same = np.tile(np.array([[1.0, 2.0, 3.0]]), (8, 1))
    groups = np.repeat(np.arange(2), 4)
    assert metrics.within_group_diversity(same, groups) == 0.0
    varied = _gaussian(8, 3, seed=12)
    assert metrics.within_group_diversity(varied, groups) > 0.5
    # two points at distance 5, a singleton group is skipped
    pair = np.array([[0.0, 0.0], [3.0, 4.0], [9.0, 9.0]])
    assert metrics.within_group_diversity(pair, np.array([0, 0, 1])) == pytest.approx(5.0)


def test_registry_flags_mode_collapse_and_reports_every_default_metric():
    rng = np.random.default_rng(13)
    real = rng.normal(size=(60, 5))
    labels = np.arange(60) % 3
    probs = np.eye(3)[labels]
    collapsed = np.repeat(rng.normal(size=(6, 5)), 5, axis=0)  # 6 captions x 5 identical samples
    inputs = metric_registry.MetricInputs(
        real_features=real[:30],
        real_reference=real[30:],
        fake_features=real[:30] + 2.0,
        real_probs=probs[:30],
        fake_probs=probs[:30],
        fake_attr_probs=np.zeros((30, 0)),
        labels=labels[:30],
        attributes=np.zeros((30, 0)),
        diversity_features=collapsed,
        diversity_groups=np.repeat(np.arange(6), 5),
        real_labels=labels,
    )
    results = metric_registry.compute_metrics(metric_registry.DEFAULT_METRICS, inputs)
    assert results["mode_collapse"] is True and results["diversity"] == 0.0
    assert results["fid"] > results["fid_real_baseline"] > 0
    assert results["kid"] > results["kid_real_baseline"]
    assert results["class_accuracy"] == 1.0 and results["inception_score"] == pytest.approx(3.0)
    with pytest.raises(T2IError, match="unknown metric"):
        metric_registry.compute_metrics(["nope"], inputs)


def test_diversity_scale_falls_back_to_the_whole_real_set_without_classes():
    real = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 8.0], [6.0, 8.0]])
    generated = np.array([[0.0, 0.0], [0.6, 0.8], [5.0, 5.0], [5.0, 5.0]])
    inputs = metric_registry.MetricInputs(
        real_features=real[:2],
        real_reference=real[2:],
        real_labels=np.full(4, -1),
        diversity_features=generated,
        diversity_groups=np.array([0, 0, 1, 1]),
    )
    results = metric_registry.compute_metrics(["diversity"], inputs)
    assert results["diversity_real_scope"] == "all"
    assert results["diversity"] == pytest.approx(0.5)  # (1.0 + 0.0) / 2
    assert results["diversity_real"] == pytest.approx(metrics.mean_pairwise_distance(real))
    assert results["mode_collapse"] is True
