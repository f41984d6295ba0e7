"""Temporal localization metrics against hand-computed values and direct (loop) references."""
from __future__ import annotations

import json

import numpy as np
import pytest

from actionlab.evaluation import (
    ActivityNetLocalization,
    average_precision_at_temporal_iou,
    average_recall_at_avg_proposals,
    interpolated_precision_recall,
    pairwise_temporal_iou,
)

THRESHOLDS = np.linspace(0.5, 0.95, 10)


# -- direct references, one prediction / ground truth / threshold at a time ---------------------

def _tiou(a, b) -> float:
    inter = max(0., min(a[1], b[1]) - max(a[0], b[0]))
    return np.float32(inter / ((a[1] - a[0]) + (b[1] - b[0]) - inter))


def _voc_ap(precision: list[float], recall: list[float]) -> float:
    """VOC 2011: precision made monotone from the right, summed over recall steps."""
    prec = [0.] + list(precision) + [0.]
    rec = [0.] + list(recall) + [1.]
    for i in range(len(prec) - 2, -1, -1):
        prec[i] = max(prec[i], prec[i + 1])
    return sum((rec[i] - rec[i - 1]) * prec[i] for i in range(1, len(rec)) if rec[i] != rec[i - 1])


def _detection_ap_reference(gt: dict, ranked: list[tuple], thresholds) -> list[float]:
    """``ranked``: (video, start, end) best first. Each prediction takes the unmatched ground
    truth of its video with the highest tIoU (the later one among equals) at or above the
    threshold."""
    num_gts = sum(len(v) for v in gt.values())
    aps = []
    for thr in thresholds:
        used = {video: [False] * len(segs) for video, segs in gt.items()}
        hits = []
        for video, start, end in ranked:
            best = None
            for j, seg in enumerate(gt.get(video, [])):
                iou = _tiou((start, end), seg)
                if iou >= thr and not used[video][j] and (best is None or iou >= best[1]):
                    best = (j, iou)
            if best is not None:
                used[video][best[0]] = True
            hits.append(best is not None)
        tp = np.cumsum(hits)
        aps.append(_voc_ap(tp / np.arange(1, len(hits) + 1), tp / num_gts))
    return aps


def _recall_reference(gt: dict, proposals: dict, total: int, max_avg: float, thresholds):
    """AR@AN by its definition, one video, threshold and fraction at a time."""
    ratio = max_avg * len(gt) / total
    kept = {}
    for video in gt:
        props = proposals[video][np.argsort(proposals[video][:, 2])[::-1]]
        kept[video] = props[:min(int(len(props) * ratio), len(props)), :2]
    num_kept = sum(len(k) for k in kept.values())
    fractions = np.arange(1, 101) / 100 * (max_avg * len(gt) / num_kept)
    recall = np.zeros((len(thresholds), 100))
    for t, thr in enumerate(thresholds):
        for j, frac in enumerate(fractions):
            found = 0
            for video, segs in gt.items():
                first = kept[video][:min(int(len(kept[video]) * frac), len(kept[video]))]
                found += sum(any(_tiou(p, s) >= thr for p in first) for s in segs)
            recall[t, j] = found / sum(len(s) for s in gt.values())
    return recall


# -- tests -----------------------------------------------------------------------------------------

def test_pairwise_temporal_iou():
    targets = np.array([[0., 2.], [2., 4.], [5., 6.]])
    iou = pairwise_temporal_iou(np.array([1., 3.]), targets)
    assert iou.dtype == np.float32 and iou.shape == (3,)
    np.testing.assert_allclose(iou, [1 / 3, 1 / 3, 0])
    iou, overlap = pairwise_temporal_iou(np.array([[1., 3.], [0., 6.]]), targets, calculate_overlap_self=True)
    assert iou.shape == overlap.shape == (3, 2)
    np.testing.assert_allclose(iou, [[1 / 3, 1 / 3], [1 / 3, 1 / 3], [0, 1 / 6]], rtol=1e-6)
    np.testing.assert_allclose(overlap, [[.5, 2 / 6], [.5, 2 / 6], [0, 1 / 6]], rtol=1e-6)
    with pytest.raises(ValueError, match='target_segments \\(n, 2\\)'):
        pairwise_temporal_iou(np.array([1., 3.]), np.array([1., 3.]))


def test_interpolated_precision_recall_hand_computed():
    # precision made monotone: [1, .667, .75, .75] -> [1, .75, .75, .75]
    ap = interpolated_precision_recall([1., 2 / 3, .75, .6], [.25, .5, .75, .75])
    assert ap == pytest.approx(.25 * 1 + .25 * .75 + .25 * .75)
    assert interpolated_precision_recall([], []) == 0.


def test_average_precision_at_temporal_iou_hand_computed():
    gt = {'a': [[0, 10], [20, 30]], 'b': [[5, 15]]}
    prediction = [['a', 0, 0, 10, 0.9], ['a', 0, 1, 11, 0.8], ['b', 0, 5, 14, 0.7],
                  ['c', 0, 1, 2, 0.95], ['a', 0, 21, 29, 0.5]]
    # ranked: c (no ground truth) miss; a[0,10] hit (tIoU 1); a[1,11] hits [0,10] too (0.82)
    # but it is taken, so miss; b[5,14] hit (0.9); a[21,29] hit (0.8).
    # tIoU <= 0.8: precision 0, 1/2, 1/3, 1/2, 3/5 at recall 0, 1/3, 1/3, 2/3, 1 -> AP 0.6
    # 0.85: the last is a miss -> (1/3)(1/2) + (1/3)(1/2); 0.9, 0.95: also b misses (its
    # float32 tIoU 0.9 is below the float64 threshold 0.9000...01)
    ap = average_precision_at_temporal_iou(gt, prediction)
    np.testing.assert_allclose(ap, [.6] * 7 + [1 / 3, 1 / 6, 1 / 6], rtol=1e-6)
    assert average_precision_at_temporal_iou(gt, [], [0.5]).tolist() == [0.]
    assert np.isnan(average_precision_at_temporal_iou({}, prediction, [0.5])).all()


def test_average_precision_at_temporal_iou_random_against_reference():
    rng = np.random.default_rng(3)
    gt, prediction = {}, []
    for v in range(6):
        starts = rng.uniform(0, 50, rng.integers(1, 5))
        gt[f'v{v}'] = np.stack([starts, starts + rng.uniform(2, 15, len(starts))], 1)
    for _ in range(80):
        video = f'v{rng.integers(0, 7)}'  # v6 has no ground truth
        start = rng.uniform(0, 50)
        # duplicates make tIoU ties between predictions and between ground truths
        prediction.append([video, 0, start, start + rng.uniform(2, 15), rng.random()])
    thresholds = [0.1, 0.3, 0.5, 0.7]
    ranked = [(p[0], p[2], p[3]) for p in sorted(prediction, key=lambda p: -p[4])]
    expected = _detection_ap_reference({k: v.tolist() for k, v in gt.items()}, ranked, thresholds)
    np.testing.assert_allclose(average_precision_at_temporal_iou(gt, prediction, thresholds), expected,
                               rtol=1e-9)


def test_average_recall_at_avg_proposals_hand_computed():
    gt = {'a': np.array([[0., 10.]]), 'b': np.array([[0., 10.], [20., 30.]])}
    proposals = {'a': np.array([[0., 10., .9], [50., 60., .8]]),
                 'b': np.array([[20., 31., .3], [0., 4., .9]])}
    recall, average_recall, per_video, auc = average_recall_at_avg_proposals(
        gt, proposals, total_num_proposals=4, temporal_iou_thresholds=np.array([.5, .95]))
    assert recall.shape == (2, 100) and per_video.shape == (100,)
    np.testing.assert_allclose(per_video, np.arange(1, 101) / 100 * 2)
    # fractions below 50 % keep no proposal (int(2 x f) = 0); from 50 % on, the best one:
    # a's [0, 10] finds its ground truth (tIoU 1), b's [0, 4] does not (0.4) -> 1 of 3;
    # at 100 % also b's [20, 31] (tIoU 10/11: above 0.5, below 0.95) -> 2 of 3
    np.testing.assert_allclose(recall[0], [0] * 49 + [1 / 3] * 50 + [2 / 3])
    np.testing.assert_allclose(recall[1], [0] * 49 + [1 / 3] * 51)
    np.testing.assert_allclose(average_recall, recall.mean(axis=0))
    area = np.sum(np.diff(per_video) * (average_recall[1:] + average_recall[:-1]) / 2)
    assert auc == pytest.approx(100 * area / 2)
    with pytest.raises(KeyError, match="no proposals for video 'b'"):
        average_recall_at_avg_proposals(gt, {'a': proposals['a']}, 2)


def test_average_recall_random_against_reference():
    rng = np.random.default_rng(4)
    gt, proposals = {}, {}
    for v in range(5):
        starts = rng.uniform(0, 40, rng.integers(1, 4))
        gt[v] = np.stack([starts, starts + rng.uniform(3, 12, len(starts))], 1)
        starts = rng.uniform(0, 40, rng.integers(3, 30))
        proposals[v] = np.stack([starts, starts + rng.uniform(3, 12, len(starts)),
                                 rng.random(len(starts))], 1)
    total = sum(len(p) for p in proposals.values())
    thresholds = np.array([.3, .5, .7])
    recall, _, _, _ = average_recall_at_avg_proposals(gt, proposals, total, 10, thresholds)
    np.testing.assert_allclose(recall, _recall_reference(gt, proposals, total, 10, thresholds))


def _write_activitynet(tmp_path, gt: dict, results: dict):
    gt_file, pred_file = tmp_path / 'gt.json', tmp_path / 'pred.json'
    gt_file.write_text(json.dumps({video: {'annotations': [{'label': label, 'segment': seg}
                                                           for label, seg in annos]}
                                   for video, annos in gt.items()}))
    pred_file.write_text(json.dumps({'results': {video: [{'label': label, 'segment': seg, 'score': s}
                                                          for label, seg, s in preds]
                                                  for video, preds in results.items()}}))
    return gt_file, pred_file


def test_activitynet_localization_hand_computed(tmp_path):
    gt = {'v_x1': [('jump', [0, 10]), ('run', [20, 30])], 'v_x2': [('jump', [5, 15])]}
    results = {'x1': [('jump', [0, 10], .9), ('run', [22, 30], .8), ('run', [0, 5], .95)],
               'x2': [('jump', [30, 40], .7)]}
    gt_file, pred_file = _write_activitynet(tmp_path, gt, results)
    evaluator = ActivityNetLocalization(gt_file, pred_file, tiou_thresholds=np.array([.5, .85]))
    assert evaluator.activity_index == {'jump': 0, 'run': 1}
    mean_ap, average = evaluator.evaluate()
    # jump: hit then miss, 2 ground truths -> AP 1/2 at both thresholds
    # run: [0,5] (0.95) misses, [22,30] (tIoU 0.8) hits at 0.5 only -> 1/2 at 0.5, 0 at 0.85
    np.testing.assert_allclose(evaluator.ap, [[.5, .5], [.5, 0.]])
    np.testing.assert_allclose(mean_ap, [.5, .25])
    assert average == pytest.approx(.375)


def test_activitynet_localization_random_against_reference(tmp_path):
    rng = np.random.default_rng(5)
    labels = ['a', 'b', 'c']
    gt = {f'v_{v}': [(labels[rng.integers(3)], sorted(rng.uniform(0, 60, 2).round(1).tolist()))
                     for _ in range(rng.integers(1, 4))] for v in range(8)}
    results = {str(v): [(labels[rng.integers(3)], sorted(rng.uniform(0, 60, 2).round(1).tolist()),
                         round(float(rng.random()), 2)) for _ in range(rng.integers(0, 12))]
               for v in range(9)}
    evaluator = ActivityNetLocalization(*_write_activitynet(tmp_path, gt, results))
    evaluator.evaluate()
    for label, index in evaluator.activity_index.items():
        class_gt = {}
        for video, annos in gt.items():
            segs = [seg for lab, seg in annos if lab == label]
            if segs:
                class_gt[video[2:]] = segs
        preds = [(video, seg, s) for video, items in results.items() for lab, seg, s in items if lab == label]
        ranked = [(v, seg[0], seg[1]) for v, seg, _ in sorted(preds, key=lambda p: -p[2])]  # stable
        np.testing.assert_allclose(evaluator.ap[:, index],
                                   _detection_ap_reference(class_gt, ranked, THRESHOLDS), rtol=1e-9)


def test_activitynet_localization_errors(tmp_path):
    gt_file, pred_file = _write_activitynet(tmp_path, {'v_x': [('jump', [0, 1])]},
                                            {'x': [('swim', [0, 1], .5)]})
    with pytest.raises(ValueError, match="video x has label 'swim', which the ground truth does not have"):
        ActivityNetLocalization(gt_file, pred_file)
    with pytest.raises(FileNotFoundError, match='prediction file not found: .*missing.json'):
        ActivityNetLocalization(gt_file, tmp_path / 'missing.json')
    with pytest.raises(OSError, match='give the ground truth file'):
        ActivityNetLocalization(None, pred_file)
    pred_file.write_text('{"results": [1, 2]}')
    with pytest.raises(ValueError, match='expected {"results"'):
        ActivityNetLocalization(gt_file, pred_file)


def test_pairwise_temporal_iou_computes_in_the_input_float_type():
    # MMAction2 computes float32 segments in float32: 0.79999995 here, just below 0.8
    gt = np.array([[6.4, 81.8]], np.float32)
    proposal = np.array([[6.58, 66.9]], np.float32)
    inter = min(proposal[0, 1], gt[0, 1]) - max(proposal[0, 0], gt[0, 0])  # float32 math
    union = (gt[0, 1] - gt[0, 0]) + (proposal[0, 1] - proposal[0, 0]) - inter
    expected = np.float32(float(inter) / union)
    iou = pairwise_temporal_iou(proposal, gt)
    assert iou.dtype == np.float32 and iou[0, 0] == expected == np.float32(0.79999995)
    assert not iou[0, 0] >= 0.8
    # float64 segments stay float64 (the same numbers reach 0.8), integers become float64
    assert pairwise_temporal_iou(proposal.astype(np.float64).round(2), gt.astype(np.float64).round(1))[0, 0] \
        == np.float32(0.8)
    np.testing.assert_array_equal(pairwise_temporal_iou(np.array([1, 3]), np.array([[0, 2], [2, 4]])),
                                  np.float32([1 / 3, 1 / 3]))


def test_average_recall_with_a_video_that_keeps_no_proposal():
    # 2 proposals per video on average from 11: ratio 4/11 keeps 3 of a's 10 and 0 of b's 1,
    # so b recalls nothing (MMAction2 gives AUC 37.75)
    gt = {'a': np.array([[0., 10.]]), 'b': np.array([[5., 9.]])}
    proposals = {'a': np.c_[np.tile([[0., 10.]], (10, 1)), np.linspace(1, .1, 10)],
                 'b': np.array([[5., 9., .9]])}
    recall, average_recall, per_video, auc = average_recall_at_avg_proposals(
        gt, proposals, total_num_proposals=11, max_avg_proposals=2)
    # a's first kept proposal matches exactly; it counts once a's cutoff int(3 f) >= 1
    fractions = np.arange(1, 101) / 100 * (2 * 2 / 3)
    expected = (np.floor(3 * fractions) >= 1) / 2
    np.testing.assert_allclose(recall, np.tile(expected, (10, 1)))
    np.testing.assert_allclose(per_video, fractions * 3 / 2)
    assert auc == pytest.approx(37.75)
    np.testing.assert_allclose(recall, _recall_reference(gt, proposals, 11, 2, THRESHOLDS))


def test_activitynet_strips_v_from_ground_truth_ids_only(tmp_path):
    # a YouTube id that itself starts with "v_": ground truth "v_v_abc", results "v_abc"
    gt_file, pred_file = _write_activitynet(tmp_path, {'v_v_abc': [('run', [0, 10])]},
                                            {'v_abc': [('run', [0, 10], .9)]})
    _, average = ActivityNetLocalization(gt_file, pred_file).evaluate()
    assert average == 1.0
    # a results id with the prefix names no ground-truth video
    gt_file, pred_file = _write_activitynet(tmp_path, {'v_abc': [('run', [0, 10])]},
                                            {'v_abc': [('run', [0, 10], .9)]})
    _, average = ActivityNetLocalization(gt_file, pred_file).evaluate()
    assert average == 0.0
