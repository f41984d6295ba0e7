import pytest
import torch
from torch import nn

from actionlab.models import MODELS, ResNet3d
from actionlab.models.backbones.resnet import _torchvision_name
from actionlab.models.backbones.resnet3d import BasicBlock3d, Bottleneck3d
from actionlab.models.ops import NonLocal3d

I3D_INFLATE = [[1, 1, 1], [1, 0, 1, 0], [1, 0, 1, 0, 1, 0], [0, 1, 0]]


def tiny_3d(**kwargs) -> ResNet3d:
    model = ResNet3d(**{'depth': 18, 'pretrained': None, 'base_channels': 8, **kwargs})
    model.init_weights()
    return model


def test_i3d_stem_and_pools_set_the_output_size():
    x = torch.randn(2, 3, 8, 32, 32)
    model = tiny_3d(conv1_kernel=[5, 7, 7], conv1_stride_t=2, pool1_stride_t=2)
    assert model.conv1.conv.weight.shape == (8, 3, 5, 7, 7) and model.conv1.conv.padding == (2, 3, 3)
    assert model(x).shape == (2, 64, 1, 1, 1)               # T: 8 -> 4 -> 2 -> pool2 -> 1
    assert tiny_3d(with_pool2=False)(x).shape == (2, 64, 8, 1, 1)
    assert tiny_3d(with_pool1=False, with_pool2=False)(x).shape == (2, 64, 8, 2, 2)
    outs = tiny_3d(out_indices=(0, 3), temporal_strides=(1, 1, 2, 1), with_pool2=False)(x)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 8, 8, 8), (2, 64, 4, 1, 1)]


def test_inflate_flags_and_styles():
    model = ResNet3d(50, None, base_channels=8, inflate=I3D_INFLATE)
    assert model.layer2[0].conv1.conv.weight.shape[2:] == (3, 1, 1)
    assert model.layer2[1].conv1.conv.weight.shape[2:] == (1, 1, 1)
    assert model.layer4[1].conv1.conv.weight.shape[2:] == (3, 1, 1)
    assert model.layer2[0].conv2.conv.weight.shape[2:] == (1, 3, 3)
    m333 = ResNet3d(50, None, base_channels=8, inflate=(0, 0, 1, 1), inflate_style='3x3x3')
    assert m333.layer3[0].conv1.conv.weight.shape[2:] == (1, 1, 1)
    assert m333.layer3[0].conv2.conv.weight.shape[2:] == (3, 3, 3)
    assert m333.layer1[0].conv2.conv.weight.shape[2:] == (1, 3, 3)
    basic = ResNet3d(18, None, base_channels=8, inflate=(1, 0, 0, 0))
    assert basic.layer1[0].conv1.conv.weight.shape[2:] == (3, 3, 3)
    assert basic.layer2[0].conv2.conv.weight.shape[2:] == (1, 3, 3)
    with pytest.raises(ValueError, match='inflate flags'):
        ResNet3d(50, None, inflate=[[1, 1], 1, 1, 1])


def test_stage_blocks_strides_and_keys():
    model = ResNet3d(50, None, base_channels=8, stage_blocks=[1, 1, 2, 1], spatial_strides=[1, 2, 1, 1],
                     temporal_strides=[1, 2, 1, 1], dilations=[1, 1, 2, 2])
    assert [len(getattr(model, f'layer{i}')) for i in range(1, 5)] == [1, 1, 2, 1]
    assert model.layer2[0].downsample.conv.stride == (2, 2, 2)
    assert model.layer3[0].conv2.conv.dilation == (1, 2, 2)
    assert model(torch.randn(1, 3, 8, 32, 32)).shape == (1, 256, 2, 4, 4)
    keys = ResNet3d(50, None).state_dict()
    assert len(keys) == 318 and keys['layer1.0.conv1.conv.weight'].shape == (64, 64, 3, 1, 1)
    with pytest.raises(ValueError, match='stage_blocks'):
        ResNet3d(50, None, stage_blocks=[1, 1])


def test_non_local_blocks_follow_flagged_blocks():
    model = MODELS.build(dict(type='ResNet3d', depth=50, pretrained=None, base_channels=8,
                              non_local=[[0, 0, 0], [0, 1, 0, 1], 0, 0],
                              non_local_cfg=dict(mode='gaussian', sub_sample=True,
                                                 norm_cfg=dict(type='BN3d'))))
    model.init_weights()
    flagged = [name for name, m in model.named_modules() if isinstance(m, NonLocal3d)]
    assert flagged == ['layer2.1.non_local_block', 'layer2.3.non_local_block']
    # zeroed output norm: the block is the identity until trained
    assert model.layer2[1].non_local_block.conv_out.bn.weight.abs().max() == 0
    assert model(torch.randn(1, 3, 4, 32, 32)).shape == (1, 256, 2, 1, 1)  # T: 4 -> pool2 -> 2


def test_zero_init_residual():
    model = tiny_3d(depth=50)
    assert all(m.conv3.bn.weight.abs().max() == 0 for m in model.modules() if isinstance(m, Bottleneck3d))
    model = tiny_3d()
    assert all(m.conv2.bn.weight.abs().max() == 0 for m in model.modules() if isinstance(m, BasicBlock3d))
    model = tiny_3d(zero_init_residual=False)
    assert all(m.conv2.bn.weight.min() == 1 for m in model.modules() if isinstance(m, BasicBlock3d))


def test_frozen_stages_and_norm_eval():
    model = tiny_3d(frozen_stages=2, norm_eval=True).train()
    assert not any(p.requires_grad for p in model.conv1.parameters())
    assert not any(p.requires_grad for p in model.layer2.parameters())
    assert all(p.requires_grad for p in model.layer3.parameters())
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm3d))


def test_2d_checkpoint_is_inflated(tmp_path):
    """pretrained2d: kernels repeated along time and divided by T, norms copied."""
    model = tiny_3d(depth=50, conv1_kernel=(5, 7, 7), inflate=I3D_INFLATE)
    torch.manual_seed(0)
    tv = {}
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked'):
            continue
        if value.dim() == 5:
            value = value[:, :, 0]
        tv[_torchvision_name(key)] = torch.rand_like(value)
    path = tmp_path / 'resnet50.pth'
    torch.save({'state_dict': tv}, path)
    model = tiny_3d(depth=50, conv1_kernel=(5, 7, 7), inflate=I3D_INFLATE, pretrained=str(path))
    stem = model.conv1.conv.weight
    for t in range(5):
        torch.testing.assert_close(stem[:, :, t], tv['conv1.weight'] / 5)
    torch.testing.assert_close(model.layer2[0].conv1.conv.weight[:, :, 1], tv['layer2.0.conv1.weight'] / 3)
    torch.testing.assert_close(model.layer2[1].conv1.conv.weight[:, :, 0], tv['layer2.1.conv1.weight'])
    torch.testing.assert_close(model.layer3[2].conv2.bn.running_mean, tv['layer3.2.bn2.running_mean'])
    torch.testing.assert_close(model.layer1[0].downsample.bn.weight, tv['layer1.0.downsample.1.weight'])
    # a static clip gives the 2D network's stem response
    clip = torch.rand(1, 3, 1, 16, 16).expand(-1, -1, 9, -1, -1)
    conv3d = nn.functional.conv3d(clip, stem, padding=(2, 3, 3))[:, :, 4]
    conv2d = nn.functional.conv2d(clip[:, :, 0], tv['conv1.weight'], padding=3)
    torch.testing.assert_close(conv3d, conv2d, rtol=1e-4, atol=1e-5)


def test_3d_checkpoint_loads_directly(tmp_path):
    source = tiny_3d()
    for p in source.parameters():
        nn.init.uniform_(p)
    torch.save({'state_dict': source.state_dict()}, tmp_path / 'i3d.pth')
    model = tiny_3d(pretrained=str(tmp_path / 'i3d.pth'), pretrained2d=False)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
