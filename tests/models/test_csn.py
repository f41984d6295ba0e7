import pytest
import torch
from torch import nn

from actionlab.models import MODELS
from actionlab.models.backbones import CSNBottleneck3d, ResNet3dCSN


def tiny_csn(**kwargs) -> ResNet3dCSN:
    torch.manual_seed(0)
    model = ResNet3dCSN(**{'depth': 50, 'pretrained': None, 'base_channels': 16,
                           'stage_blocks': [1, 1, 2, 1], **kwargs})
    model.init_weights()
    return model


def test_ir_bottleneck_keeps_only_the_depthwise_conv():
    model = tiny_csn()
    conv2 = model.layer2[0].conv2
    assert isinstance(conv2, nn.Sequential) and len(conv2) == 1
    assert conv2[0].conv.groups == 32 and conv2[0].conv.weight.shape == (32, 1, 3, 3, 3)
    assert conv2[0].conv.stride == (2, 2, 2)          # temporal_strides default (1, 2, 2, 2)
    assert conv2[0].bn.eps == 1e-3 and model.conv1.conv.weight.shape[2:] == (3, 7, 7)
    assert isinstance(model.layer1[0], CSNBottleneck3d)
    assert model.eval()(torch.randn(1, 3, 8, 32, 32)).shape == (1, 512, 1, 1, 1)  # T: 8 -> pool2 -> 4 -> 1


def test_ip_bottleneck_adds_a_pointwise_conv_first():
    model = tiny_csn(bottleneck_mode='ip')
    conv2 = model.layer1[0].conv2
    assert [tuple(m.conv.weight.shape) for m in conv2] == [(16, 16, 1, 1, 1), (16, 1, 3, 3, 3)]
    assert not conv2[0].with_activation and conv2[1].with_activation
    x = torch.randn(1, 16, 2, 4, 4)
    conv2.eval()
    with torch.no_grad():
        want = torch.relu(conv2[1].bn(nn.functional.conv3d(conv2[0].bn(conv2[0].conv(x)),
                                                             conv2[1].conv.weight, padding=1, groups=16)))
        torch.testing.assert_close(conv2(x), want)
    keys = set(MODELS.build(dict(type='ResNet3dCSN', depth=50, pretrained=None, base_channels=8,
                                 bottleneck_mode='ip')).state_dict())
    assert {'layer1.0.conv2.0.conv.weight', 'layer1.0.conv2.1.bn.weight'} <= keys


def test_bn_frozen_needs_norm_eval():
    model = tiny_csn(norm_eval=True, bn_frozen=True).train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm3d)]
    assert not any(m.training for m in bns)
    assert not any(p.requires_grad for m in bns for p in m.parameters())
    assert all(p.requires_grad for n, p in model.named_parameters() if n.endswith('conv.weight'))
    free = tiny_csn(bn_frozen=True).train()  # without norm_eval, as in MMAction2, nothing is frozen
    assert all(p.requires_grad for p in free.parameters())
    assert all(m.training for m in free.modules() if isinstance(m, nn.BatchNorm3d))


def test_bad_mode_and_depth():
    with pytest.raises(ValueError, match="'ip' or 'ir'"):
        ResNet3dCSN(depth=50, pretrained=None, bottleneck_mode='dw')
    with pytest.raises(KeyError, match='50, 101, 152'):
        ResNet3dCSN(depth=18, pretrained=None)
