"""VideoDataset / RawframeDataset from generated annotation files: parsing, samples,
errors and evaluate."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch

from actionlab.data.datasets import (
    DATASETS,
    ConcatDataset,
    RawframeDataset,
    RepeatDataset,
    VideoDataset,
    build_dataset,
)

VIDEO_PIPELINE = [
    dict(type='PyAVInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=4, test_mode=True),
    dict(type='PyAVDecode'),
    dict(type='Resize', scale=(-1, 32)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='Normalize', mean=[128, 128, 128], std=[64, 64, 64]),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=['filename']),
    dict(type='ToTensor', keys=['imgs', 'label']),
]


@pytest.fixture
def video_list(tmp_path, synthetic_video):
    """videos/a.mp4 and videos/b.mp4 (copies of the fixture clip) and train.txt."""
    videos = tmp_path / 'videos'
    videos.mkdir()
    for name in ('a.mp4', 'b.mp4'):
        (videos / name).write_bytes(synthetic_video.path.read_bytes())
    ann = tmp_path / 'train.txt'
    ann.write_text('a.mp4 3\n\nb.mp4 1\n')  # blank lines are skipped
    return ann, videos


def test_video_dataset_samples(video_list):
    ann, videos = video_list
    dataset = build_dataset(dict(type='VideoDataset', ann_file=str(ann), data_prefix=str(videos),
                                 pipeline=VIDEO_PIPELINE), dict(test_mode=True))
    assert isinstance(dataset, VideoDataset) and len(dataset) == 2 and dataset.test_mode
    assert dataset.video_infos == [dict(filename=str(videos / 'a.mp4'), label=3),
                                   dict(filename=str(videos / 'b.mp4'), label=1)]
    sample = dataset[1]
    assert sample['imgs'].shape == (4, 3, 32, 32) and sample['imgs'].dtype == torch.float32
    assert sample['label'].tolist() == [1]
    assert sample['img_metas'] == {'filename': str(videos / 'b.mp4')}
    assert dataset.start_index == 0


def test_video_dataset_multi_class_one_hot(tmp_path):
    ann = tmp_path / 'multi.txt'
    ann.write_text('x.mp4 0 2\ny.mp4 1\n')
    dataset = VideoDataset(ann, pipeline=[], multi_class=True, num_classes=4)
    assert dataset.video_infos[0]['label'] == [0, 2]
    assert dataset[0]['label'].tolist() == [1., 0., 1., 0.]
    assert dataset[1]['label'].dtype == torch.float32


def test_rawframe_dataset_lines_offsets_and_pipeline(tmp_path, rawframe_dir):
    ann = tmp_path / 'frames.txt'
    ann.write_text(f'{rawframe_dir.path.name} 12 5\nother 30 2\n')
    pipeline = [dict(type='SampleFrames', clip_len=2, num_clips=1, test_mode=True),
                dict(type='RawFrameDecode')]
    dataset = RawframeDataset(ann, pipeline, data_prefix=rawframe_dir.path.parent)
    assert dataset.video_infos[1] == dict(frame_dir=str(rawframe_dir.path.parent / 'other'),
                                          total_frames=30, label=2)
    sample = dataset[0]
    # test-mode start int((12 - 2 + 1) / 2) = 5, plus start_index 1 -> files 6 and 7
    assert sample['frame_inds'].tolist() == [6, 7]
    assert np.array_equal(sample['imgs'], rawframe_dir.frames[[5, 6]])
    assert sample['filename_tmpl'] == 'img_{:05}.jpg' and sample['modality'] == 'RGB'

    ann.write_text('clip 100 12 1 3\n')
    dataset = RawframeDataset(ann, [], with_offset=True, multi_class=True, num_classes=5)
    assert dataset.video_infos == [dict(frame_dir='clip', offset=100, total_frames=12,
                                        label=[1, 3])]


def test_json_annotations(tmp_path):
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps([dict(frame_dir='f1', total_frames=8, label=[2]),
                               dict(frame_dir='f2', total_frames=9, label=[0])]))
    dataset = RawframeDataset(ann, [], data_prefix='root', filename_tmpl='{:06}.png')
    assert dataset.video_infos[0] == dict(frame_dir='root/f1', total_frames=8, label=2)
    assert dataset[1]['filename_tmpl'] == '{:06}.png'
    ann.write_text(json.dumps([dict(frame_dir='f1', label=[2])]))
    with pytest.raises(ValueError, match=r'sample 0 needs "frame_dir" and "total_frames"'):
        RawframeDataset(ann, [])
    ann.write_text(json.dumps([dict(filename='v.mp4', label=[1, 3])]))
    assert VideoDataset(ann, [], multi_class=True, num_classes=4).video_infos[0]['label'] == [1, 3]
    with pytest.raises(ValueError, match=r'ann.json: sample 0: 2 labels but multi_class=False'):
        VideoDataset(ann, [])


@pytest.mark.parametrize('text, kwargs, message', [
    ('', {}, 'is empty'),
    ('\n  \n', {}, 'is empty'),
    ('a.mp4\n', {}, r'ann.txt:1: .*expected "<video path> <label>'),
    ('a.mp4 1\nb.mp4 one\n', {}, r"ann.txt:2: 'b.mp4 one': label 'one' is not an integer"),
    ('a.mp4 7\n', dict(multi_class=True, num_classes=5), r'label 7 is out of range for '
                                                          r'num_classes=5'),
    ('a.mp4 1 2\n', {}, '2 labels but multi_class=False'),
])
def test_video_annotation_errors(tmp_path, text, kwargs, message):
    ann = tmp_path / 'ann.txt'
    ann.write_text(text)
    with pytest.raises(ValueError, match=message):
        VideoDataset(ann, [], **kwargs)


def test_rawframe_annotation_errors(tmp_path):
    ann = tmp_path / 'frames.txt'
    ann.write_text('clip twelve 3\n')
    with pytest.raises(ValueError, match=r"frames.txt:1: 'clip twelve 3': expected "
                                         r'"frame_dir total_frames label'):
        RawframeDataset(ann, [])
    ann.write_text('clip 12 3\n')
    with pytest.raises(ValueError, match='frame_dir offset total_frames label'):
        RawframeDataset(ann, [], with_offset=True)
    with pytest.raises(FileNotFoundError, match='annotation file not found: .*nope.txt'):
        RawframeDataset(ann.parent / 'nope.txt', [])
    with pytest.raises(ValueError, match='multi_class=True needs num_classes'):
        RawframeDataset(ann, [], multi_class=True)


def test_decode_failure_names_the_clip(tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('missing.mp4 0\n')
    dataset = VideoDataset(ann, VIDEO_PIPELINE, data_prefix=tmp_path)
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        dataset[0]


def test_evaluate_accuracy_metrics(tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('a 0\nb 1\nc 2\nd 2\n')
    dataset = VideoDataset(ann, [])
    scores = [np.array([.9, .1, 0.]), torch.tensor([.2, .3, .5]),
              np.array([.1, .2, .7]), np.array([.5, .4, .1])]
    out = dataset.evaluate(scores, metrics=['top_k_accuracy', 'mean_class_accuracy'],
                           metric_options=dict(top_k_accuracy=dict(topk=[1, 2])))
    # top-1 hits: a, c; top-2 adds b (second-best 1); d's top-2 {0, 1} misses 2
    # per class: 0 -> 1/1, 1 -> 0/1, 2 -> 1/2
    assert out == pytest.approx({'top1_acc': 0.5, 'top2_acc': 0.75,
                                 'mean_class_accuracy': 0.5})
    assert list(dataset.evaluate(scores)) == ['top1_acc', 'top5_acc']
    with pytest.warns(DeprecationWarning):
        assert dataset.evaluate(scores, topk=3) == {'top3_acc': 1.0}
    with pytest.raises(KeyError, match="'mAP' is not supported; allowed: top_k_accuracy, "
                                       "mean_class_accuracy, mean_average_precision"):
        dataset.evaluate(scores, metrics='mAP')
    with pytest.raises(ValueError, match='3 results for a dataset of 4'):
        dataset.evaluate(scores[:3])


def test_sample_by_class_probabilities(tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('a 0\nb 0\nc 0\nd 1\n')
    dataset = VideoDataset(ann, [], sample_by_class=True, power=0.5)
    p0, p1 = np.sqrt(0.75), np.sqrt(0.25)
    assert dataset.class_prob == pytest.approx({0: p0 / (p0 + p1), 1: p1 / (p0 + p1)})
    assert [len(v) for v in dataset.video_infos_by_class.values()] == [3, 1]


def test_wrappers(tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('a 0\nb 1\n')
    cfg = dict(type='VideoDataset', ann_file=str(ann), pipeline=[])
    repeated = build_dataset(dict(type='RepeatDataset', times=3, dataset=cfg))
    assert isinstance(repeated, RepeatDataset) and len(repeated) == 6
    assert repeated[5]['filename'] == 'b'
    concat = build_dataset([cfg, cfg], dict(test_mode=True))
    assert isinstance(concat, ConcatDataset) and len(concat) == 4
    assert all(d.test_mode for d in concat.datasets)
    assert 'RawframeDataset' in DATASETS


def test_evaluate_multi_label_average_precision(tmp_path):
    ann = tmp_path / 'ann.txt'
    ann.write_text('a 0\nb 0 1\nc 1\n')
    dataset = VideoDataset(ann, [], multi_class=True, num_classes=2)
    scores = [np.array([.9, .2]), np.array([.4, .6]), np.array([.5, .1])]
    out = dataset.evaluate(scores, metrics=['mean_average_precision',
                                            'mmit_mean_average_precision'])
    # class 0 ranks a (+), c (-), b (+): AP = (1 + 2/3) / 2; class 1 ranks b (+), a, c (+):
    # AP = (1 + 2/3) / 2. Per sample: a ranks 0 first (AP 1), b ranks 1, 0 (AP 1),
    # c ranks 0, 1 (AP 1/2)
    assert out['mean_average_precision'] == pytest.approx(5 / 6)
    assert out['mmit_mean_average_precision'] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match='top_k_accuracy need single-label annotations'):
        dataset.evaluate(scores)


def test_skip_invalid_replaces_unreadable_samples(tmp_path, synthetic_video, caplog):
    (tmp_path / 'a.mp4').write_bytes(synthetic_video.path.read_bytes())
    (tmp_path / 'c.mp4').write_bytes(synthetic_video.path.read_bytes())
    (tmp_path / 'b.mp4').write_bytes(b'not a video')
    ann = tmp_path / 'ann.txt'
    ann.write_text('a.mp4 0\nb.mp4 1\nmissing.mp4 2\nc.mp4 3\n')
    pipeline = [dict(type='PyAVInit')]
    strict = VideoDataset(ann, pipeline, data_prefix=tmp_path)
    with pytest.raises(OSError, match='b.mp4') as info:
        strict[1]
    if sys.version_info >= (3, 11):  # exception notes
        assert any('sample 1 of VideoDataset' in note for note in info.value.__notes__)
    lenient = VideoDataset(ann, pipeline, data_prefix=tmp_path, skip_invalid=True)
    with caplog.at_level('WARNING'):
        assert lenient[1]['label'] == 3  # b is corrupt and missing.mp4 absent: c replaces them
        assert lenient[2]['label'] == 3
        assert lenient[1]['label'] == 3
    assert lenient[0]['label'] == 0
    warnings = [r.getMessage() for r in caplog.records if 'skip_invalid' in r.getMessage()]
    assert len(warnings) == 2  # each bad file once
    assert 'b.mp4' in warnings[0] and 'missing.mp4' in warnings[1]
    ann.write_text('missing.mp4 0\n')
    with pytest.raises(RuntimeError, match='no sample can be read'):
        VideoDataset(ann, pipeline, skip_invalid=True)[0]


@pytest.mark.parametrize('suffix', ['.json', '.yaml', '.pkl'])
def test_dump_results(tmp_path, suffix):
    import pickle

    import yaml
    results = [np.array([0.25, 0.75], np.float32), torch.tensor([1., 0.])]
    out = tmp_path / f'results{suffix}'
    VideoDataset.dump_results(results, out)
    if suffix == '.pkl':
        loaded = pickle.loads(out.read_bytes())
        assert np.array_equal(loaded[0], results[0]) and loaded[1].tolist() == [1., 0.]
    else:
        loaded = (json.loads if suffix == '.json' else yaml.safe_load)(out.read_text())
        assert loaded == [[0.25, 0.75], [1.0, 0.0]]
    with pytest.raises(ValueError, match='use a .json, .yaml'):
        VideoDataset.dump_results(results, tmp_path / 'r.txt')


def test_skip_invalid_is_refused_in_test_mode(tmp_path):
    ann = tmp_path / 'test.txt'
    ann.write_text('a.mp4 0\nb.mp4 1\n')
    # a replaced sample would shift every later result against video_infos
    with pytest.raises(ValueError, match=r'VideoDataset\(.*test.txt\): skip_invalid cannot be '
                                         'used in test mode'):
        VideoDataset(ann, [], test_mode=True, skip_invalid=True)
    assert len(VideoDataset(ann, [], skip_invalid=True)) == 2  # training: allowed


@pytest.mark.skipif(sys.version_info < (3, 11), reason='exception notes are new in 3.11')
def test_pipeline_errors_name_step_and_sample_once(tmp_path):
    from actionlab.data.transforms import Compose

    def fail(results):
        raise ValueError('bad frame')

    ann = tmp_path / 'ann.txt'
    ann.write_text('a.mp4 0\nb.mp4 1\n')
    dataset = VideoDataset(ann, [fail], data_prefix=tmp_path)
    with pytest.raises(ValueError, match='bad frame') as info:
        dataset[1]
    path = os.path.join(os.path.realpath(tmp_path), 'b.mp4')
    assert info.value.__notes__ == [f'(in pipeline step {fail!r})',
                                    f'(sample 1 of VideoDataset({ann}): {path})']
    # Compose on its own names the step and, where the results have one, the file
    with pytest.raises(ValueError) as info:
        Compose([fail])(dict(filename='x.mp4'))
    assert info.value.__notes__ == [f'(in pipeline step {fail!r} while processing x.mp4)']
    with pytest.raises(ValueError) as info:
        Compose([fail])(dict(frame_dir='frames/x'))
    assert info.value.__notes__ == [f'(in pipeline step {fail!r})']
