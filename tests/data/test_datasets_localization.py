"""Localization datasets: ActivityNet features and AR@AN, SSN proposal files, pools and
samples, from annotation files made in the tests."""
from __future__ import annotations

import json

import numpy as np
import pytest

from actionlab.data.datasets import ActivityNetDataset, SSNDataset
from actionlab.data.datasets.ssn import load_localize_proposal_file


@pytest.fixture
def anet(tmp_path):
    database = {
        'v_a': dict(duration_second=10., duration_frame=100, feature_frame=100, fps=10., rfps=10.,
                    annotations=[dict(segment=[2., 5.], label='run')]),
        'v_b': dict(duration_second=20., duration_frame=200, feature_frame=160, fps=10., rfps=10.,
                    annotations=[dict(segment=[4., 8.], label='jump')]),
    }
    ann = tmp_path / 'anet.json'
    ann.write_text(json.dumps(database))
    features = tmp_path / 'features'
    features.mkdir()
    for name in database:
        np.savetxt(features / f'{name}.csv', np.ones((5, 2)), delimiter=',', header='a,b',
                   comments='')
    return ann, features


def test_activitynet_samples_and_labels(anet):
    ann, features = anet
    pipeline = [dict(type='LoadLocalizationFeature'), dict(type='GenerateLocalizationLabels')]
    dataset = ActivityNetDataset(ann, pipeline, data_prefix=features)
    assert [info['video_name'] for info in dataset.video_infos] == ['v_a', 'v_b']
    sample = dataset[1]
    assert sample['raw_feature'].shape == (2, 5)
    assert np.allclose(sample['gt_bbox'], [[0.25, 0.5]])  # 160 of 200 frames: 16 s
    ann.write_text(json.dumps({'v_a': dict(duration_second=1.)}))
    with pytest.raises(ValueError, match="video 'v_a' lacks"):
        ActivityNetDataset(ann, [])


def test_activitynet_ar_at_an_and_dumps(anet, tmp_path):
    ann, _ = anet
    dataset = ActivityNetDataset(ann, [])
    hit = [dict(video_name='v_a', proposal_list=[dict(segment=[2., 5.], score=0.9)]),
           dict(video_name='v_b', proposal_list=[dict(segment=[4., 8.], score=0.8)])]
    out = dataset.evaluate(hit)
    assert set(out) == {'auc', 'AR@1', 'AR@5', 'AR@10', 'AR@100'}
    assert out['AR@1'] == out['AR@100'] == 1.0 and out['auc'] == pytest.approx(99.0)
    half = [hit[0], dict(video_name='v_b', proposal_list=[dict(segment=[15., 19.], score=0.8)])]
    out = dataset.evaluate(half, metric_options={'AR@AN': dict(temporal_iou_thresholds=[0.5])})
    assert out['AR@100'] == 0.5 and out['auc'] == pytest.approx(49.5)
    with pytest.raises(KeyError, match="'mAP' is not supported; allowed: AR@AN"):
        dataset.evaluate(hit, metrics='mAP')

    dataset.dump_results(hit, tmp_path / 'sub.json', 'json')
    submission = json.loads((tmp_path / 'sub.json').read_text())
    assert submission['version'] == 'VERSION 1.3'
    assert submission['results']['a'] == [dict(segment=[2., 5.], score=0.9)]
    dataset.dump_results([('v_a', np.array([[0.5, 0.1, 0.2, 0.3, 0.4]]))], tmp_path / 'tem', 'csv')
    lines = (tmp_path / 'tem' / 'v_a.csv').read_text().splitlines()
    assert lines[0] == 'action,start,end,tmin,tmax' and len(lines) == 2
    with pytest.raises(ValueError, match="output_format must be 'json' or 'csv'"):
        dataset.dump_results(hit, tmp_path / 'x', 'pkl')


PROPOSALS = '''# 0
video_a
100
1
1
1 20 40
4
1 0.8 0.9 22 41
1 0.9 1.0 20 40
1 0.1 0.9 25 30
0 0.0 0.0 60 90
# 1
video_b
50
1
0
1
0 0.0 0.0 0 10
'''

TRAIN_CFG = dict(ssn=dict(
    assigner=dict(positive_iou_threshold=0.7, background_iou_threshold=0.01,
                  incomplete_iou_threshold=0.3, background_coverage_threshold=0.02,
                  incomplete_overlap_threshold=0.01),
    sampler=dict(num_per_video=8, positive_ratio=1, background_ratio=1, incomplete_ratio=6,
                 add_gt_as_proposals=True)))
TEST_CFG = dict(ssn=dict(sampler=dict(test_interval=6, batch_size=16),
                         evaluater=dict(top_k=2000, nms=0.2, softmax_before_filter=True,
                                        cls_score_dict=None, cls_top_k=2)))


@pytest.fixture
def ssn_file(tmp_path):
    path = tmp_path / 'thumos_proposals.txt'
    path.write_text(PROPOSALS)
    return path


def test_load_localize_proposal_file(ssn_file, tmp_path):
    videos = load_localize_proposal_file(ssn_file)
    assert [v[:2] for v in videos] == [('video_a', 100), ('video_b', 50)]
    assert videos[0][2] == [['1', '20', '40']] and len(videos[0][3]) == 4 and videos[1][2] == []
    (tmp_path / 'bad.txt').write_text('# 0\nvideo_a\n100\n1\n3\n1 2 3\n')
    with pytest.raises(ValueError, match='video block 0 is malformed'):
        load_localize_proposal_file(tmp_path / 'bad.txt')


def test_ssn_dataset_pools_and_regression_constants(ssn_file):
    dataset = SSNDataset(ssn_file, [], TRAIN_CFG, TEST_CFG, data_prefix='frames')
    assert [info['video_id'] for info in dataset.video_infos] == ['video_a']  # b has no gt
    assert dataset.video_infos[0]['frame_dir'] == 'frames/video_a'
    # positives: the two proposals with IoU > 0.7 and the ground truth
    assert len(dataset.positive_pool) == 3 and len(dataset.incomplete_pool) == 1
    assert len(dataset.background_pool) == 1
    assert (dataset.positive_per_video, dataset.incomplete_per_video,
            dataset.background_per_video) == (1, 6, 1)
    # proposal [22, 41): centre 31, size 19 vs ground truth [20, 40): centre 29.5, size 20
    loc, size = (29.5 - 31) / 19, np.log(20 / 19)
    assert np.allclose(dataset.reg_norm_consts, [[loc / 2, size / 2], [abs(loc) / 2, size / 2]])


def test_ssn_train_and_test_samples(ssn_file):
    pipeline = [dict(type='SampleProposalFrames', clip_len=1, body_segments=5,
                     aug_segments=(2, 2), aug_ratio=0.5)]
    consts = [[0., 0.], [0.1, 0.2]]
    dataset = SSNDataset(ssn_file, pipeline, TRAIN_CFG, TEST_CFG, data_prefix=None,
                         reg_normalize_constants=consts)
    np.random.seed(0)
    sample = dataset[0]
    assert sample['proposal_type'].tolist() == [0] + [1] * 6 + [2]
    assert sample['proposal_labels'].tolist() == [1] * 7 + [0]
    reg = sample['reg_targets']
    positive = sample['out_proposals'][0][0][1]
    assert np.allclose(reg[0], np.array(positive.regression_targets) / [0.1, 0.2])
    assert not reg[1:].any()  # negatives keep zero targets
    assert sample['frame_inds'].shape == (8 * 9,) and sample['num_proposals'] == 8
    # the incomplete proposal [25, 30) asks for 2.5 frames of context on each side; int(2.5)
    # = 2 are taken, one valid clip start each: (1 + clip span 1 + 1) / 2.5
    assert np.allclose(sample['proposal_scale_factor'][1], [1.2, 1.2])

    test_set = SSNDataset(ssn_file, [], TRAIN_CFG, TEST_CFG, data_prefix=None, test_mode=True,
                          reg_normalize_constants=consts)
    sample = test_set[0]
    assert np.allclose(sample['relative_proposal_list'][1], [0.2, 0.4])
    # 17 ticks (0, 6, ..., 96); [0.1, 0.2, 0.4, 0.5] * 17
    assert sample['proposal_tick_list'][1].tolist() == [1, 3, 6, 8]
    assert np.allclose(sample['scale_factor_list'][1], [1., 1.])
    assert np.array_equal(sample['reg_norm_consts'], consts)


def test_ssn_results_to_detections(ssn_file):
    dataset = SSNDataset(ssn_file, [], TRAIN_CFG, TEST_CFG, data_prefix=None,
                         reg_normalize_constants=[[0., 0.], [1., 1.]])
    result = dict(relative_proposal_list=np.array([[0.1, 0.3], [0.5, 0.9]]),
                  activity_scores=np.array([[0., 2., 0.], [0., 0., 1.]]),
                  completeness_scores=np.zeros((2, 2)), bbox_preds=None)
    detections = dataset.results_to_detections([result], top_k=2)
    e = np.exp(1) / (1 + np.exp(1))  # softmax of (1, 0)
    e2 = np.exp(2) / (1 + np.exp(2))
    assert np.allclose(detections[0]['video_a'], [[0.1, 0.3, e2, 0, 0]])
    assert np.allclose(detections[1]['video_a'], [[0.5, 0.9, e, 0, 0]])
    everything = dataset.results_to_detections([result], top_k=0)
    assert everything[1]['video_a'].shape == (2, 5)
    with pytest.raises(NotImplementedError, match='results_to_detections'):
        dataset.evaluate([result])


def test_activitynet_dump_results_numpy_values_and_format_from_suffix(anet, tmp_path):
    dataset = ActivityNetDataset(anet[0], [])
    # what BMN-style localizers return: NumPy segments and scores
    results = [dict(video_name='v_a', proposal_list=[
        dict(segment=np.array([2., 5.]), score=np.float32(0.5)),
        dict(segment=np.array([1.25, 3.]), score=np.float64(0.25))])]
    dataset.dump_results(results, tmp_path / 'sub.json')  # as `actionlab test --out` calls it
    submission = json.loads((tmp_path / 'sub.json').read_text())
    assert submission == dict(version='VERSION 1.3', external_data={}, results={'a': [
        dict(segment=[2., 5.], score=0.5), dict(segment=[1.25, 3.], score=0.25)]})
    dataset.dump_results([('v_b', np.array([[0.5, 0.125, 0.25, 0.5, 1.]]))], tmp_path / 'tem')
    lines = (tmp_path / 'tem' / 'v_b.csv').read_text().splitlines()
    assert lines[0] == 'action,start,end,tmin,tmax'
    assert np.allclose([float(v) for v in lines[1].split(',')], [0.5, 0.125, 0.25, 0.5, 1.])


def test_ssn_empty_dataset_pool_names_the_pool_and_thresholds(ssn_file):
    assigner = dict(TRAIN_CFG['ssn']['assigner'], background_coverage_threshold=0.99)
    train_cfg = dict(ssn=dict(TRAIN_CFG['ssn'], assigner=assigner))
    for video_centric in (True, False):
        dataset = SSNDataset(ssn_file, [], train_cfg, TEST_CFG, data_prefix=None,
                             video_centric=video_centric)
        assert dataset.background_pool == [] and dataset.background_per_video == 1
        with pytest.raises(ValueError, match=r'no proposal of the dataset is background, but 1 '
                                             r'background proposals per video .*'
                                             r'background_iou_threshold=0\.01, '
                                             r'background_coverage_threshold=0\.99'):
            dataset[0]


def test_ssn_pools_are_computed_once(ssn_file, monkeypatch):
    dataset = SSNDataset(ssn_file, [], TRAIN_CFG, TEST_CFG, data_prefix=None)
    positives, incompletes, backgrounds = dataset.video_pools[0]
    assert [(p.start_frame, p.end_frame) for p in positives] == [(22, 41), (20, 40), (20, 40)]
    assert positives[-1] is dataset.video_infos[0]['gts'][0]  # the ground truth, last
    assert [(p.start_frame, p.end_frame) for p in incompletes + backgrounds] == [(25, 30),
                                                                                 (60, 90)]
    consts = dataset.reg_norm_consts

    def recompute(*args, **kwargs):
        raise AssertionError('pools recomputed')

    monkeypatch.setattr(SSNDataset, 'get_positives', staticmethod(recompute))
    monkeypatch.setattr(SSNDataset, 'get_negatives', staticmethod(recompute))
    np.random.seed(0)
    sample = dataset[0]
    assert sample['proposal_type'].tolist() == [0] + [1] * 6 + [2]
    assert {p[0][1].end_frame for p in sample['out_proposals'][1:7]} == {30}
    assert np.array_equal(dataset._compute_reg_normalize_constants(), consts)


def test_ssn_results_to_detections_stacks_each_class_in_score_order(ssn_file):
    dataset = SSNDataset(ssn_file, [], TRAIN_CFG, TEST_CFG, data_prefix=None,
                         reg_normalize_constants=[[0., 0.], [1., 1.]])
    rng = np.random.default_rng(0)
    result = dict(relative_proposal_list=rng.random((5, 2)), activity_scores=rng.random((5, 3)),
                  completeness_scores=rng.random((5, 2)), bbox_preds=rng.random((5, 4)))
    detections = dataset.results_to_detections([result], top_k=6)
    e = np.exp(result['activity_scores'][:, 1:])
    scores = e / e.sum(1, keepdims=True) * np.exp(result['completeness_scores'])
    ranked = sorted((scores[p, c], p, c) for p in range(5) for c in range(2))[-6:]
    for c in range(2):
        rows = [[*result['relative_proposal_list'][p], s, *result['bbox_preds'][p, 2 * c:2 * c + 2]]
                for s, p, cls in ranked if cls == c]
        assert np.allclose(detections[c]['video_a'], rows)
    assert sum(len(d['video_a']) for d in detections) == 6
