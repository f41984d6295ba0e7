"""FormatShape layouts, Collect, tensors, Transpose/Rename, ToDataContainer and Compose."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from actionlab.data.loader import collate
from actionlab.data.transforms import (
    TRANSFORMS,
    Collect,
    Compose,
    DataContainer,
    FormatShape,
    ImageToTensor,
    Rename,
    ToDataContainer,
    ToTensor,
    Transpose,
)


def frames(m, h=2, w=3, c=3):
    """Frames whose pixel values encode (frame, y, x, channel)."""
    return np.arange(m * h * w * c, dtype=np.float32).reshape(m, h, w, c)


def test_ncthw_groups_crops_clips_and_frames():
    imgs = frames(2 * 3 * 4)  # 2 crops x 3 clips x 4 frames
    out = FormatShape('NCTHW')(dict(imgs=imgs, num_clips=3, clip_len=4))
    assert out['imgs'].shape == out['input_shape'] == (6, 3, 4, 2, 3)
    # view v = crop * 3 + clip, time t: frame (crop * 3 + clip) * 4 + t, channels first
    assert np.array_equal(out['imgs'][4, :, 2], imgs[4 * 4 + 2].transpose(2, 0, 1))
    assert out['imgs'].flags['C_CONTIGUOUS']


def test_nchw_and_collapse():
    imgs = frames(5)
    out = FormatShape('NCHW')(dict(imgs=list(imgs), num_clips=5, clip_len=1))
    assert np.array_equal(out['imgs'], imgs.transpose(0, 3, 1, 2))
    out = FormatShape('NCTHW', collapse=True)(dict(imgs=frames(4), num_clips=1, clip_len=4))
    assert out['imgs'].shape == (3, 4, 2, 3)
    with pytest.raises(ValueError, match='collapse=True'):
        FormatShape('NCTHW', collapse=True)(dict(imgs=frames(4), num_clips=2, clip_len=2))


def test_nchw_flow_stacks_frames_on_channels():
    flow = frames(2 * 5, c=2)  # 2 clips of 5 (x, y) frames after Normalize
    out = FormatShape('NCHW_Flow')(dict(imgs=flow, num_clips=2, clip_len=5))
    assert out['imgs'].shape == (2, 10, 2, 3)
    # channel 2 * t + k of clip n is component k of frame t
    assert np.array_equal(out['imgs'][1, 7], flow[5 + 3, :, :, 1])


def test_nptchw_for_proposals():
    imgs = frames(2 * 3)
    out = FormatShape('NPTCHW')(dict(imgs=imgs, num_proposals=2, num_clips=3, clip_len=1))
    assert out['imgs'].shape == (2, 3, 3, 2, 3)
    assert np.array_equal(out['imgs'][1, 2], imgs[5].transpose(2, 0, 1))
    with pytest.raises(ValueError, match='input_format must be one of'):
        FormatShape('NTHWC')


def test_collect_keys_meta_and_nested():
    results = dict(imgs=1, label=2, filename='a.mp4', img_shape=(4, 4), extra=0)
    out = Collect(['imgs', 'label'])(dict(results))
    assert out == dict(imgs=1, label=2, img_metas=dict(filename='a.mp4', label=2,
                                                       img_shape=(4, 4)))
    out = Collect(['imgs'], meta_keys=[], nested=True)(dict(results))
    assert out == dict(imgs=[1])
    out = Collect('imgs', meta_keys=('filename',), meta_name='video_metas')(dict(results))
    assert out['video_metas'] == {'filename': 'a.mp4'}
    with pytest.raises(KeyError, match=r"\['audio'\] not in results"):
        Collect(['audio'])(dict(results))


def test_to_tensor_conversions():
    flipped = np.arange(6).reshape(2, 3)[:, ::-1]  # negative strides
    out = ToTensor(['a', 'b', 'c', 'd', 'e'])(
        dict(a=flipped, b=3, c=0.5, d=[1, 2], e=np.int64(7)))
    assert out['a'].tolist() == [[2, 1, 0], [5, 4, 3]]
    assert out['b'].dtype == torch.int64 and out['b'].tolist() == [3]
    assert out['c'].dtype == torch.float32 and out['c'].tolist() == [0.5]
    assert out['d'].tolist() == [1, 2] and out['e'].tolist() == [7]
    with pytest.raises(TypeError, match='cannot convert str'):
        ToTensor('s')(dict(s='text'))


def test_compose_builds_runs_and_stops_on_none():
    calls = []

    def record(results):
        calls.append(results['x'])
        return None if results['x'] < 0 else dict(results, x=results['x'] + 1)

    pipeline = Compose([record, dict(type='ToTensor', keys=['x']), record])
    assert pipeline(dict(x=1))['x'] == 3 and calls == [1, torch.tensor([2])]
    assert pipeline(dict(x=-1)) is None
    text = repr(pipeline)
    assert text.startswith('Compose(\n') and "ToTensor(keys=['x'])" in text
    with pytest.raises(TypeError, match='pipeline step 0 must be a dict or a callable'):
        Compose([3])
    with pytest.raises(TypeError, match='must be a list of transforms'):
        Compose(dict(type='ToTensor', keys=['x']))
    with pytest.raises(Exception, match="'Resise' is not a registered transform type"):
        Compose([dict(type='Resise', scale=(1, 1))])
    assert 'Resize' in TRANSFORMS


def test_image_to_tensor_transpose_and_rename():
    img = frames(1)[0]  # (2, 3, 3)
    out = ImageToTensor(keys=['img'])(dict(img=img))
    assert isinstance(out['img'], torch.Tensor) and out['img'].shape == (3, 2, 3)
    assert out['img'][2, 1, 0].item() == img[1, 0, 2]
    out = Transpose(keys='a', order=[2, 0, 1])(dict(a=img))
    assert np.array_equal(out['a'], img.transpose(2, 0, 1))
    out = Rename({'imgs': 'img', 'missing': 'x'})(dict(imgs=1, label=2))
    assert out == dict(img=1, label=2)
    with pytest.raises(KeyError, match="cannot rename 'a' to 'b'"):
        Rename({'a': 'b'})(dict(a=1, b=2))
    assert repr(Transpose('a', [1, 0])) == "Transpose(keys=['a'], order=(1, 0))"


def test_to_data_container_keeps_per_sample_lists_in_the_batch():
    pipeline = Compose([
        dict(type='Collect', keys=['imgs', 'proposals', 'gt_bboxes'], meta_keys=['scores']),
        dict(type='ToTensor', keys=['imgs', 'proposals', 'gt_bboxes']),
        dict(type='ToDataContainer', fields=[dict(key=['proposals', 'gt_bboxes'], stack=False)]),
    ])
    samples = [pipeline(dict(imgs=np.zeros((3, 4, 4), np.float32),
                             proposals=np.full((n, 4), n, np.float32),
                             gt_bboxes=np.ones((2, 4), np.float32), scores=np.ones(n)))
               for n in (2, 2, 3)]
    assert isinstance(samples[0]['proposals'], DataContainer)
    batch = collate(samples)
    assert batch['imgs'].shape == (3, 3, 4, 4)
    # equally sized boxes too stay one tensor per sample
    assert [p.shape for p in batch['proposals']] == [(2, 4), (2, 4), (3, 4)]
    assert [b.shape for b in batch['gt_bboxes']] == [(2, 4)] * 3
    assert batch['proposals'][2][0, 0].item() == 3
    stacked = collate([{'x': DataContainer(torch.ones(2), stack=True)}] * 2)
    assert stacked['x'].shape == (2, 2)
    with pytest.raises(KeyError, match='each field needs a "key"'):
        ToDataContainer(fields=[dict(stack=False)])
