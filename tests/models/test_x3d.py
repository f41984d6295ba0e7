import pytest
import torch
from torch import nn

from actionlab.models import MODELS
from actionlab.models.backbones import X3D, BlockX3D, SEModule
from actionlab.models.backbones.x3d import round_width


def tiny_x3d(**kwargs) -> X3D:
    torch.manual_seed(0)
    model = X3D(**{'gamma_w': 1, 'gamma_b': 2.25, 'gamma_d': 1, **kwargs})
    model.init_weights()
    return model


def test_expansion_factors():
    assert round_width(24, 2.25) == 56 and round_width(24, 1) == 24 and round_width(54, 1 / 16) == 8
    assert round_width(216, 1 / 16) == 16 and round_width(24, 0.5) == 16  # at least 8, <= 10% less
    x3d_s = X3D(gamma_w=1, gamma_b=2.25, gamma_d=2.2)
    assert x3d_s.stage_blocks == (3, 5, 11, 7) and x3d_s.base_channels == 24 and x3d_s.feat_dim == 432
    assert x3d_s.layer1[0].conv1.conv.weight.shape == (54, 24, 1, 1, 1)
    assert X3D(gamma_w=2, gamma_d=1).base_channels == 48


def test_blocks_se_swish_and_stem():
    model = tiny_x3d()
    assert model.conv1_s.norm is None and model.conv1_t.conv.groups == 24
    assert model.conv1_t.conv.kernel_size == (5, 1, 1)
    block = model.layer3[0]
    assert block.conv2.conv.groups == block.planes == 216 and block.conv2.conv.stride == (1, 2, 2)
    assert isinstance(block.swish, nn.SiLU) and not block.conv2.with_activation
    se = [i for i, b in enumerate(model.layer3) if hasattr(b, 'se_module')]
    assert se == [0, 2, 4] and model.layer3[0].se_module.fc1.out_channels == 16
    everywhere = tiny_x3d(se_style='all', use_swish=False, se_ratio=None)
    assert not any(hasattr(b, 'se_module') for b in everywhere.modules() if isinstance(b, BlockX3D))
    assert isinstance(everywhere.layer1[0].swish, nn.Identity)
    with pytest.raises(ValueError, match='se_style'):
        X3D(se_style='some')


def test_block_forward_matches_its_definition():
    torch.manual_seed(0)
    block = BlockX3D(8, 16, 8, se_ratio=1 / 16).eval()
    for bn in (block.conv1.bn, block.conv2.bn, block.conv3.bn):
        nn.init.uniform_(bn.weight, 0.5, 1.5)
    x = torch.randn(2, 8, 3, 4, 4)
    mid = block.conv2(block.conv1(x))
    gate = torch.sigmoid(block.se_module.fc2(torch.relu(block.se_module.fc1(mid.mean((2, 3, 4), True)))))
    want = torch.relu(block.conv3(nn.functional.silu(mid * gate)) + x)
    torch.testing.assert_close(block(x), want)
    assert isinstance(block.se_module, SEModule) and block.se_module.bottleneck == 8


def test_output_shape_zero_init_and_gradients():
    model = tiny_x3d()
    assert all(b.conv3.bn.weight.abs().max() == 0 for b in model.modules() if isinstance(b, BlockX3D))
    out = model.train()(torch.randn(2, 3, 4, 32, 32))
    assert out.shape == (2, 432, 4, 1, 1)  # space / 32, time kept
    out.square().mean().backward()
    assert model.conv1_s.conv.weight.grad.abs().sum() > 0
    assert model.layer4[0].conv3.bn.weight.grad.abs().sum() > 0


def test_frozen_stages_and_norm_eval():
    model = tiny_x3d(frozen_stages=1, norm_eval=True).train()
    assert not any(p.requires_grad for p in model.conv1_s.parameters())
    assert not any(p.requires_grad for p in model.conv1_t.parameters())
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm3d))


def test_x3d_head():
    head = MODELS.build(dict(type='X3DHead', num_classes=5, in_channels=16, dropout_ratio=0.0))
    head.init_weights()
    assert head.fc1.bias is None and head.fc1.out_features == 2048
    x = torch.randn(2, 16, 3, 2, 2)
    torch.testing.assert_close(head(x), head.fc2(torch.relu(head.fc1(x.mean(dim=(2, 3, 4))))))
    max_head = MODELS.build(dict(type='X3DHead', num_classes=5, in_channels=16, spatial_type='max',
                                 fc1_bias=True))
    assert max_head.fc1.bias is not None
    torch.testing.assert_close(max_head.eval()(x),
                               max_head.fc2(torch.relu(max_head.fc1(x.amax(dim=(2, 3, 4))))))
    with pytest.raises(ValueError, match='spatial_type'):
        MODELS.build(dict(type='X3DHead', num_classes=5, in_channels=16, spatial_type=None))
