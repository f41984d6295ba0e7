"""module_hooks: GPUNormalize and register_module_hooks, alone and through the APIs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from actionlab.apis.inference import inference_recognizer, init_recognizer
from actionlab.config import Config
from actionlab.data.transforms import Normalize
from actionlab.models import build_model
from actionlab.models.module_hooks import GPUNormalize, register_module_hooks

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
HOOK = dict(type='GPUNormalize', hooked_module='backbone', hook_pos='forward_pre',
            input_format='NCHW', mean=MEAN, std=STD)
MODEL = dict(type='Recognizer2D', backbone=dict(type='ResNet', depth=18, base_channels=8, pretrained=None),
             cls_head=dict(type='TSNHead', num_classes=5, in_channels=64),
             test_cfg=dict(average_clips='prob'))


def _frames(shape=(3, 16, 16, 3), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_gpu_normalize_equals_the_normalize_transform():
    frames = _frames()
    expected = Normalize(MEAN, STD)(dict(imgs=frames.copy(), modality='RGB'))['imgs']
    nchw = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))
    out = GPUNormalize('NCHW', MEAN, STD)(nchw)
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(out.permute(0, 2, 3, 1).numpy(), expected)
    ncthw = nchw.permute(1, 0, 2, 3)[None]  # (1, C, T, H, W)
    out3d = GPUNormalize('NCTHW', MEAN, STD)(ncthw)
    np.testing.assert_array_equal(out3d[0].permute(1, 2, 3, 0).numpy(), expected)


def test_gpu_normalize_errors():
    with pytest.raises(ValueError, match="input_format must be one of"):
        GPUNormalize('NHWC', MEAN, STD)
    with pytest.raises(ValueError, match='std must not contain 0'):
        GPUNormalize('NCHW', MEAN, [1, 0, 1])
    with pytest.raises(TypeError, match='expects uint8 input'):
        GPUNormalize('NCHW', MEAN, STD)(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match='must have 5 dimensions'):
        GPUNormalize('NCTHW', MEAN, STD)(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    model = build_model(MODEL)
    no_neck = r"module_hooks\[0\] \(GPUNormalize\): the model has no submodule 'neck'"
    with pytest.raises(ValueError, match=no_neck):
        register_module_hooks(model, [dict(HOOK, hooked_module='neck')])
    with pytest.raises(ValueError, match='hook_pos must be one of'):
        register_module_hooks(model, [dict(HOOK, hook_pos='after')])


def test_hooked_recognizer_on_uint8_equals_plain_one_on_normalized_input():
    torch.manual_seed(0)
    model = build_model(MODEL).eval()
    frames = _frames((2, 3, 32, 32, 3))  # (batch, segments, H, W, C)
    imgs = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 1, 4, 2, 3)))
    normalized = torch.from_numpy(np.stack([
        Normalize(MEAN, STD)(dict(imgs=clip.copy(), modality='RGB'))['imgs'].transpose(0, 3, 1, 2)
        for clip in frames]))
    with torch.no_grad():
        expected = model(normalized, return_loss=False)
        register_module_hooks(model, [HOOK])
        hooked = model(imgs, return_loss=False)
    torch.testing.assert_close(hooked, expected, rtol=1e-5, atol=1e-6)


def test_init_recognizer_applies_the_config_hooks(rawframe_dir):
    def config(normalize_in_pipeline: bool) -> Config:
        tail = [dict(type='Normalize', mean=MEAN, std=STD)] if normalize_in_pipeline else []
        return Config(dict(
            model=MODEL, module_hooks=[] if normalize_in_pipeline else [HOOK],
            data=dict(test=dict(type='RawframeDataset', ann_file='unused.txt', pipeline=[
                dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=4, test_mode=True),
                dict(type='RawFrameDecode'), dict(type='Resize', scale=(-1, 32)),
                dict(type='CenterCrop', crop_size=32), *tail,
                dict(type='FormatShape', input_format='NCHW'),
                dict(type='Collect', keys=['imgs'], meta_keys=[]), dict(type='ToTensor', keys=['imgs'])]))))

    torch.manual_seed(0)
    plain = init_recognizer(config(True))
    hooked = init_recognizer(config(False))
    hooked.load_state_dict(plain.state_dict())
    expected = inference_recognizer(plain, rawframe_dir.path)
    got = inference_recognizer(hooked, rawframe_dir.path)
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-5)
