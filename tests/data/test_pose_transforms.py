"""Skeleton transforms: frame selection, Kinetics pose pickles, compact crops, heatmap
peaks, normalisation, bones and the GCN layout."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from actionlab.data.transforms import (
    TRANSFORMS,
    FormatGCNInput,
    GeneratePoseTarget,
    JointToBone,
    LoadKineticsPose,
    PoseCompact,
    PoseDecode,
    PoseNormalize,
)


def test_pose_decode_selects_frames_with_offset():
    kp = np.arange(2 * 10 * 3 * 2, dtype=np.float16).reshape(2, 10, 3, 2)
    score = np.arange(2 * 10 * 3, dtype=np.float64).reshape(2, 10, 3)
    out = PoseDecode()(dict(keypoint=kp, keypoint_score=score, frame_inds=np.array([[1, 3, 3]]),
                            offset=2))
    assert out['keypoint'].dtype == np.float32 and out['keypoint_score'].dtype == np.float32
    assert np.array_equal(out['keypoint'], kp[:, [3, 5, 5]])
    assert np.array_equal(out['keypoint_score'], score[:, [3, 5, 5]])
    assert out['frame_inds'].tolist() == [1, 3, 3]
    out = PoseDecode()(dict(keypoint=kp, total_frames=10))
    assert out['keypoint'].shape == (2, 10, 3, 2)


def _detection(x, score, num_kp=17):
    kp = np.zeros((num_kp, 3), np.float32)
    kp[:, 0], kp[:, 1], kp[:, 2] = x, x + 1, score
    return kp


@pytest.fixture
def kinetics_pickle(tmp_path):
    """Five detections: two in frame 0 and three in frame 2 (frame 1 has none)."""
    kps = np.stack([_detection(1, 0.9), _detection(2, 0.8),
                    _detection(3, 0.1), _detection(4, 0.5), _detection(5, 0.7)])
    path = tmp_path / 'pose.pkl'
    path.write_bytes(pickle.dumps(kps))
    return path, np.array([0, 0, 2, 2, 2])


def test_load_kinetics_pose_squeezes_frames_and_ranks_persons(kinetics_pickle):
    path, frame_inds = kinetics_pickle
    out = LoadKineticsPose()(dict(filename=str(path), frame_inds=frame_inds, total_frames=3,
                                  img_shape=(100, 100), box_score=[1] * 5))
    assert 'filename' not in out and 'frame_inds' not in out and 'box_score' not in out
    assert out['keypoint'].shape == (3, 2, 17, 2) and out['keypoint'].dtype == np.float16
    assert out['total_frames'] == 2 and out['num_person'] == 3
    assert out['keypoint'][:, 1, 0, 0].tolist() == [3, 4, 5]  # frame 2 became frame 1
    assert out['keypoint'][:, 0, 0, 0].tolist() == [1, 2, 0]
    assert np.allclose(out['keypoint_score'][:, 1, 0], [0.1, 0.5, 0.7], atol=1e-3)
    out = LoadKineticsPose(max_person=2)(dict(filename=str(path), frame_inds=frame_inds,
                                              total_frames=3, img_shape=(100, 100)))
    # frame 1 keeps its two best-scored persons, best first
    assert out['keypoint'].shape == (2, 2, 17, 2) and out['num_person'] == 2
    assert out['keypoint'][:, 1, 0, 0].tolist() == [5, 4]
    out = LoadKineticsPose(squeeze=False)(dict(filename=str(path), frame_inds=frame_inds,
                                                total_frames=3, img_shape=(100, 100),
                                                anno_inds=np.array([0, 3, 4])))
    assert out['keypoint'].shape == (2, 3, 17, 2)
    assert out['keypoint'][:, 2, 0, 0].tolist() == [4, 5] and not out['keypoint'][:, 1].any()


def test_load_kinetics_pose_openpose_scales_and_errors(kinetics_pickle, tmp_path):
    path, frame_inds = kinetics_pickle
    kps = np.stack([_detection(0.5, 0.9, num_kp=18)])
    (tmp_path / 'op.pkl').write_bytes(pickle.dumps(kps))
    out = LoadKineticsPose(source='openpose-18')(dict(
        filename=str(tmp_path / 'op.pkl'), frame_inds=np.array([0]), total_frames=1,
        img_shape=(40, 80)))
    assert out['keypoint'][0, 0, 0].tolist() == [40, 60]  # x * w, y * h
    with pytest.raises(ValueError, match='source must be one of mmpose, openpose-18'):
        LoadKineticsPose(source='openpose')
    with pytest.raises(FileNotFoundError, match='pose file not found'):
        LoadKineticsPose()(dict(filename=str(tmp_path / 'none.pkl'), frame_inds=frame_inds,
                                total_frames=3, img_shape=(1, 1)))


def test_pose_compact_box_ratio_and_padding():
    def results():
        kp = np.zeros((1, 2, 3, 2), np.float32)
        kp[0, 0, :2] = [[20, 10], [60, 50]]  # joint 2 of frame 0 and frame 1 are missing (0)
        kp[0, 1, 0] = [40, 30]
        return dict(keypoint=kp, img_shape=(100, 100))

    out = PoseCompact(padding=0.25, threshold=10)(results())
    # tight box x 20..60, y 10..50, centre (40, 30), 1.25 x 40 = 50 wide -> [15, 5, 65, 55]
    assert out['img_shape'] == (50, 50)
    assert out['keypoint'][0, 0].tolist() == [[5, 5], [45, 45], [0, 0]]
    assert np.allclose(out['crop_quadruple'], [0.15, 0.05, 0.5, 0.5])
    out = PoseCompact(padding=0.25, hw_ratio=2)(results())  # h = 2 w: y from -20 to 80
    assert out['img_shape'] == (100, 50) and out['keypoint'][0, 0, 0].tolist() == [5, 30]
    out = PoseCompact(padding=0.25, hw_ratio=2, allow_imgpad=False)(results())
    assert out['img_shape'] == (80, 50) and out['keypoint'][0, 0, 0].tolist() == [5, 10]
    small = results()
    small['keypoint'][0, 0, 1] = [25, 12]
    small['keypoint'][0, 1, 0] = [22, 11]
    out = PoseCompact(threshold=10)(small)  # a 5 x 2 px box: left alone
    assert out['img_shape'] == (100, 100) and 'crop_quadruple' not in out


def test_generate_pose_target_keypoint_peaks():
    kp = np.array([[[[5., 4.], [0., 0.], [9., 7.]]]])  # 1 person, 1 frame, 3 joints
    score = np.array([[[0.8, 0.0, 1.0]]])
    target = GeneratePoseTarget(sigma=0.6, skeletons=(), left_kp=(1,), right_kp=(2,))
    out = target(dict(keypoint=kp, keypoint_score=score, img_shape=(10, 12)))['imgs']
    assert out.shape == (1, 10, 12, 3) and out.dtype == np.float32
    assert out[0, 4, 5, 0] == pytest.approx(0.8)  # peak = the joint's score
    assert out[0, 4, 6, 0] == pytest.approx(0.8 * np.exp(-1 / (2 * 0.36)))
    assert out[0, 4, 7, 0] == 0  # beyond int(5 + 3 sigma)
    assert not out[..., 1].any()  # score 0: skipped
    assert out[0, 7, 9, 2] == pytest.approx(1.0)
    flat = GeneratePoseTarget(use_score=False, skeletons=())(
        dict(keypoint=kp, keypoint_score=score, img_shape=(10, 12)))['imgs']
    assert flat[0, 4, 5, 0] == pytest.approx(1.0) and flat[0, 0, 0, 1] == pytest.approx(1.0)
    double = GeneratePoseTarget(skeletons=(), double=True, left_kp=(1,), right_kp=(2,))(
        dict(keypoint=kp, keypoint_score=score, img_shape=(10, 12)))['imgs']
    assert double.shape == (2, 10, 12, 3)
    # flipped: joint 0 at x = 12 - 5 = 7; joints 1 and 2 swap channels
    assert double[1, 4, 7, 0] == pytest.approx(0.8)
    assert double[1, 7, 3, 1] == pytest.approx(1.0) and not double[1, ..., 2].any()


def test_generate_pose_target_limbs():
    kp = np.array([[[[2., 2.], [8., 2.], [8., 2.4]]]])
    score = np.array([[[0.9, 0.6, 1.0]]])
    out = GeneratePoseTarget(sigma=1.0, with_kp=False, with_limb=True,
                             skeletons=((0, 1), (1, 2)))(
        dict(keypoint=kp, keypoint_score=score, img_shape=(8, 12)))['imgs']
    assert out.shape == (1, 8, 12, 2)
    assert out[0, 2, 5, 0] == pytest.approx(0.6)  # on the segment: the smaller end score
    assert out[0, 3, 5, 0] == pytest.approx(0.6 * np.exp(-0.5))  # 1 px from it
    assert out[0, 2, 0, 0] == pytest.approx(0.6 * np.exp(-4 / 2))  # 2 px beyond the start
    # a limb shorter than 1 px is drawn as its start joint
    assert out[0, 2, 8, 1] == pytest.approx(0.6) and out[0, 2, 9, 1] == pytest.approx(
        0.6 * np.exp(-0.5))
    with pytest.raises(ValueError, match='at least one of with_kp and with_limb'):
        GeneratePoseTarget(with_kp=False)


def test_pose_normalize_joint_to_bone_and_gcn_input():
    kp = np.arange(2 * 3 * 17 * 3, dtype=np.float32).reshape(2, 3, 17, 3)
    bone = JointToBone(dataset='coco')(dict(keypoint=kp))['keypoint']
    assert not bone[..., 0, :2].any()  # the root's bone is empty, its score stays
    assert np.array_equal(bone[..., 0, 2], kp[..., 0, 2])
    assert np.array_equal(bone[..., 7, :2], kp[..., 7, :2] - kp[..., 5, :2])
    assert np.array_equal(bone[..., 7, 2], (kp[..., 7, 2] + kp[..., 5, 2]) / 2)
    ntu = np.random.default_rng(0).normal(size=(1, 2, 25, 3)).astype(np.float32)
    bone = JointToBone()(dict(keypoint=ntu))['keypoint']
    assert np.allclose(bone[0, :, 21], ntu[0, :, 21] - ntu[0, :, 22])  # z is a coordinate
    kp18 = np.arange(18 * 3, dtype=np.float32).reshape(1, 1, 18, 3)
    bone = JointToBone('openpose')(dict(keypoint=kp18))['keypoint']  # earlier 0.x name
    assert np.array_equal(bone, JointToBone('openpose-18')(dict(keypoint=kp18))['keypoint'])
    assert np.array_equal(bone[0, 0, 17, :2], kp18[0, 0, 17, :2] - kp18[0, 0, 15, :2])
    with pytest.raises(ValueError, match='dataset must be one of'):
        JointToBone('h36m')

    kp2 = np.arange(1 * 2 * 3 * 2, dtype=np.float32).reshape(1, 2, 3, 2)
    score = np.full((1, 2, 3), 0.5, np.float32)
    out = FormatGCNInput('NCTVM', num_person=2)(dict(keypoint=kp2, keypoint_score=score))
    gcn = out['keypoint']
    assert gcn.shape == (3, 2, 3, 2) and out['input_shape'] == (3, 2, 3, 2)
    assert np.array_equal(gcn[:2, :, :, 0], kp2[0].transpose(2, 0, 1))
    assert (gcn[2, :, :, 0] == 0.5).all() and not gcn[..., 1].any()  # padded person
    three = FormatGCNInput('NCTVM')(dict(keypoint=np.ones((3, 2, 3, 2))))['keypoint']
    assert three.shape == (2, 2, 3, 2)

    norm = PoseNormalize()(dict(keypoint=gcn))
    expected = (gcn - np.array([960, 540, 0.5]).reshape(3, 1, 1, 1)) / \
        np.array([1920, 1080, 1.]).reshape(3, 1, 1, 1)
    assert np.allclose(norm['keypoint'], expected)
    assert set(norm['keypoint_norm_cfg']) == {'mean', 'min_value', 'max_value'}
    with pytest.raises(ValueError, match='use it after FormatGCNInput'):
        PoseNormalize()(dict(keypoint=np.zeros((1, 2, 3, 2))))


def test_posec3d_pipeline_from_configs():
    kp = np.zeros((1, 20, 17, 2), np.float32)
    kp[0, :, :, 0] = np.linspace(10, 50, 17)
    kp[0, :, :, 1] = np.linspace(20, 60, 17)[:, None].T
    pipeline = [dict(type='UniformSampleFrames', clip_len=8),
                dict(type='PoseDecode'),
                dict(type='PoseCompact', hw_ratio=1., allow_imgpad=True),
                dict(type='Resize', scale=(-1, 32)),
                dict(type='CenterCrop', crop_size=28),
                dict(type='Flip', flip_ratio=0.5, left_kp=[1, 3], right_kp=[2, 4]),
                dict(type='GeneratePoseTarget', sigma=0.6, use_score=True),
                dict(type='FormatShape', input_format='NCTHW'),
                dict(type='Collect', keys=['imgs', 'label'], meta_keys=[])]
    steps = [TRANSFORMS.build(step) for step in pipeline]
    results = dict(keypoint=kp, keypoint_score=np.ones((1, 20, 17), np.float32), label=1,
                   total_frames=20, start_index=0, img_shape=(80, 80), modality='Pose')
    np.random.seed(0)
    for step in steps:
        results = step(results)
    assert results['imgs'].shape == (1, 17, 8, 28, 28)
    assert results['imgs'].max() == pytest.approx(1.0, abs=1e-6)
