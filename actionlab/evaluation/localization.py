"""Temporal action localization metrics: temporal IoU, detection AP at tIoU thresholds,
proposal AR@AN, and the ActivityNet detection benchmark (MMAction2's definitions,
vectorised with NumPy).

Segments are ``[start, end]`` pairs in seconds (or any one unit).
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: tIoU thresholds 0.5, 0.55, ..., 0.95 (ActivityNet's)
DEFAULT_TIOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intersection and union lengths of the segments ``a`` and ``b`` (``[..., 2]`` arrays
    of [start, end] that broadcast against each other)."""
    inter = (np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 0], b[..., 0])).clip(0)
    return inter, (a[..., 1] - a[..., 0]) + (b[..., 1] - b[..., 0]) - inter


def pairwise_temporal_iou(candidate_segments, target_segments, calculate_overlap_self: bool = False):
    """Temporal IoU of every candidate segment with every target segment.

    ``candidate_segments``: one ``[start, end]`` or an (m, 2) array; ``target_segments``:
    (n, 2). Returns float32 IoUs of shape (n,) for one candidate, else (n, m). With
    ``calculate_overlap_self`` also returns intersection / candidate length, same shape.

    As in MMAction2, intersections and unions are computed in the inputs' float type
    (float32 segments in float32, which can decide whether a tIoU reaches a threshold);
    integer segments are computed in float64.
    """
    candidates, targets = np.asarray(candidate_segments), np.asarray(target_segments)
    if targets.ndim != 2 or candidates.ndim not in (1, 2):
        raise ValueError(f'pairwise_temporal_iou: candidate_segments must be [start, end] or (m, 2) '
                         f'and target_segments (n, 2); got shapes {candidates.shape} and {targets.shape}')
    dtype = np.result_type(candidates, targets)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.float64
    candidates, targets = candidates.astype(dtype, copy=False), targets.astype(dtype, copy=False)
    single = candidates.ndim == 1
    cands = candidates[None] if single else candidates
    inter, union = _overlap(cands[None], targets[:, None])                      # (n, m)
    with np.errstate(divide='ignore', invalid='ignore'):
        t_iou = (inter / union).astype(np.float32)
        if not calculate_overlap_self:
            return t_iou[:, 0] if single else t_iou
        overlap_self = (inter / (cands[:, 1] - cands[:, 0])).astype(np.float32)
    if single:
        t_iou, overlap_self = t_iou[:, 0], overlap_self[:, 0]
    return t_iou, overlap_self


def _interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """VOC 2011 interpolated AP of each row of (rows, points) precision/recall curves."""
    rows = precision.shape[0]
    mprec = np.concatenate([np.zeros((rows, 1)), precision, np.zeros((rows, 1))], axis=1)
    mrec = np.concatenate([np.zeros((rows, 1)), recall, np.ones((rows, 1))], axis=1)
    # precision at recall r = the best precision at any recall >= r
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    return (np.diff(mrec, axis=1) * mprec[:, 1:]).sum(axis=1)


def interpolated_precision_recall(precision, recall) -> float:
    """VOC 2011 interpolated average precision of a precision/recall curve (points in
    order of decreasing score, so recall does not decrease)."""
    precision = np.asarray(precision, dtype=np.float64).reshape(1, -1)
    recall = np.asarray(recall, dtype=np.float64).reshape(1, -1)
    if precision.shape != recall.shape:
        raise ValueError(f'precision and recall must have the same length, got '
                         f'{precision.shape[1]} and {recall.shape[1]}')
    return float(_interpolated_ap(precision, recall)[0])


def _greedy_matches(gt_segments: Sequence[np.ndarray], pred_video: np.ndarray, pred_segments: np.ndarray,
                    thresholds: np.ndarray) -> np.ndarray:
    """True positives (thresholds, predictions) of predictions ranked best first.

    Going down the ranking, each prediction takes the unmatched ground truth of its
    video (``gt_segments[pred_video[i]]``; -1 = a video without ground truth) with the
    highest tIoU at or above the threshold (among equal tIoUs the later one, as
    MMAction2's reversed argsort); without one it is a false positive. Videos are
    independent, so the predictions of rank k in every video are matched in one step.
    """
    num_thr, num_pred = len(thresholds), len(pred_video)
    true_pos = np.zeros((num_thr, num_pred), dtype=bool)
    known = np.nonzero(pred_video >= 0)[0]
    if not len(known) or not len(gt_segments):
        return true_pos
    width = max(1, max(len(g) for g in gt_segments))
    gt = np.zeros((len(gt_segments), width, 2))
    valid = np.zeros((len(gt_segments), width), dtype=bool)
    for v, segs in enumerate(gt_segments):
        gt[v, :len(segs)] = segs
        valid[v, :len(segs)] = True
    # rank of each (known-video) prediction among those of its video
    videos = pred_video[known]
    by_video = np.argsort(videos, kind='stable')
    first = np.searchsorted(videos[by_video], videos[by_video], side='left')
    rank = np.empty(len(known), dtype=np.int64)
    rank[by_video] = np.arange(len(known)) - first

    locked = np.zeros((len(gt_segments), num_thr, width), dtype=bool)
    for k in range(rank.max() + 1):
        sel = known[rank == k]
        vids = pred_video[sel]
        inter, union = _overlap(pred_segments[sel][:, None], gt[vids])          # (n, width)
        with np.errstate(divide='ignore', invalid='ignore'):
            t_iou = np.where(valid[vids], (inter / union).astype(np.float32), -np.inf)
        ok = (t_iou[:, None, :] >= thresholds[None, :, None]) & ~locked[vids]
        scored = np.where(ok, t_iou[:, None, :], -np.inf)
        best = width - 1 - np.argmax(scored[..., ::-1], axis=2)  # last of equal maxima
        hit = ok.any(axis=2)
        true_pos[:, sel] = hit.T
        rows, thr = np.nonzero(hit)
        locked[vids[rows], thr, best[rows, thr]] = True
    return true_pos


def _detection_ap(true_pos: np.ndarray, num_gts: int) -> np.ndarray:
    """Interpolated AP per threshold from ranked true positives (thresholds, predictions)."""
    if true_pos.shape[1] == 0:
        return np.zeros(true_pos.shape[0])
    if num_gts == 0:
        return np.full(true_pos.shape[0], np.nan)
    tp = np.cumsum(true_pos, axis=1, dtype=np.float64)
    precision = tp / np.arange(1, true_pos.shape[1] + 1)
    return _interpolated_ap(precision, tp / num_gts)


def average_precision_at_temporal_iou(ground_truth: Mapping, prediction,
                                      temporal_iou_thresholds=DEFAULT_TIOU_THRESHOLDS) -> np.ndarray:
    """Detection AP (VOC-style, interpolated) at each tIoU threshold.

    ``ground_truth``: video id -> its segments ``[[start, end], ...]``; ``prediction``:
    rows ``(video_id, class_id, start, end, score)`` (a 2-D array or list of rows).
    Predictions are ranked by decreasing score; each ground-truth segment is matched at
    most once, by the best-ranked prediction that reaches the threshold. Returns a 1-D
    array with one AP per threshold: zeros without predictions, NaN without ground truth.
    """
    thresholds = np.asarray(temporal_iou_thresholds, dtype=np.float64).reshape(-1)
    if len(prediction) == 0:
        return np.zeros(len(thresholds))
    prediction = np.asarray(prediction, dtype=object)
    if prediction.ndim != 2 or prediction.shape[1] < 5:
        raise ValueError(f'prediction must have rows (video_id, class_id, start, end, score), '
                         f'got shape {prediction.shape}')
    order = np.argsort(prediction[:, 4].astype(np.float64))[::-1]  # MMAction2's ranking
    prediction = prediction[order]
    video_ids = [key for key, segs in ground_truth.items() if len(segs)]
    index = {key: i for i, key in enumerate(video_ids)}
    gt_segments = [np.asarray(ground_truth[key], dtype=np.float64).reshape(-1, 2) for key in video_ids]
    pred_video = np.array([index.get(v, -1) for v in prediction[:, 0]], dtype=np.int64)
    true_pos = _greedy_matches(gt_segments, pred_video, prediction[:, 2:4].astype(np.float64), thresholds)
    return _detection_ap(true_pos, sum(len(g) for g in gt_segments))


def average_recall_at_avg_proposals(ground_truth: Mapping, proposals: Mapping, total_num_proposals: int,
                                    max_avg_proposals: float | None = None,
                                    temporal_iou_thresholds=DEFAULT_TIOU_THRESHOLDS
                                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Average recall against the average number of proposals per video (AR@AN).

    ``ground_truth``: video id -> (n, >=2) array of segments; ``proposals``: video id ->
    (m, 3) array of ``[start, end, score]``; ``total_num_proposals``: the number of
    proposals over all videos. Each video keeps its best-scored proposals, in proportion
    ``max_avg_proposals * num_videos / total_num_proposals`` (default: all of them); for
    100 fractions (1 %, ..., 100 %) of those, a ground truth counts as recalled when one
    of the first proposals reaches the tIoU threshold.

    Returns ``(recall, average_recall, proposals_per_video, auc)``: ``recall[i, j]`` at
    threshold i and fraction j, ``average_recall = recall.mean(axis=0)``, the average
    number of proposals per video at each fraction, and the area under the AR-AN curve
    in percent.
    """
    thresholds = np.asarray(temporal_iou_thresholds, dtype=np.float64).reshape(-1)
    num_videos = len(ground_truth)
    if num_videos == 0:
        raise ValueError('average_recall_at_avg_proposals: ground_truth is empty')
    if not max_avg_proposals:
        max_avg_proposals = float(total_num_proposals) / num_videos
    ratio = max_avg_proposals * float(num_videos) / total_num_proposals

    # per video: each ground truth's first hit (thresholds, n_gt) among the kept proposals
    first_hits, kept_counts, num_kept_total = [], [], 0
    for video_id in ground_truth:
        if video_id not in proposals:
            raise KeyError(f'average_recall_at_avg_proposals: no proposals for video {video_id!r}')
        props = np.asarray(proposals[video_id])
        gt = np.asarray(ground_truth[video_id])[:, :2].astype(np.float32)
        if props.shape[0] == 0:
            # as MMAction2: one dummy proposal of tIoU 0, not counted among the kept ones
            t_iou = np.zeros((gt.shape[0], 1))
        else:
            props = props[np.argsort(props[:, 2])[::-1], :2].astype(np.float32)
            num_kept = min(int(props.shape[0] * ratio), props.shape[0])
            num_kept_total += num_kept
            t_iou = pairwise_temporal_iou(props[:num_kept], gt).reshape(gt.shape[0], num_kept)
        hits = t_iou[None] >= thresholds[:, None, None]
        if t_iou.shape[1] == 0:
            # no proposal kept (int(len(props) * ratio) == 0): the video recalls nothing
            first_hits.append(np.zeros(hits.shape[:2], dtype=np.int64))
        else:
            first_hits.append(np.where(hits.any(axis=2), hits.argmax(axis=2), t_iou.shape[1]))
        kept_counts.append(np.full(gt.shape[0], t_iou.shape[1]))
    if num_kept_total == 0:
        raise ValueError(f'average_recall_at_avg_proposals: no proposal kept for any video '
                         f'(total_num_proposals={total_num_proposals}, '
                         f'max_avg_proposals={max_avg_proposals})')

    fractions = np.arange(1, 101) / 100.0 * (max_avg_proposals * float(num_videos) / num_kept_total)
    first_hit = np.concatenate(first_hits, axis=1)          # (thresholds, all ground truths)
    kept = np.concatenate(kept_counts)                      # proposals kept in each one's video
    cutoff = np.minimum((kept[:, None] * fractions[None]).astype(np.int64), kept[:, None])
    recalled = (first_hit[:, :, None] < cutoff[None]).sum(axis=1)
    recall = recalled / len(kept)
    average_recall = recall.mean(axis=0)
    proposals_per_video = fractions * (float(num_kept_total) / num_videos)
    area = np.sum(np.diff(proposals_per_video) * (average_recall[1:] + average_recall[:-1]) / 2)
    auc = 100. * float(area) / proposals_per_video[-1]
    return recall, average_recall, proposals_per_video, auc


def _strip_video_prefix(video_id: str) -> str:
    # ActivityNet's ground-truth files name videos "v_<youtube id>", result files "<youtube id>";
    # only ground-truth ids lose the prefix (a YouTube id may itself start with "v_")
    return video_id[2:] if video_id.startswith('v_') else video_id


def _read_json(path: str | os.PathLike, what: str):
    if not path:
        raise OSError(f'ActivityNetLocalization: give the {what} file')
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} file not found: {path}') from None
    except json.JSONDecodeError as e:
        raise ValueError(f'{what} file {path} is not valid JSON: {e}') from None


class ActivityNetLocalization:
    """ActivityNet temporal action detection benchmark: mAP at tIoU thresholds.

    Args:
        ground_truth_filename: json ``{video_id: {"annotations": [{"label": name,
            "segment": [start, end]}, ...]}, ...}``; ids ``v_<id>`` lose the ``v_``
            (ids without it are kept as they are).
        prediction_filename: json ``{"results": {video_id: [{"label": name,
            "segment": [start, end], "score": s}, ...]}}``; ids are used as they are, so
            they name videos as the ground truth's ids without ``v_`` (``<id>``).
        tiou_thresholds: tIoU thresholds (default 0.5:0.05:0.95).
        verbose: log what was loaded.

    The classes are the ground-truth labels, numbered in order of appearance
    (``activity_index``); a predicted label that is not among them is an error naming it.
    """

    def __init__(self, ground_truth_filename: str | os.PathLike | None = None,
                 prediction_filename: str | os.PathLike | None = None,
                 tiou_thresholds=DEFAULT_TIOU_THRESHOLDS, verbose: bool = False):
        self.ground_truth_filename = ground_truth_filename
        self.prediction_filename = prediction_filename
        self.tiou_thresholds = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
        self.verbose = verbose
        self.ap: np.ndarray | None = None
        self.ground_truth, self.activity_index = self._import_ground_truth(ground_truth_filename)
        self.prediction = self._import_prediction(prediction_filename)
        if verbose:
            logger.info('loaded ground truth from %s (%d instances, %d classes) and predictions '
                        'from %s (%d); tIoU thresholds %s', ground_truth_filename,
                        len(self.ground_truth['label']), len(self.activity_index), prediction_filename,
                        len(self.prediction['label']), self.tiou_thresholds)

    @staticmethod
    def _import_ground_truth(ground_truth_filename) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Ground-truth instances as columns (``video-id``, ``t-start``, ``t-end``,
        ``label``) and the class index of every label name."""
        data = _read_json(ground_truth_filename, 'ground truth')
        activity_index: dict[str, int] = {}
        rows = []
        try:
            for video_id, info in data.items():
                for anno in info['annotations']:
                    label = activity_index.setdefault(anno['label'], len(activity_index))
                    rows.append((_strip_video_prefix(video_id), float(anno['segment'][0]),
                                 float(anno['segment'][1]), label))
        except (AttributeError, KeyError, IndexError, TypeError) as e:
            raise ValueError(f'ground truth file {ground_truth_filename}: expected {{video_id: '
                             f'{{"annotations": [{{"label", "segment"}}, ...]}}}}, failed on {e!r}') from None
        return _columns(rows, with_score=False), activity_index

    def _import_prediction(self, prediction_filename) -> dict[str, np.ndarray]:
        """Predicted instances as columns (``video-id``, ``t-start``, ``t-end``, ``label``,
        ``score``)."""
        data = _read_json(prediction_filename, 'prediction')
        if not isinstance(data, dict) or not isinstance(data.get('results'), dict):
            raise ValueError(f'prediction file {prediction_filename}: expected {{"results": '
                             f'{{video_id: [...]}}}}')
        rows = []
        for video_id, results in data['results'].items():
            for result in results:
                try:
                    label = self.activity_index[result['label']]
                except KeyError:
                    raise ValueError(f'prediction file {prediction_filename}: video {video_id} has '
                                     f'label {result.get("label")!r}, which the ground truth does '
                                     'not have') from None
                rows.append((video_id, float(result['segment'][0]),
                             float(result['segment'][1]), label, float(result['score'])))
        return _columns(rows, with_score=True)

    def wrapper_compute_average_precision(self) -> np.ndarray:
        """AP of every class at every threshold: (thresholds, classes)."""
        gt, pred = self.ground_truth, self.prediction
        ap = np.zeros((len(self.tiou_thresholds), len(self.activity_index)))
        for label in range(len(self.activity_index)):
            gt_rows = np.nonzero(gt['label'] == label)[0]
            pred_rows = np.nonzero(pred['label'] == label)[0]
            # ranked by decreasing score; ties keep the file order (a stable sort, as MMAction2)
            pred_rows = pred_rows[np.argsort(-pred['score'][pred_rows], kind='stable')]
            gt_segments, pred_video = _group_by_video(
                gt['video-id'][gt_rows], np.stack([gt['t-start'][gt_rows], gt['t-end'][gt_rows]], axis=1),
                pred['video-id'][pred_rows])
            segments = np.stack([pred['t-start'][pred_rows], pred['t-end'][pred_rows]], axis=1)
            true_pos = _greedy_matches(gt_segments, pred_video, segments, self.tiou_thresholds)
            ap[:, label] = _detection_ap(true_pos, len(gt_rows))
        return ap

    def evaluate(self) -> tuple[np.ndarray, float]:
        """``(mAP at each threshold, mAP averaged over the thresholds)``; also kept as
        ``self.ap`` (per class), ``self.mAP`` and ``self.average_mAP``."""
        self.ap = self.wrapper_compute_average_precision()
        self.mAP = self.ap.mean(axis=1)
        self.average_mAP = float(self.mAP.mean())
        return self.mAP, self.average_mAP


def _group_by_video(gt_ids: np.ndarray, gt_segments: np.ndarray, pred_ids: np.ndarray
                    ) -> tuple[list[np.ndarray], np.ndarray]:
    """The ground-truth segments of each video, and each prediction's video index among
    them (-1 for a video without ground truth)."""
    videos, inverse = np.unique(gt_ids, return_inverse=True)
    bounds = np.cumsum(np.bincount(inverse, minlength=len(videos)))[:-1]
    segments = np.split(gt_segments[np.argsort(inverse, kind='stable')], bounds)
    index = {video: i for i, video in enumerate(videos.tolist())}
    return segments, np.array([index.get(v, -1) for v in pred_ids.tolist()], dtype=np.int64)


def _columns(rows: list[tuple], with_score: bool) -> dict[str, np.ndarray]:
    names = ['video-id', 't-start', 't-end', 'label'] + (['score'] if with_score else [])
    columns = list(zip(*rows)) if rows else [()] * len(names)
    dtypes = [str, np.float64, np.float64, np.int64, np.float64]
    return {name: np.array(col, dtype=dtype) for name, col, dtype in zip(names, columns, dtypes)}
