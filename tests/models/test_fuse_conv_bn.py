"""fuse_conv_bn: BatchNorms folded into the convolutions before them, same outputs."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from actionlab.models import build_model
from actionlab.models.ops import ConvModule, TemporalShift, fuse_conv_bn


def _randomise_bn(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters, so folding is really tested."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.data.copy_(torch.rand(n, generator=gen) - 0.5)
    return model.eval()


def _count_bn(model: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@pytest.mark.parametrize('conv, bn, shape', [
    (nn.Conv1d(3, 4, 3, bias=True), nn.BatchNorm1d(4), (2, 3, 9)),
    (nn.Conv2d(3, 4, 3, groups=1, bias=False), nn.BatchNorm2d(4, affine=False), (2, 3, 8, 8)),
    (nn.Conv3d(4, 6, 3, groups=2, bias=False), nn.BatchNorm3d(6), (2, 4, 5, 6, 6)),
])
def test_plain_pairs(conv, bn, shape):
    model = _randomise_bn(nn.Sequential(conv, bn, nn.ReLU()))
    x = torch.randn(shape)
    expected = model(x)
    fused = fuse_conv_bn(model)
    assert fused is model and isinstance(model[1], nn.Identity) and model[0].bias is not None
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)


def test_conv_module_and_its_order():
    block = _randomise_bn(ConvModule(3, 4, 3, norm_cfg=dict(type='BN')))
    x = torch.randn(2, 3, 8, 8)
    expected = block(x)
    fuse_conv_bn(block)
    assert isinstance(block.bn, nn.Identity)
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)
    # a norm applied before the conv is not folded (its statistics are of the conv's input)
    pre_norm = _randomise_bn(ConvModule(3, 4, 3, norm_cfg=dict(type='BN'), order=('norm', 'conv', 'act')))
    fuse_conv_bn(pre_norm)
    assert isinstance(pre_norm.bn, nn.BatchNorm2d)


def test_conv_behind_a_temporal_shift():
    block = ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='BN'))
    block.conv = TemporalShift(block.conv, num_segments=4, shift_div=4)
    block = _randomise_bn(block)
    x = torch.randn(8, 8, 6, 6)
    expected = block(x)
    fuse_conv_bn(block)
    assert isinstance(block.bn, nn.Identity)
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('backbone, shape', [
    (dict(type='ResNetTSM', depth=18, base_channels=8, num_segments=4), (2, 4, 3, 32, 32)),
    (dict(type='ResNet3d', depth=18, base_channels=8, pretrained=None, pretrained2d=False),
     (1, 2, 3, 4, 32, 32)),
])
def test_recognizers_keep_their_scores(backbone, shape):
    recognizer = '3D' if backbone['type'] == 'ResNet3d' else '2D'
    head = dict(type='I3DHead', num_classes=5, in_channels=64) if recognizer == '3D' else \
        dict(type='TSMHead', num_classes=5, in_channels=64, num_segments=4)
    torch.manual_seed(0)
    model = _randomise_bn(build_model(dict(type=f'Recognizer{recognizer}', backbone=backbone, cls_head=head,
                                           test_cfg=dict(average_clips='score'))))
    x = torch.randn(shape)
    with torch.no_grad():
        expected = model(x, return_loss=False)
        fused = fuse_conv_bn(copy.deepcopy(model))
        actual = fused(x, return_loss=False)
    assert _count_bn(model) > 10 and _count_bn(fused) == 0
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
