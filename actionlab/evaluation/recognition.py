"""Action recognition metrics (MMAction2's definitions, vectorised with NumPy).

``scores``: a 2-D array (num_samples, num_classes) or a list of per-sample score arrays;
``labels``: the ground-truth class of each sample, or for the multi-label metrics one
many-hot vector (1 = the class is present) per sample.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NORMALIZE = ('true', 'pred', 'all', None)


def _scores_array(scores, name: str = 'scores') -> np.ndarray:
    if len(scores) == 0:
        raise ValueError(f'{name} is empty: there are no samples to evaluate')
    scores = np.stack([np.asarray(s).reshape(-1) for s in scores]) \
        if isinstance(scores, (list, tuple)) else np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f'{name} must be (num_samples, num_classes), got shape {scores.shape}')
    return scores


def _integer_labels(values, name: str = 'labels', num_samples: int | None = None) -> np.ndarray:
    """``values`` as a 1-D int64 array of labels; with ``num_samples``, exactly that many
    (ValueError otherwise). Non-integer labels are a TypeError; an empty list is fine."""
    values = np.asarray(values)
    if num_samples is not None and (values.ndim != 1 or values.shape[0] != num_samples):
        raise ValueError(f'{name} must be {num_samples} integers (one per sample), '
                         f'got shape {values.shape}')
    if values.size == 0:
        return values.reshape(0).astype(np.int64)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f'{name} must be a 1-D list or array of integer labels, '
                        f'got shape {values.shape} and dtype {values.dtype}')
    return values.astype(np.int64)


def top_k_accuracy(scores, labels, topk: int | Sequence[int] = (1,)) -> list[float]:
    """Fraction of samples whose label is among the ``k`` highest scores, for each k."""
    scores = _scores_array(scores)
    labels = _integer_labels(labels, num_samples=len(scores))
    topk = (topk,) if isinstance(topk, int) else tuple(topk)
    # one descending sort serves every k (the same argsort as MMAction2, so ties agree)
    ranked = np.argsort(scores, axis=1)[:, ::-1]
    hits = ranked == labels[:, None]
    return [float(hits[:, :k].any(axis=1).mean()) for k in topk]


def _check_normalize(normalize: str | None) -> None:
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of 'true', 'pred', 'all' or None, got {normalize!r}")


def confusion_counts(y_pred, y_real) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, counts)``: the sorted union of the integer labels in ``y_pred`` and
    ``y_real``, and the (num_labels, num_labels) counts, rows = true label, columns =
    predicted label (as :func:`confusion_matrix` without ``normalize``)."""
    y_pred = _integer_labels(y_pred, 'y_pred')
    y_real = _integer_labels(y_real, 'y_real')
    if len(y_pred) != len(y_real):
        raise ValueError(f'y_pred has {len(y_pred)} labels but y_real has {len(y_real)}')
    label_set, mapped = np.unique(np.concatenate([y_pred, y_real]), return_inverse=True)
    n = len(label_set)
    pred, real = mapped[:len(y_pred)], mapped[len(y_pred):]
    return label_set, np.bincount(n * real + pred, minlength=n * n).reshape(n, n)


def normalize_confusion(counts: np.ndarray, normalize: str | None) -> np.ndarray:
    """Confusion ``counts`` normalised as :func:`confusion_matrix`'s ``normalize`` says
    (``None``: the counts themselves)."""
    _check_normalize(normalize)
    if normalize is None:
        return counts
    total = {'true': counts.sum(axis=1, keepdims=True), 'pred': counts.sum(axis=0, keepdims=True),
             'all': counts.sum()}[normalize]
    return np.divide(counts, total, out=np.zeros(counts.shape), where=total > 0)


def confusion_matrix(y_pred, y_real, normalize: str | None = None) -> np.ndarray:
    """Counts (num_labels, num_labels), rows = true label, columns = predicted label, over
    the sorted union of the labels seen in ``y_pred`` and ``y_real``.

    ``normalize``: ``'true'`` divides each row by its sum, ``'pred'`` each column,
    ``'all'`` the whole matrix; an empty row or column stays 0. ``None`` keeps counts.
    """
    _check_normalize(normalize)
    return normalize_confusion(confusion_counts(y_pred, y_real)[1], normalize)


def _class_accuracies(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """(classes, top-1 accuracy of each): the classes present in the labels or the
    predictions; a class that is only ever predicted has accuracy 0."""
    scores = _scores_array(scores)
    labels = _integer_labels(labels, num_samples=len(scores))
    classes, cf = confusion_counts(np.argmax(scores, axis=1), labels)
    counts = cf.sum(axis=1).astype(np.float64)
    hits = np.diag(cf).astype(np.float64)
    return classes, np.divide(hits, counts, out=np.zeros_like(hits), where=counts > 0)


def mean_class_accuracy(scores, labels) -> float:
    """Mean over classes of the per-class top-1 accuracy.

    As in MMAction2, the classes are those present in the labels or the predictions; a
    class that is only ever predicted counts with accuracy 0.
    """
    return float(_class_accuracies(scores, labels)[1].mean())


def top_k_classes(scores, labels, k: int = 10, mode: str = 'accurate') -> list[tuple[int, float]]:
    """The ``k`` classes with the highest (``mode='accurate'``, best first) or lowest
    (``'inaccurate'``, worst first) top-1 accuracy, as ``[(label, accuracy), ...]``.

    Classes as in :func:`mean_class_accuracy`. Among equal accuracies, 'accurate' lists
    the higher label first and 'inaccurate' the lower one (MMAction2's order). The label
    is the class itself (MMAction2 returns its position among the classes seen, which
    is the same when every class 0..C-1 occurs).
    """
    if mode not in ('accurate', 'inaccurate'):
        raise ValueError(f"mode must be 'accurate' or 'inaccurate', got {mode!r}")
    classes, accuracy = _class_accuracies(scores, labels)
    order = np.argsort(accuracy, kind='stable')
    chosen = order[::-1][:k] if mode == 'accurate' else order[:k]
    return [(int(classes[i]), float(accuracy[i])) for i in chosen]


def _multilabel_arrays(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    scores = _scores_array(scores)
    labels = _scores_array(labels, 'labels')
    if labels.shape != scores.shape:
        raise ValueError(f'labels must be one many-hot vector per sample, shaped like scores '
                         f'{scores.shape}, got {labels.shape}')
    return scores.astype(np.float64), labels == 1


def _average_precisions(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Average precision of every row of ``scores`` ranked against ``positive``.

    AP = sum over thresholds of (recall step) x precision, with one threshold per
    distinct score (tied scores enter together), as MMAction2's precision-recall curve.
    That equals the mean, over the positives, of the precision among all items scoring
    at least as high as that positive. NaN for a row without positives.
    """
    n = scores.shape[1]
    # ties enter together (below), so the sort need not be stable
    order = np.argsort(-scores, axis=1)
    ranked = np.take_along_axis(scores, order, axis=1)
    hits = np.take_along_axis(positive, order, axis=1)
    true_pos = np.cumsum(hits, axis=1)
    # the last rank of each run of equal scores, spread over the run
    is_last = np.ones(ranked.shape, dtype=bool)
    is_last[:, :-1] = ranked[:, :-1] != ranked[:, 1:]
    run_end = np.minimum.accumulate(np.where(is_last, np.arange(n), n)[:, ::-1], axis=1)[:, ::-1]
    precision = np.take_along_axis(true_pos, run_end, axis=1) / (run_end + 1)
    num_pos = true_pos[:, -1]
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(num_pos > 0, (hits * precision).sum(axis=1) / num_pos, np.nan)


def mean_average_precision(scores, labels) -> float:
    """Multi-label mAP: the average precision of each class over the samples, averaged
    over the classes that have at least one positive sample (NaN if none has)."""
    scores, positive = _multilabel_arrays(scores, labels)
    # classes as rows: the sorts and scans then run over contiguous memory
    ap = _average_precisions(np.ascontiguousarray(scores.T), np.ascontiguousarray(positive.T))
    ap = ap[~np.isnan(ap)]
    return float(ap.mean()) if len(ap) else float('nan')


def mmit_mean_average_precision(scores, labels) -> float:
    """Multi-Moments-in-Time mAP: the average precision of each sample over the classes,
    averaged over the samples. As in MMAction2, a sample without any positive class
    makes the result NaN."""
    scores, positive = _multilabel_arrays(scores, labels)
    return float(_average_precisions(scores, positive).mean())


def get_weighted_score(score_list: Sequence, coeff_list: Sequence[float]) -> list[np.ndarray]:
    """Fuse the scores of several models: ``sum_i coeff_list[i] * score_list[i]``.

    ``score_list`` holds one score list (num_samples x num_classes) per model; returns
    one fused score array per sample.
    """
    if len(score_list) != len(coeff_list):
        raise ValueError(f'{len(score_list)} score lists but {len(coeff_list)} coefficients')
    if not len(score_list):
        raise ValueError('score_list is empty: give the scores of at least one model')
    sizes = [len(scores) for scores in score_list]
    if len(set(sizes)) != 1:
        raise ValueError(f'every score list must have one entry per sample; got lengths {sizes}')
    stacked = np.stack([_scores_array(scores) for scores in score_list])
    return list(np.tensordot(np.asarray(coeff_list, dtype=np.float64), stacked, axes=1))


def softmax(x, dim: int = 1) -> np.ndarray:
    """Softmax of ``x`` along axis ``dim`` (shifted by the maximum, so large scores do
    not overflow)."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)
