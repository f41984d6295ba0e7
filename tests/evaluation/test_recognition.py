"""Recognition metrics against hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest

from actionlab.evaluation import confusion_matrix, mean_class_accuracy, top_k_accuracy

SCORES = np.array([
    [0.1, 0.6, 0.3, 0.0],   # label 1: top-1 hit
    [0.5, 0.2, 0.25, 0.05],  # label 2: second -> top-2 hit
    [0.2, 0.3, 0.1, 0.4],   # label 0: third -> top-3 hit
    [0.7, 0.1, 0.1, 0.1],   # label 0: top-1 hit
    [0.1, 0.2, 0.3, 0.4],   # label 0: last -> miss for k < 4
])
LABELS = [1, 2, 0, 0, 0]


def test_top_k_accuracy_hand_computed():
    assert top_k_accuracy(SCORES, LABELS, (1, 2, 3, 4)) == pytest.approx([0.4, 0.6, 0.8, 1.0])
    assert top_k_accuracy(list(SCORES), np.array(LABELS), topk=1) == pytest.approx([0.4])
    assert all(type(v) is float for v in top_k_accuracy(SCORES, LABELS, (1, 5)))


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


def test_input_checks():
    with pytest.raises(ValueError, match='labels must be 5 integers'):
        top_k_accuracy(SCORES, [0, 1])
    with pytest.raises(TypeError, match='labels must be integers'):
        mean_class_accuracy(SCORES, [0.5] * 5)
    with pytest.raises(ValueError, match=r'scores must be \(num_samples, num_classes\)'):
        top_k_accuracy(np.zeros(4), [0, 1, 2, 3])
