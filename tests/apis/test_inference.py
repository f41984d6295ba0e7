from __future__ import annotations

import numpy as np
import pytest
import torch

from actionlab.apis.inference import build_inference_input, inference_recognizer, init_recognizer
from actionlab.config import Config
from actionlab.engine.checkpoint import save_checkpoint

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)


def _config(pipeline_head: list[dict], num_classes: int = 7) -> Config:
    """A tiny TSN whose test pipeline starts with ``pipeline_head`` (sampling + decoding)."""
    return Config(dict(
        model=dict(type='Recognizer2D',
                   backbone=dict(type='ResNet', depth=18, base_channels=8, pretrained=None),
                   cls_head=dict(type='TSNHead', num_classes=num_classes, in_channels=64),
                   test_cfg=dict(average_clips='prob')),
        data=dict(test=dict(type='RawframeDataset', ann_file='unused.txt', pipeline=[
            *pipeline_head,
            dict(type='Resize', scale=(-1, 32)),
            dict(type='CenterCrop', crop_size=32),
            dict(type='Normalize', **NORM),
            dict(type='FormatShape', input_format='NCHW'),
            dict(type='Collect', keys=['imgs'], meta_keys=[]),
            dict(type='ToTensor', keys=['imgs'])]))))


RAWFRAME_HEAD = [dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=4, test_mode=True),
                 dict(type='RawFrameDecode')]


def test_rawframe_config_on_video_and_frame_folder(synthetic_video, rawframe_dir):
    model = init_recognizer(_config(RAWFRAME_HEAD))
    assert not model.training and model.cfg.model.backbone.pretrained is None
    for source in (synthetic_video.path, rawframe_dir.path):
        top = inference_recognizer(model, source)
        assert len(top) == 5 and all(0 <= i < 7 for i, _ in top)
        scores = [s for _, s in top]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-6


def test_decoding_steps_follow_the_input_kind(synthetic_video, rawframe_dir):
    cfg = _config(RAWFRAME_HEAD)
    data, pipeline = build_inference_input(cfg, synthetic_video.path)
    assert data == dict(filename=str(synthetic_video.path), label=-1, start_index=0, modality='RGB')
    assert [s['type'] for s in pipeline[:3]] == ['PyAVInit', 'SampleFrames', 'PyAVDecode']
    data, pipeline = build_inference_input(cfg, rawframe_dir.path)
    assert data['total_frames'] == rawframe_dir.num_frames and data['start_index'] == 1
    assert [s['type'] for s in pipeline[:2]] == ['SampleFrames', 'RawFrameDecode']
    video_cfg = _config([dict(type='DecordInit'), *RAWFRAME_HEAD[:1], dict(type='DecordDecode')])
    _, pipeline = build_inference_input(video_cfg, rawframe_dir.path)
    assert [s['type'] for s in pipeline[:2]] == ['SampleFrames', 'RawFrameDecode']
    with pytest.raises(FileNotFoundError, match='input not found: /no/such.mp4'):
        build_inference_input(cfg, '/no/such.mp4')


def test_every_pretrained_key_is_turned_off(tmp_path):
    """A SlowFast pathway's own ``pretrained`` (nested below the backbone) is not loaded
    either: the checkpoint has every weight."""
    pathway = dict(type='resnet3d', depth=18, conv1_stride_t=1, pool1_stride_t=1)
    cfg = Config(dict(
        model=dict(type='Recognizer3D',
                   backbone=dict(type='ResNet3dSlowFast', pretrained='/no/such/slowfast.pth',
                                 resample_rate=4, speed_ratio=4, channel_ratio=8,
                                 slow_pathway=dict(pathway, pretrained='/no/such/slow.pth', lateral=True,
                                                   base_channels=8, conv1_kernel=(1, 7, 7),
                                                   inflate=(0, 0, 1, 1)),
                                 fast_pathway=dict(pathway, pretrained=None, lateral=False, base_channels=1,
                                                   conv1_kernel=(5, 7, 7))),
                   cls_head=dict(type='SlowFastHead', in_channels=72, num_classes=3)),
        data=dict(test=dict(pipeline=[]))))
    torch.manual_seed(0)
    model = init_recognizer(cfg)
    backbone = model.cfg.model.backbone
    assert backbone.pretrained is None and backbone.slow_pathway.pretrained is None
    assert cfg.model.backbone.slow_pathway.pretrained == '/no/such/slow.pth'  # the caller's stays
    ckpt = save_checkpoint(model, tmp_path / 'slowfast.pth')
    reloaded = init_recognizer(cfg, ckpt)
    torch.testing.assert_close(reloaded.state_dict(), model.state_dict())


def test_checkpoint_weights_decide_the_prediction(tmp_path, rawframe_dir):
    cfg = _config(RAWFRAME_HEAD)
    model = init_recognizer(cfg)
    with torch.no_grad():  # make class 3 win whatever the features are
        model.cls_head.fc_cls.weight.zero_()
        model.cls_head.fc_cls.bias.copy_(torch.arange(7.0) * -1)
        model.cls_head.fc_cls.bias[3] = 5.0
    ckpt = save_checkpoint(model, tmp_path / 'model.pth', meta=dict(epoch=1))
    reloaded = init_recognizer(cfg, ckpt)
    top = inference_recognizer(reloaded, rawframe_dir.path)
    expected = torch.softmax(model.cls_head.fc_cls.bias.detach(), 0)
    assert top[0][0] == 3 and top[0][1] == pytest.approx(float(expected[3]), rel=1e-5)
    assert [i for i, _ in top] == [3, 0, 1, 2, 4]


def test_optimized_recognizer_predicts_the_same(tmp_path, rawframe_dir):
    cfg = _config(RAWFRAME_HEAD)
    torch.manual_seed(0)
    ckpt = save_checkpoint(init_recognizer(cfg), tmp_path / 'model.pth')
    plain = inference_recognizer(init_recognizer(cfg, ckpt), rawframe_dir.path)
    optimized_model = init_recognizer(cfg, ckpt, optimize=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in optimized_model.modules())
    optimized = inference_recognizer(optimized_model, rawframe_dir.path)
    assert [i for i, _ in optimized] == [i for i, _ in plain]
    np.testing.assert_allclose([s for _, s in optimized], [s for _, s in plain], rtol=1e-4)


def test_outputs_of_named_modules(rawframe_dir):
    model = init_recognizer(_config(RAWFRAME_HEAD))
    top, feats = inference_recognizer(model, rawframe_dir.path, outputs=['backbone', 'cls_head'],
                                      as_tensor=False)
    assert isinstance(feats['backbone'], np.ndarray) and feats['backbone'].shape == (4, 64, 1, 1)
    assert feats['cls_head'].shape == (1, 7)
    with pytest.raises(KeyError, match="no submodule 'neck'"):
        inference_recognizer(model, rawframe_dir.path, outputs=['neck'])


def test_results_dict_input(rawframe_dir):
    model = init_recognizer(_config(RAWFRAME_HEAD))
    data = dict(frame_dir=str(rawframe_dir.path), total_frames=rawframe_dir.num_frames, label=-1,
                start_index=1, filename_tmpl=rawframe_dir.filename_tmpl, modality='RGB')
    assert inference_recognizer(model, data) == inference_recognizer(model, rawframe_dir.path)


def test_model_without_config_is_rejected():
    model = init_recognizer(_config(RAWFRAME_HEAD))
    del model.cfg
    with pytest.raises(ValueError, match='init_recognizer'):
        inference_recognizer(model, 'x.mp4')
