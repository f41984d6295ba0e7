import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actionlab.models.ops import (
    ConvModule,
    NonLocal2d,
    NonLocal3d,
    TemporalShift,
    build_activation_layer,
    build_norm_layer,
    constant_init,
    kaiming_init,
    normal_init,
    temporal_shift,
)
from actionlab.registry import BuildError

# ----------------------------------------------------------------------------- ConvModule

def test_conv_module_uses_mmcv_child_names_and_auto_bias():
    m = ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type='BN'))
    assert sorted(m.state_dict()) == ['bn.bias', 'bn.num_batches_tracked', 'bn.running_mean',
                                      'bn.running_var', 'bn.weight', 'conv.weight']
    assert m.norm is m.bn
    plain = ConvModule(3, 8, 1, act_cfg=None)
    assert sorted(plain.state_dict()) == ['conv.bias', 'conv.weight']
    gn = ConvModule(4, 8, 1, norm_cfg=dict(type='GN', num_groups=2))
    assert 'gn.weight' in gn.state_dict() and gn.norm.num_groups == 2


def test_conv_module_forward_is_conv_bn_relu():
    torch.manual_seed(0)
    m = ConvModule(3, 4, 3, stride=2, padding=1, norm_cfg=dict(type='BN2d')).eval()
    nn.init.uniform_(m.bn.weight, 0.5, 1.5)
    nn.init.uniform_(m.bn.running_mean, -1, 1)
    x = torch.randn(2, 3, 8, 8)
    bn = m.bn
    want = F.relu(F.batch_norm(F.conv2d(x, m.conv.weight, stride=2, padding=1), bn.running_mean,
                               bn.running_var, bn.weight, bn.bias, eps=bn.eps))
    torch.testing.assert_close(m(x), want)
    assert (want == 0).any() and (want > 0).any()


def test_conv_module_3d_lists_requires_grad_and_order():
    m = ConvModule(2, 4, [3, 1, 1], stride=[1, 2, 2], padding=[1, 0, 0],
                   conv_cfg=dict(type='Conv3d'), norm_cfg=dict(type='BN3d', requires_grad=False))
    assert isinstance(m.conv, nn.Conv3d) and m.conv.kernel_size == (3, 1, 1)
    assert not m.bn.weight.requires_grad and not m.bn.bias.requires_grad
    assert m(torch.randn(1, 2, 4, 6, 6)).shape == (1, 4, 4, 3, 3)
    pre_norm = ConvModule(3, 5, 1, norm_cfg=dict(type='BN'), order=('norm', 'conv', 'act'))
    assert pre_norm.bn.num_features == 3
    with pytest.raises(ValueError, match='permutation'):
        ConvModule(3, 5, 1, order=('conv', 'act'))


def test_conv_module_bad_types_name_close_matches():
    with pytest.raises(BuildError, match="'Conv3D' is not a registered conv layer.*Conv3d"):
        ConvModule(3, 5, 1, conv_cfg=dict(type='Conv3D'))
    with pytest.raises(BuildError, match='num_groups'):
        ConvModule(3, 6, 1, norm_cfg=dict(type='GN'))


def test_norm_and_activation_builders():
    assert build_norm_layer(dict(type='LN'), 7)[0] == 'ln'
    name, layer = build_norm_layer(dict(type='BN3d', eps=1e-3), 5, postfix=2)
    assert name == 'bn2' and isinstance(layer, nn.BatchNorm3d) and layer.eps == 1e-3
    assert build_norm_layer(dict(type='SyncBN'), 4)[0] == 'bn'
    relu = ConvModule(1, 1, 1).activate
    assert isinstance(relu, nn.ReLU) and relu.inplace
    swish = ConvModule(1, 1, 1, act_cfg=dict(type='Swish')).activate
    x = torch.linspace(-4, 4, 9)
    torch.testing.assert_close(swish(x), x * torch.sigmoid(x))
    hsig = build_activation_layer(dict(type='HSigmoid'))
    torch.testing.assert_close(hsig(torch.tensor([-4.0, 0.0, 1.5, 4.0])),
                               torch.tensor([0.0, 0.5, 0.75, 1.0]))


# ----------------------------------------------------------------------------- weight init

def test_weight_init_helpers():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 256, 3)
    kaiming_init(conv)
    fan_out = 256 * 9
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)
    assert conv.bias.abs().max() == 0
    fc = nn.Linear(500, 400)
    normal_init(fc, std=0.01, bias=0.5)
    assert fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(fc.bias == 0.5)
    bn = nn.BatchNorm2d(4)
    constant_init(bn, 0)
    assert bn.weight.abs().max() == 0 and bn.bias.abs().max() == 0


# ----------------------------------------------------------------------------- temporal shift

def test_temporal_shift_matches_hand_computed_example():
    videos, t, c = 2, 4, 8
    # value = 1000 * video + 100 * frame + channel, so every entry says where it came from
    x = torch.tensor([[1000 * v + 100 * f + ch for ch in range(c)]
                      for v in range(videos) for f in range(t)], dtype=torch.float32)
    out = temporal_shift(x.view(videos * t, c, 1, 1), num_segments=t, shift_div=4).view(videos, t, c)
    for v in range(videos):
        for f in range(t):
            for ch in range(c):
                if ch < 2:      # first fold: frame f sees frame f + 1 (zero after the last frame)
                    want = 1000 * v + 100 * (f + 1) + ch if f + 1 < t else 0
                elif ch < 4:    # second fold: frame f sees frame f - 1 (zero before the first)
                    want = 1000 * v + 100 * (f - 1) + ch if f > 0 else 0
                else:
                    want = 1000 * v + 100 * f + ch
                assert out[v, f, ch].item() == want, (v, f, ch)


def test_temporal_shift_gradient_and_module():
    x = torch.randn(6, 8, 3, 3, requires_grad=True)
    temporal_shift(x, num_segments=3, shift_div=4).sum().backward()
    grad = x.grad.view(2, 3, 8, 3, 3)
    assert torch.all(grad[:, 0, :2] == 0) and torch.all(grad[:, 1:, :2] == 1)   # frame 0 of fold 1 is dropped
    assert torch.all(grad[:, -1, 2:4] == 0) and torch.all(grad[:, :-1, 2:4] == 1)
    assert torch.all(grad[:, :, 4:] == 1)
    net = nn.Identity()
    shift = TemporalShift(net, num_segments=3, shift_div=4)
    torch.testing.assert_close(shift(x), temporal_shift(x, 3, 4))
    assert shift.net is net
    with pytest.raises(ValueError, match='num_segments=4'):
        temporal_shift(x, num_segments=4)


# ----------------------------------------------------------------------------- non-local

def _reference_non_local(block, x):
    """The non-local formulas written out over flattened positions."""
    n = x.shape[0]
    g = block.g(x).flatten(2)                                    # (N, C', Q)
    if block.mode == 'gaussian':
        theta = x.flatten(2)
        phi = (block.phi(x) if block.sub_sample else x).flatten(2)
    else:
        theta, phi = block.theta(x).flatten(2), block.phi(x).flatten(2)
    if block.mode == 'concatenation':
        w = block.concat_project.conv.weight.view(-1)
        c = theta.shape[1]
        logits = (torch.einsum('c,ncp->np', w[:c], theta)[:, :, None]
                  + torch.einsum('c,ncq->nq', w[c:], phi)[:, None, :])
        weight = F.relu(logits) / phi.shape[-1]
    else:
        logits = torch.einsum('ncp,ncq->npq', theta, phi)
        if block.mode == 'dot_product':
            weight = logits / phi.shape[-1]
        else:
            if block.mode == 'embedded_gaussian' and block.use_scale:
                logits = logits / math.sqrt(theta.shape[1])
            weight = logits.softmax(-1)
    y = torch.einsum('npq,ncq->ncp', weight, g).reshape(n, -1, *x.shape[2:])
    return x + block.conv_out(y)


@pytest.mark.parametrize('mode', ['embedded_gaussian', 'gaussian', 'dot_product', 'concatenation'])
@pytest.mark.parametrize('sub_sample', [False, True])
def test_non_local_3d_modes_match_formulas(mode, sub_sample):
    torch.manual_seed(0)
    block = NonLocal3d(8, mode=mode, sub_sample=sub_sample, norm_cfg=dict(type='BN3d')).eval()
    x = torch.randn(2, 8, 2, 4, 4)
    torch.testing.assert_close(block(x), x)  # output conv starts at zero: identity
    for p in block.parameters():
        nn.init.normal_(p, 0, 0.3)
    out = block(x)
    assert not torch.allclose(out, x)
    torch.testing.assert_close(out, _reference_non_local(block, x), rtol=1e-4, atol=1e-5)


def test_non_local_keys_follow_mmcv():
    gaussian = NonLocal3d(16, mode='gaussian', sub_sample=True, norm_cfg=dict(type='BN3d'))
    assert sorted(k for k in gaussian.state_dict() if 'bn.' not in k) == [
        'conv_out.conv.weight', 'g.0.conv.bias', 'g.0.conv.weight']
    embedded = NonLocal3d(16, sub_sample=True)
    keys = set(embedded.state_dict())
    assert {'theta.conv.weight', 'phi.0.conv.weight', 'g.0.conv.bias', 'conv_out.conv.bias'} <= keys
    assert embedded.inter_channels == 8 and embedded.g[0].conv.weight.shape == (8, 16, 1, 1, 1)
    with pytest.raises(ValueError, match='mode'):
        NonLocal3d(8, mode='softmax')


def test_non_local_2d():
    torch.manual_seed(0)
    block = NonLocal2d(6, reduction=3, use_scale=False, sub_sample=True, zeros_init=False).eval()
    x = torch.randn(2, 6, 4, 6)
    out = block(x)
    assert out.shape == x.shape and not torch.allclose(out, x)
    torch.testing.assert_close(out, _reference_non_local(block, x), rtol=1e-4, atol=1e-6)
