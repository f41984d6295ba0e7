"""Action recognition metrics (MMAction2's definitions, vectorised with NumPy).

``scores``: a 2-D array (num_samples, num_classes) or a list of per-sample score arrays;
``labels``: the ground-truth class of each sample.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _scores_array(scores) -> np.ndarray:
    scores = np.stack([np.asarray(s).reshape(-1) for s in scores]) \
        if isinstance(scores, (list, tuple)) else np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f'scores must be (num_samples, num_classes), got shape {scores.shape}')
    return scores


def _labels_array(labels, num_samples: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != num_samples:
        raise ValueError(f'labels must be {num_samples} integers (one per sample), '
                         f'got shape {labels.shape}')
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f'labels must be integers, got dtype {labels.dtype}')
    return labels.astype(np.int64)


def top_k_accuracy(scores, labels, topk: int | Sequence[int] = (1,)) -> list[float]:
    """Fraction of samples whose label is among the ``k`` highest scores, for each k."""
    scores = _scores_array(scores)
    labels = _labels_array(labels, len(scores))
    topk = (topk,) if isinstance(topk, int) else tuple(topk)
    # one descending sort serves every k (the same argsort as MMAction2, so ties agree)
    ranked = np.argsort(scores, axis=1)[:, ::-1]
    hits = ranked == labels[:, None]
    return [float(hits[:, :k].any(axis=1).mean()) for k in topk]


def confusion_matrix(y_pred, y_real) -> np.ndarray:
    """Counts (num_labels, num_labels), rows = true label, columns = predicted label, over
    the sorted union of the labels seen in ``y_pred`` and ``y_real``."""
    y_pred = np.asarray(y_pred, dtype=np.int64)
    y_real = np.asarray(y_real, dtype=np.int64)
    label_set, mapped = np.unique(np.concatenate([y_pred, y_real]), return_inverse=True)
    n = len(label_set)
    pred, real = mapped[:len(y_pred)], mapped[len(y_pred):]
    return np.bincount(n * real + pred, minlength=n * n).reshape(n, n)


def mean_class_accuracy(scores, labels) -> float:
    """Mean over classes of the per-class top-1 accuracy.

    As in MMAction2, the classes are those present in the labels or the predictions; a
    class that is only ever predicted counts with accuracy 0.
    """
    scores = _scores_array(scores)
    labels = _labels_array(labels, len(scores))
    cf = confusion_matrix(np.argmax(scores, axis=1), labels).astype(np.float64)
    counts = cf.sum(axis=1)
    hits = np.diag(cf)
    per_class = np.divide(hits, counts, out=np.zeros_like(hits), where=counts > 0)
    return float(per_class.mean())
