"""Recognition metrics against hand-computed values and direct (loop) reference computations."""
from __future__ import annotations

import numpy as np
import pytest

from actionlab.evaluation import (
    confusion_matrix,
    get_weighted_score,
    mean_average_precision,
    mean_class_accuracy,
    mmit_mean_average_precision,
    softmax,
    top_k_accuracy,
    top_k_classes,
)

SCORES = np.array([
    [0.1, 0.6, 0.3, 0.0],   # label 1: top-1 hit
    [0.5, 0.2, 0.25, 0.05],  # label 2: second -> top-2 hit
    [0.2, 0.3, 0.1, 0.4],   # label 0: third -> top-3 hit
    [0.7, 0.1, 0.1, 0.1],   # label 0: top-1 hit
    [0.1, 0.2, 0.3, 0.4],   # label 0: last -> miss for k < 4
])
LABELS = [1, 2, 0, 0, 0]


def _ap_reference(scores: np.ndarray, positive: np.ndarray) -> float:
    """AP by its definition: walk the distinct score thresholds from the highest down and
    add (recall gained) x (precision at that threshold)."""
    if not positive.any():
        return float('nan')
    ap, recall_before = 0., 0.
    for threshold in sorted(set(scores.tolist()), reverse=True):
        selected = scores >= threshold
        true_pos = (selected & positive).sum()
        recall = true_pos / positive.sum()
        ap += (recall - recall_before) * true_pos / selected.sum()
        recall_before = recall
    return ap


def test_top_k_accuracy_hand_computed():
    assert top_k_accuracy(SCORES, LABELS, (1, 2, 3, 4)) == pytest.approx([0.4, 0.6, 0.8, 1.0])
    assert top_k_accuracy(list(SCORES), np.array(LABELS), topk=1) == pytest.approx([0.4])
    assert all(type(v) is float for v in top_k_accuracy(SCORES, LABELS, (1, 5)))


def test_top_k_accuracy_random_against_loop_and_ties():
    rng = np.random.default_rng(0)
    scores = rng.random((200, 12))
    labels = rng.integers(0, 12, 200)
    expected = [np.mean([label in np.argsort(-row)[:k] for row, label in zip(scores, labels)])
                for k in (1, 3, 5)]
    assert top_k_accuracy(scores, labels, [1, 3, 5]) == pytest.approx(expected)
    # ties are ranked as MMAction2's ascending argsort reversed: the later class first
    tied = np.array([[0.5, 0.5, 0.0]])
    assert top_k_accuracy(tied, [1], (1,)) == [1.0]
    assert top_k_accuracy(tied, [0], (1, 2)) == [0.0, 1.0]


def test_mean_class_accuracy_hand_computed():
    # predictions 1, 0, 3, 0, 3. class 0: 1 of 3; class 1: 1 of 1; class 2: 0 of 1; class 3
    # is only predicted (no samples) and counts 0, as in MMAction2: (1/3 + 1 + 0 + 0) / 4
    assert mean_class_accuracy(SCORES, LABELS) == pytest.approx((1 / 3 + 1) / 4)
    assert mean_class_accuracy(np.eye(3), [0, 1, 2]) == 1.0


def test_confusion_matrix_rows_are_true_labels():
    cf = confusion_matrix([1, 0, 3, 0, 3], LABELS)
    assert cf.tolist() == [[1, 0, 0, 2], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    # only the labels that occur get a row and column: 5 and 9 -> indices 0 and 1
    assert confusion_matrix([9, 9], [5, 9]).tolist() == [[0, 1], [0, 1]]
    assert confusion_matrix([], []).shape == (0, 0)


def test_confusion_matrix_normalize():
    pred, real = [1, 0, 3, 0, 3], LABELS
    np.testing.assert_allclose(confusion_matrix(pred, real, 'true'),
                               [[1 / 3, 0, 0, 2 / 3], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(confusion_matrix(pred, real, 'pred'),  # columns: 2, 1, 0 (none), 2
                               [[.5, 0, 0, 1], [0, 1, 0, 0], [.5, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(confusion_matrix(pred, real, 'all'), confusion_matrix(pred, real) / 5)
    with pytest.raises(ValueError, match='normalize must be one of'):
        confusion_matrix(pred, real, 'rows')
    with pytest.raises(TypeError, match='y_pred must be a 1-D list or array of integer labels'):
        confusion_matrix([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match='y_pred has 2 labels but y_real has 3'):
        confusion_matrix([0, 1], [0, 1, 1])


def test_top_k_classes():
    # per-class accuracy with predictions 1, 0, 3, 0, 3: class 0 1/3, 1 1.0, 2 0.0, 3 0.0
    assert top_k_classes(SCORES, LABELS, k=2) == [(1, 1.0), (0, pytest.approx(1 / 3))]
    # ties: 'inaccurate' lists the lower class first, 'accurate' the higher one
    assert top_k_classes(SCORES, LABELS, k=2, mode='inaccurate') == [(2, 0.0), (3, 0.0)]
    assert top_k_classes(SCORES, LABELS, k=10)[-2:] == [(3, 0.0), (2, 0.0)]
    # the classes are labels, also when some are missing: labels 3 and 7 only
    scores = np.zeros((3, 8))
    scores[[0, 1, 2], [3, 7, 3]] = 1
    assert top_k_classes(scores, [3, 7, 7], k=2) == [(3, 1.0), (7, 0.5)]
    with pytest.raises(ValueError, match="mode must be 'accurate' or 'inaccurate'"):
        top_k_classes(SCORES, LABELS, mode='best')


def test_mean_average_precision_hand_computed():
    scores = [np.array([0.9, 0.1]), np.array([0.8, 0.7]), np.array([0.3, 0.6]), np.array([0.2, 0.2])]
    labels = [np.array([1, 0]), np.array([0, 1]), np.array([1, 1]), np.array([0, 0])]
    # class 0, ranked 0.9(+) 0.8(-) 0.3(+) 0.2(-): AP = (1/1 + 2/3) / 2
    # class 1, ranked 0.7(+) 0.6(+) 0.2(-) 0.1(-): AP = 1
    assert mean_average_precision(scores, labels) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
    # sample 0 ranks 0.9(+) 0.1(-): 1; sample 1: 0.8(-) 0.7(+): 1/2; sample 2: 1; sample 3
    # has no positive class, which makes the MMIT mean NaN as in MMAction2
    assert np.isnan(mmit_mean_average_precision(scores, labels))
    assert mmit_mean_average_precision(scores[:3], labels[:3]) == pytest.approx((1 + .5 + 1) / 3)


def test_average_precision_ties_and_classes_without_positives():
    # three tied scores enter together: precision 2/3 at that threshold for both positives
    scores = np.array([[0.5, 0.0], [0.5, 0.0], [0.5, 0.0], [0.1, 0.0]])
    labels = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    # class 1 has no positive sample: left out of the mean
    assert mean_average_precision(scores, labels) == pytest.approx(2 / 3)
    assert np.isnan(mean_average_precision(scores, np.zeros_like(labels)))
    with pytest.raises(ValueError, match='one many-hot vector per sample'):
        mean_average_precision(scores, labels[:, :1])
    with pytest.raises(ValueError, match='no samples'):
        mean_average_precision([], [])


def test_average_precisions_random_against_definition():
    rng = np.random.default_rng(1)
    # rounded scores make many ties
    scores = rng.random((60, 7)).round(1)
    labels = (rng.random((60, 7)) < 0.3).astype(np.int64)
    labels[:, 6] = 0
    labels[np.arange(60), rng.integers(0, 6, 60)] = 1  # every sample has a positive
    per_class = [_ap_reference(scores[:, c], labels[:, c] == 1) for c in range(7)]
    assert mean_average_precision(list(scores), list(labels)) == pytest.approx(np.nanmean(per_class))
    per_sample = [_ap_reference(s, lab == 1) for s, lab in zip(scores, labels)]
    assert mmit_mean_average_precision(scores, labels) == pytest.approx(np.mean(per_sample))


def test_get_weighted_score_and_softmax():
    a = [np.array([1., 2.]), np.array([0., 1.])]
    b = [np.array([3., 0.]), np.array([1., 1.])]
    fused = get_weighted_score([a, b], [1, 0.5])
    assert isinstance(fused, list) and len(fused) == 2
    np.testing.assert_allclose(fused, [[2.5, 2.], [.5, 1.5]])
    with pytest.raises(ValueError, match='2 score lists but 1 coefficients'):
        get_weighted_score([a, b], [1])
    with pytest.raises(ValueError, match='one entry per sample'):
        get_weighted_score([a, b[:1]], [1, 1])

    x = np.array([[1000., 1001.], [0., 0.]])
    np.testing.assert_allclose(softmax(x), [[1 / (1 + np.e), np.e / (1 + np.e)], [.5, .5]])
    np.testing.assert_allclose(softmax(x, dim=0).sum(axis=0), [1, 1])


def test_input_checks():
    with pytest.raises(ValueError, match='labels must be 5 integers'):
        top_k_accuracy(SCORES, [0, 1])
    with pytest.raises(TypeError, match='labels must be a 1-D list or array of integer labels'):
        mean_class_accuracy(SCORES, [0.5] * 5)
    with pytest.raises(ValueError, match=r'scores must be \(num_samples, num_classes\)'):
        top_k_accuracy(np.zeros(4), [0, 1, 2, 3])
    with pytest.raises(ValueError, match='scores is empty'):
        top_k_accuracy(np.zeros((0, 3)), [])
