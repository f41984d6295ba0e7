"""Recognition datasets beyond videos and frame folders: OmniSource raw videos and
images, audio, HVU tags and skeletons, from annotation files made in the tests."""
from __future__ import annotations

import json
import pickle
import random
import re

import cv2
import numpy as np
import pytest

from actionlab.data.datasets import (
    AudioDataset,
    AudioFeatureDataset,
    AudioVisualDataset,
    HVUDataset,
    ImageDataset,
    PoseDataset,
    RawVideoDataset,
    build_dataset,
)


def test_raw_video_dataset_picks_clips(tmp_path):
    ann = tmp_path / 'raw.txt'
    ann.write_text('vids/a 3 10 0 1 2\nvids/b 4 5\nvids/c 1 2 1\n')
    dataset = RawVideoDataset(ann, [], data_prefix='root')
    assert len(dataset) == 2  # b has no positive clip
    assert dataset.video_infos[0] == dict(video_dir='root/vids/a', label=3, num_clips=10,
                                          positive_clip_inds=[0, 1, 2])
    random.seed(0)
    picks = {dataset[0]['filename'] for _ in range(30)}
    assert picks == {f'root/vids/a/part_{i}.mp4' for i in range(3)}
    assert dataset[1]['filename'] == 'root/vids/c/part_1.mp4' and dataset[1]['start_index'] == 0
    dataset = RawVideoDataset(ann, [], clipname_tmpl='_{}.mp4', sampling_strategy='random')
    random.seed(1)
    names = {dataset[1]['filename'] for _ in range(40)}
    assert len(dataset) == 3 and names == {f'vids/b_{i}.mp4' for i in range(5)}
    ann.write_text('vids/a 3 2 5\n')
    with pytest.raises(ValueError, match='positive clip 5 is out of range for 2 clips'):
        RawVideoDataset(ann, [])
    with pytest.raises(ValueError, match='multi_class is not supported'):
        RawVideoDataset(ann, [], multi_class=True, num_classes=3)
    ann = tmp_path / 'raw.json'
    ann.write_text(json.dumps([dict(video_dir='a', label=1, num_clips=2, positive_clip_inds=[1])]))
    assert RawVideoDataset(ann, [], data_prefix='r').video_infos[0]['video_dir'] == 'r/a'


def test_image_dataset_with_pseudo_clips(tmp_path):
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 2
    (tmp_path / 'img').mkdir()
    cv2.imwrite(str(tmp_path / 'img' / 'b.png'), image[..., ::-1])  # lossless, BGR on disk
    ann = tmp_path / 'images.txt'
    ann.write_text('img/a.png 2\nimg/b.png 0 1\n')
    dataset = ImageDataset(ann, [dict(type='ImageDecode'), dict(type='BuildPseudoClip', clip_len=4),
                                 dict(type='FormatShape', input_format='NCTHW')],
                           data_prefix=tmp_path, multi_class=True, num_classes=3)
    sample = dataset[1]
    assert sample['filename'] == str(tmp_path / 'img' / 'b.png')
    assert sample['label'].tolist() == [1., 1., 0.] and dataset.start_index is None
    assert sample['imgs'].shape == (1, 3, 4, 4, 6)
    assert np.array_equal(sample['imgs'][0, :, 3], image.transpose(2, 0, 1))


def test_audio_datasets_paths_and_suffixes(tmp_path):
    ann = tmp_path / 'audio.txt'
    ann.write_text('clips/a 120 3\nclips/b.wav 80 1\n')
    dataset = build_dataset(dict(type='AudioDataset', ann_file=str(ann), pipeline=[],
                                 data_prefix='root'))
    assert isinstance(dataset, AudioDataset) and dataset.modality == 'Audio'
    assert dataset.video_infos == [dict(audio_path='root/clips/a.wav', total_frames=120, label=3),
                                   dict(audio_path='root/clips/b.wav', total_frames=80, label=1)]
    features = AudioFeatureDataset(ann, [])
    assert [i['audio_path'] for i in features.video_infos] == ['clips/a.npz', 'clips/b.wav.npz']
    assert AudioFeatureDataset(ann, [], suffix='.npy').video_infos[0]['audio_path'] == 'clips/a.npy'
    ann.write_text('clips/a three 3\n')
    with pytest.raises(ValueError, match='audio.txt:1.*expected "audio_path total_frames label'):
        AudioDataset(ann, [])


def test_audio_feature_pipeline_end_to_end(tmp_path):
    np.save(tmp_path / 'a.npy', np.random.default_rng(0).random((320, 80), dtype=np.float32))
    ann = tmp_path / 'ann.txt'
    ann.write_text('a 64 2\n')
    pipeline = [dict(type='LoadAudioFeature'),
                dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=1,
                     test_mode=True),
                dict(type='AudioFeatureSelector'),
                dict(type='FormatAudioShape', input_format='NCTF'),
                dict(type='Collect', keys=['audios', 'label'], meta_keys=[]),
                dict(type='ToTensor', keys=['audios'])]
    sample = AudioFeatureDataset(ann, pipeline, data_prefix=tmp_path, suffix='.npy')[0]
    assert sample['audios'].shape == (1, 1, 128, 80) and sample['label'] == 2


def test_audio_visual_dataset_adds_audio_and_video_paths(tmp_path):
    ann = tmp_path / 'frames.txt'
    ann.write_text('clip_a 30 1\n')
    (tmp_path / 'frames' / 'clip_a').mkdir(parents=True)
    dataset = AudioVisualDataset(ann, [], audio_prefix='audio', video_prefix='videos',
                                 data_prefix=tmp_path / 'frames')
    info = dataset.video_infos[0]
    assert info['audio_path'] == 'audio/clip_a.npy' and info['filename'] == 'videos/clip_a.mp4'
    assert info['frame_dir'] == str((tmp_path / 'frames' / 'clip_a').resolve())
    assert dataset[0]['filename_tmpl'] == 'img_{:05}.jpg'


@pytest.fixture
def hvu_ann(tmp_path):
    ann = tmp_path / 'hvu.json'
    ann.write_text(json.dumps([
        dict(filename='a.mp4', label=dict(action=[0, 2], object=[1])),
        dict(filename='b.mp4', label=dict(action=[1])),
        dict(filename='c.mp4', label=dict(object=[0], scene=[1])),
    ]))
    return ann


def test_hvu_dataset_samples_and_per_category_map(hvu_ann):
    kwargs = dict(tag_categories=['action', 'object', 'scene'], tag_category_nums=[3, 2, 2])
    dataset = HVUDataset(hvu_ann, [dict(type='LoadHVULabel')], data_prefix='v', **kwargs)
    sample = dataset[0]
    assert sample['filename'] == 'v/a.mp4' and sample['start_index'] == 0
    assert sample['label'].tolist() == [1, 0, 1, 0, 1, 0, 0]
    assert sample['mask'].tolist() == [1, 1, 1, 1, 1, 0, 0]
    results = [np.array([.9, .1, .8, .3, .7, 0, 0]), np.array([.2, .6, .1, 0, 0, 0, 0]),
               np.array([0, 0, 0, .6, .4, .2, .9])]
    out = dataset.evaluate(results)
    # action (a, b): classes 0, 1, 2 each perfectly ranked -> 1; object (a, c): class 0
    # ranks c (+) over a -> 1, class 1 ranks a (+) over c -> 1; scene (c only): class 1 -> 1
    assert out == pytest.approx({'action_mAP': 1.0, 'object_mAP': 1.0, 'scene_mAP': 1.0})
    results[2] = np.array([0, 0, 0, .2, .4, .2, .9])  # object class 0 now ranks a over c
    assert dataset.evaluate(results)['object_mAP'] == pytest.approx((1 / 2 + 1) / 2)
    dataset.check_num_classes(7)
    with pytest.raises(ValueError, match='has 7 tags in 3 categories, but the model has '
                                         'num_classes=5'):
        dataset.check_num_classes(5)
    with pytest.raises(ValueError, match="sample 0: tag 1 of category 'object' is out of range"):
        HVUDataset(hvu_ann, [], tag_categories=['action', 'object'], tag_category_nums=[3, 1])


def test_hvu_dataset_frame_folders_need_a_template(tmp_path):
    ann = tmp_path / 'hvu.json'
    ann.write_text(json.dumps([dict(frame_dir='f', total_frames=5, label=dict(action=[0]))]))
    kwargs = dict(tag_categories=['action'], tag_category_nums=[2])
    with pytest.raises(ValueError, match='frame folders need filename_tmpl'):
        HVUDataset(ann, [], **kwargs)
    sample = HVUDataset(ann, [], filename_tmpl='img_{:05}.jpg', **kwargs)[0]
    assert sample['filename_tmpl'] == 'img_{:05}.jpg' and sample['categories'] == ['action']


@pytest.fixture
def pose_pickle(tmp_path):
    rng = np.random.default_rng(0)
    annotations = [dict(frame_dir=f'video{i}', label=i % 2, total_frames=10, img_shape=(64, 64),
                        keypoint=rng.random((1, 10, 17, 2), dtype=np.float32) * 64,
                        keypoint_score=np.ones((1, 10, 17), np.float32),
                        valid_frames=[10, 4, 8][i], **{'valid@0.7': [9, 9, 2][i]},
                        box_score=np.array([0.9, 0.5, 0.8]))
                   for i in range(3)]
    path = tmp_path / 'pose.pkl'
    path.write_bytes(pickle.dumps(dict(split=dict(xsub_train=['video0', 'video2'],
                                                  xsub_val=['video1']),
                                       annotations=annotations)))
    return path


def test_pose_dataset_splits_and_valid_ratio(pose_pickle):
    pipeline = [dict(type='UniformSampleFrames', clip_len=4, test_mode=True),
                dict(type='PoseDecode'),
                dict(type='FormatGCNInput', input_format='NCTVM'),
                dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[])]
    dataset = PoseDataset(pose_pickle, pipeline, split='xsub_train')
    assert [i['frame_dir'] for i in dataset.video_infos] == ['video0', 'video2']
    assert dataset.modality == 'Pose' and dataset.start_index == 0
    assert dataset[1]['keypoint'].shape == (3, 4, 17, 2)
    assert len(PoseDataset(pose_pickle, [])) == 3
    kept = PoseDataset(pose_pickle, [], valid_ratio=0.5)
    assert [i['frame_dir'] for i in kept.video_infos] == ['video0', 'video2']
    kept = PoseDataset(pose_pickle, [], valid_ratio=0.5, box_thr=0.7)
    assert [i['frame_dir'] for i in kept.video_infos] == ['video0', 'video1']
    assert kept.video_infos[0]['anno_inds'].tolist() == [0, 2]  # box scores >= 0.7
    dataset = PoseDataset(pose_pickle, [], sample_by_class=True, class_prob={'0': 2., '1': 1.})
    assert dataset.class_prob == {0: 2., 1: 1.}
    with pytest.raises(KeyError, match="no split 'train1'; available: xsub_train, xsub_val"):
        PoseDataset(pose_pickle, [], split='train1')
    with pytest.raises(ValueError, match='box_thr must be one of'):
        PoseDataset(pose_pickle, [], box_thr='0.55')
    with pytest.raises(ValueError, match='ann_file must be a .pkl file'):
        PoseDataset(pose_pickle.with_suffix('.json'), [])


def test_check_num_classes_names_audio_samples(tmp_path):
    ann = tmp_path / 'audio.txt'
    ann.write_text('clips/x 10 7\nclips/y 10 1\n')
    dataset = AudioDataset(ann, [])
    dataset.check_num_classes(8)
    with pytest.raises(ValueError, match=r'audio.txt: label 7 of clips/x.wav is out of range '
                                         r'for a model with num_classes=5'):
        dataset.check_num_classes(5)


def test_audio_visual_dataset_keeps_absolute_frame_dirs(tmp_path):
    (tmp_path / 'frames').mkdir()
    ann = tmp_path / 'frames.txt'
    ann.write_text('/abs/clips/v1 10 0\nrel/v2 12 1\n')
    dataset = AudioVisualDataset(ann, [], audio_prefix='/audio', video_prefix='/videos',
                                 data_prefix=tmp_path / 'frames')
    first, second = dataset.video_infos
    # os.path.join keeps an absolute name as it is, as MMAction2 does
    assert first['audio_path'] == '/abs/clips/v1.npy' and first['filename'] == '/abs/clips/v1.mp4'
    assert first['frame_dir'] == '/abs/clips/v1'
    assert second['audio_path'] == '/audio/rel/v2.npy' and second['filename'] == '/videos/rel/v2.mp4'
    assert second['frame_dir'] == str((tmp_path / 'frames' / 'rel' / 'v2').resolve())
    assert dataset.data_prefix == str((tmp_path / 'frames').resolve())


def test_pose_dataset_box_thr_must_be_a_listed_threshold(pose_pickle):
    for box_thr in ('high', [0.5], '0.55'):
        with pytest.raises(ValueError, match=r"box_thr must be one of 0.5, 0.6, 0.7, 0.8, 0.9, "
                                             rf'got {re.escape(repr(box_thr))}'):
            PoseDataset(pose_pickle, [], box_thr=box_thr)
    assert PoseDataset(pose_pickle, [], box_thr=0.7).box_thr == '0.7'


def test_class_prob_follows_the_samples_left_after_filtering(pose_pickle, tmp_path):
    # labels 0, 1, 0; valid_ratio 0.5 drops video1 (4 of 10 frames), the only sample of 1
    kept = PoseDataset(pose_pickle, [], valid_ratio=0.5, sample_by_class=True, power=1.)
    assert [i['label'] for i in kept.video_infos] == [0, 0]
    assert kept.class_prob == {0: 1.} and list(kept.video_infos_by_class) == [0]
    ann = tmp_path / 'raw.txt'
    ann.write_text('a 0 3 0\nb 0 3 1\nc 1 2\nd 1 2 0\ne 2 2 1\n')  # c has no positive clip
    raw = RawVideoDataset(ann, [], sample_by_class=True, power=1.)
    assert len(raw) == 4 and raw.class_prob == {0: 0.5, 1: 0.25, 2: 0.25}
    assert len(raw.video_infos_by_class[1]) == 1
