"""AVADataset: CSV records merged per key frame, exclusions, proposals, custom classes,
the detection batch with per-sample box lists, and the AVA CSV dump."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from actionlab.data.datasets import AVADataset
from actionlab.data.datasets.ava import read_labelmap
from actionlab.data.loader import collate

ROWS = '''clip,0902,0.1,0.2,0.5,0.6,3,0
clip,0902,0.1,0.2,0.5,0.6,5,0
clip,0902,0.3,0.3,0.9,0.9,12,1
clip,0903,0.1,0.1,0.2,0.2,80,0
other,0905,0.0,0.0,1.0,1.0,12,4
'''
LABELMAP = '''item {
  name: "bend/bow (at the waist)"
  id: 1
}
item {
  name: "dance"
  id: 3
}
item {
  name: "run/jog"
  label_id: 12
}
'''


@pytest.fixture
def ava_files(tmp_path):
    (tmp_path / 'ava.csv').write_text(ROWS)
    (tmp_path / 'excluded.csv').write_text('clip,0903\n')
    (tmp_path / 'labels.pbtxt').write_text(LABELMAP)
    proposals = {'clip,0902': np.array([[0.1, 0.1, 0.5, 0.5, 0.95], [0.2, 0.2, 0.4, 0.4, 0.5]]),
                 'clip,0903': np.array([[0.1, 0.1, 0.2, 0.2]]),
                 'other,0905': np.array([[0., 0., 1., 1., 0.3], [0.5, 0.5, 1., 1., 0.6]])}
    (tmp_path / 'proposals.pkl').write_bytes(pickle.dumps(proposals))
    return {k: str(tmp_path / v) for k, v in dict(
        ann_file='ava.csv', exclude_file='excluded.csv', label_file='labels.pbtxt',
        proposal_file='proposals.pkl').items()}


def test_read_labelmap(ava_files):
    labelmap, ids = read_labelmap(ava_files['label_file'])
    assert ids == {1, 3, 12} and labelmap[2] == {'id': 12, 'name': 'run/jog'}


def test_ava_records_per_key_frame(ava_files):
    dataset = AVADataset(pipeline=[], **ava_files)
    assert [info['img_key'] for info in dataset.video_infos] == ['clip,0902', 'other,0905']
    assert len(AVADataset(pipeline=[], test_mode=True, **ava_files)) == 3  # no exclusion
    sample = dataset[0]
    assert sample['gt_bboxes'].tolist() == [[0.1, 0.2, 0.5, 0.6], [0.3, 0.3, 0.9, 0.9]]
    assert np.flatnonzero(sample['gt_labels'][0]).tolist() == [3, 5]
    assert np.flatnonzero(sample['gt_labels'][1]).tolist() == [12]
    assert sample['gt_labels'].shape == (2, 81) and sample['entity_ids'].tolist() == [0, 1]
    assert sample['shot_info'] == (0, 900 * 30) and sample['fps'] == 30
    assert sample['timestamp'] == 902 and sample['timestamp_start'] == 900
    # proposals scoring >= 0.9, or the best one when none does
    assert sample['proposals'].tolist() == [[0.1, 0.1, 0.5, 0.5]]
    assert sample['scores'].tolist() == [0.95]
    other = dataset[1]
    assert other['proposals'].tolist() == [[0.5, 0.5, 1., 1.]] and other['scores'].tolist() == [0.6]


def test_ava_custom_classes_and_errors(ava_files):
    dataset = AVADataset(pipeline=[], custom_classes=[3, 12], num_classes=3, **ava_files)
    sample = dataset[0]
    assert sample['gt_labels'].tolist() == [[0, 1, 0], [0, 0, 1]]  # 3 -> 1, 12 -> 2, 5 dropped
    with pytest.raises(ValueError, match=r'custom_classes \[7\] are not in'):
        AVADataset(pipeline=[], custom_classes=[3, 7], num_classes=3, **ava_files)
    with pytest.raises(ValueError, match='num_classes must be len\\(custom_classes\\) \\+ 1'):
        AVADataset(pipeline=[], custom_classes=[3], **ava_files)
    with pytest.raises(ValueError, match='action 80 is out of range for num_classes=20'):
        AVADataset(pipeline=[], num_classes=20, **ava_files)


def test_ava_detection_batch_keeps_box_lists(ava_files, rawframe_dir):
    pipeline = [
        dict(type='SampleAVAFrames', clip_len=2, frame_interval=2, test_mode=True),
        dict(type='RawFrameDecode'),
        dict(type='Resize', scale=(-1, 32)),
        dict(type='FormatShape', input_format='NCTHW', collapse=True),
        dict(type='Rename', mapping=dict(imgs='img')),
        dict(type='Collect', keys=['img', 'proposals', 'gt_bboxes', 'gt_labels'],
             meta_keys=['scores', 'entity_ids']),
        dict(type='ToTensor', keys=['img', 'proposals', 'gt_bboxes', 'gt_labels']),
        dict(type='ToDataContainer', fields=[dict(key=['proposals', 'gt_bboxes', 'gt_labels'],
                                                  stack=False)]),
    ]
    with open(ava_files['ann_file'], 'w') as f:  # key frames of the 12-frame fixture folder
        f.write(ROWS.replace('other', 'clip').replace('0905', '0904'))
    # key frame of second t: frame 2 * (t - 902) + 1, clips of frames [t - 2, t] (+ 1)
    dataset = AVADataset(pipeline=pipeline, data_prefix=rawframe_dir.path.parent,
                         timestamp_start=902, fps=2, start_index=1, test_mode=True, **ava_files)
    batch = collate([dataset[0], dataset[2]])
    assert batch['img'].shape == (2, 3, 2, 32, 43)
    assert isinstance(batch['gt_bboxes'], list) and len(batch['gt_bboxes']) == 2
    assert [b.shape for b in batch['gt_bboxes']] == [(2, 4), (1, 4)]
    # boxes follow RawFrameDecode (to 64 x 48 px) and the resize to 43 x 32
    assert torch.allclose(batch['gt_bboxes'][0][0],
                          torch.tensor([0.1 * 43, 0.2 * 32, 0.5 * 43, 0.6 * 32]), atol=1e-3)
    assert batch['proposals'][1].tolist() == [[0., 0., 43., 32.]]  # no detection: whole frame
    assert batch['img_metas'][0]['scores'].tolist() == [0.95]


def test_ava_dump_results_csv(ava_files, tmp_path):
    dataset = AVADataset(pipeline=[], custom_classes=[3, 12], num_classes=3, **ava_files)
    results = [[np.array([[0.1, 0.2, 0.3, 0.4, 0.91]]), np.zeros((0, 5))],
               [np.zeros((0, 5)), np.array([[0., 0., 1., 1., 0.5], [0.5, 0.5, 0.9, 0.9, 0.25]])]]
    dataset.dump_results(results, tmp_path / 'out.csv')
    assert (tmp_path / 'out.csv').read_text().splitlines() == [
        'clip,902,0.100,0.200,0.300,0.400,3,0.910',
        'other,905,0.000,0.000,1.000,1.000,12,0.500',
        'other,905,0.500,0.500,0.900,0.900,12,0.250']
    with pytest.raises(NotImplementedError, match='dump_results'):
        dataset.evaluate(results)
