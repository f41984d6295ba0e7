import pytest
import torch
from torch import nn

from actionlab.models import MODELS
from actionlab.models.ops import CONV_LAYERS, Conv2plus1d, ConvModule


def test_conv2plus1d_widths_and_forward():
    assert CONV_LAYERS.get('Conv2plus1d') is Conv2plus1d
    # MMAction2's middle width: 3 * Cin * Cout * k^2 / (Cin * k^2 + 3 * Cout), floored
    assert Conv2plus1d(3, 64, (3, 7, 7)).mid_channels == 83
    assert Conv2plus1d(64, 128, 3).mid_channels == 230
    assert Conv2plus1d(64, 128, 1).mid_channels == 54
    torch.manual_seed(0)
    conv = Conv2plus1d(4, 6, (3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1), bias=False).eval()
    assert conv.conv_s.weight.shape == (conv.mid_channels, 4, 1, 3, 3)
    assert conv.conv_t.weight.shape == (6, conv.mid_channels, 3, 1, 1) and conv.conv_t.bias is None
    with torch.no_grad():
        conv.bn_s.running_mean.uniform_(-1, 1)
        conv.bn_s.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 4, 5, 8, 8)
    mid = nn.functional.conv3d(x, conv.conv_s.weight, stride=(1, 2, 2), padding=(0, 1, 1))
    mid = (mid - conv.bn_s.running_mean.view(1, -1, 1, 1, 1)) / torch.sqrt(
        conv.bn_s.running_var.view(1, -1, 1, 1, 1) + 1e-5)
    want = nn.functional.conv3d(mid.relu(), conv.conv_t.weight, stride=(2, 1, 1), padding=(1, 0, 0))
    torch.testing.assert_close(conv(x), want, rtol=1e-4, atol=1e-5)
    assert conv(x).shape == (2, 6, 3, 4, 4)
    with pytest.raises(ValueError, match='padding_mode'):
        Conv2plus1d(4, 6, 3, padding_mode='reflect')


def test_conv2plus1d_inside_a_conv_module_keeps_mmaction2_names():
    block = ConvModule(3, 8, (3, 7, 7), padding=(1, 3, 3), bias=False, conv_cfg=dict(type='Conv2plus1d'),
                       norm_cfg=dict(type='BN3d'))
    assert sorted(k for k in block.state_dict() if k.endswith('weight')) == [
        'bn.weight', 'conv.bn_s.weight', 'conv.conv_s.weight', 'conv.conv_t.weight']


def r2plus1d(**kwargs):
    cfg = dict(type='ResNet2Plus1d', depth=18, pretrained=None, pretrained2d=False, base_channels=8,
               conv_cfg=dict(type='Conv2plus1d'), conv1_kernel=[3, 7, 7], inflate=[1, 1, 1, 1],
               spatial_strides=[1, 2, 2, 2], temporal_strides=[1, 2, 2, 2], zero_init_residual=False)
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_r2plus1d_reduces_time_only_by_strides_and_trains():
    model = r2plus1d()
    assert not model.with_pool2
    assert model.layer2[0].downsample.conv.conv_t.stride == (2, 1, 1)
    out = model.train()(torch.randn(2, 3, 8, 32, 32))
    assert out.shape == (2, 64, 1, 1, 1)  # T: 8 -> 4 -> 2 -> 1 by layers 2-4
    out.square().mean().backward()
    assert model.conv1.conv.conv_s.weight.grad.abs().sum() > 0
    assert model.layer1[0].conv1.conv.conv_t.weight.grad.abs().sum() > 0


def test_r2plus1d_requirements():
    with pytest.raises(ValueError, match='pretrained2d=False'):
        r2plus1d(pretrained2d=True)
    with pytest.raises(ValueError, match='Conv2plus1d'):
        r2plus1d(conv_cfg=dict(type='Conv3d'))
