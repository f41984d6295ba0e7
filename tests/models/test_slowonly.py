import pytest
import torch
from torch import nn

from actionlab.models import MODELS
from actionlab.models.backbones import ResNet3d, ResNet3dLayer, ResNet3dSlowOnly


def tiny_slowonly(**kwargs) -> ResNet3dSlowOnly:
    torch.manual_seed(0)
    model = ResNet3dSlowOnly(**{'depth': 18, 'pretrained': None, 'base_channels': 8, **kwargs})
    model.init_weights()
    return model


def test_slowonly_defaults_keep_time_and_inflate_late_stages():
    model = tiny_slowonly(depth=50)
    assert model.conv1.conv.weight.shape[2:] == (1, 7, 7)
    assert model.layer2[0].conv1.conv.weight.shape[2:] == (1, 1, 1)
    assert model.layer3[0].conv1.conv.weight.shape[2:] == (3, 1, 1)
    assert model.layer4[2].conv1.conv.weight.shape[2:] == (3, 1, 1)
    assert not model.with_pool2 and not model.lateral
    assert model(torch.randn(1, 3, 4, 32, 32)).shape == (1, 256, 4, 1, 1)  # T kept: no pool2
    with pytest.raises(ValueError, match='lateral'):
        ResNet3dSlowOnly(depth=18, pretrained=None, lateral=True)


def test_posec3d_style_three_stages_with_four_stage_defaults():
    """MMAction2's 4-entry non_local default serves a 3-stage network."""
    model = MODELS.build(dict(type='ResNet3dSlowOnly', depth=50, pretrained=None, in_channels=17,
                              base_channels=8, num_stages=3, out_indices=[2], stage_blocks=[2, 2, 1],
                              conv1_stride_s=1, pool1_stride_s=1, inflate=[0, 1, 1],
                              spatial_strides=[2, 2, 2], temporal_strides=[1, 1, 2], dilations=[1, 1, 1]))
    out = model(torch.randn(1, 17, 4, 16, 16))
    assert out.shape == (1, 128, 2, 2, 2)
    with pytest.raises(ValueError, match='an entry per stage'):
        ResNet3dSlowOnly(depth=18, pretrained=None, inflate=[0, 1])


def test_norm_eval_and_frozen_stages_in_train_mode():
    model = tiny_slowonly(frozen_stages=1, norm_eval=True).train()
    assert not model.conv1.training and not model.layer1.training and model.layer2.training
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm3d))
    # norm_eval: batch statistics are not used, so one sample's output does not depend on another
    x = torch.randn(2, 3, 4, 32, 32)
    torch.testing.assert_close(model(x)[:1], model(x[:1]), rtol=1e-4, atol=1e-5)


def test_resnet3d_layer_is_one_stage_with_full_network_names(tmp_path):
    full = ResNet3d(depth=18, pretrained=None, base_channels=8, inflate=[1, 1, 1, [1, 0]])
    for p in full.parameters():
        nn.init.uniform_(p, -0.1, 0.1)
    torch.save({'state_dict': full.state_dict()}, tmp_path / 'r3d.pth')
    layer = MODELS.build(dict(type='ResNet3dLayer', depth=18, pretrained=str(tmp_path / 'r3d.pth'),
                              pretrained2d=False, base_channels=8, inflate=[1, 0], norm_eval=True))
    layer.init_weights()
    assert list(dict(layer.named_children())) == ['layer4'] and layer.feat_dim == 64
    x = torch.randn(2, 32, 2, 4, 4)
    full.eval()
    torch.testing.assert_close(layer.eval()(x), full.layer4(x))
    frozen = ResNet3dLayer(depth=50, pretrained=None, stage=2, base_channels=8, all_frozen=True).train()
    assert not frozen.layer3.training and not any(p.requires_grad for p in frozen.parameters())
    assert frozen.layer3[0].conv1.conv.in_channels == 64  # stage 1 of a ResNet-50 puts out 2 * 8 * 4
    assert ResNet3dLayer(depth=18, pretrained=None, stage=0, base_channels=8)(
        torch.randn(1, 8, 2, 4, 4)).shape == (1, 8, 2, 2, 2)
    with pytest.raises(ValueError, match='stage'):
        ResNet3dLayer(depth=18, pretrained=None, stage=4)
