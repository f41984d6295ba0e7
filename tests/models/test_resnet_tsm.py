import pytest
import torch
from torch import nn

from actionlab.models import ResNetTSM
from actionlab.models.backbones.resnet_tsm import NL3DWrapper, TemporalPool
from actionlab.models.ops import TemporalShift


def tiny_tsm(**kwargs) -> ResNetTSM:
    model = ResNetTSM(**{'depth': 18, 'base_channels': 8, 'num_segments': 4, **kwargs})
    model.init_weights()
    return model.eval()


def test_blockres_shifts_the_first_conv_of_every_block():
    model = tiny_tsm()
    keys = model.state_dict()
    assert 'layer1.0.conv1.conv.net.weight' in keys and 'layer4.1.conv1.conv.net.weight' in keys
    assert 'layer1.0.conv2.conv.weight' in keys
    shifts = [m for m in model.modules() if isinstance(m, TemporalShift)]
    assert len(shifts) == 8 and all(s.num_segments == 4 and s.shift_div == 8 for s in shifts)


def test_block_place_shifts_whole_blocks():
    model = tiny_tsm(shift_place='block')
    assert isinstance(model.layer2[1], TemporalShift)
    assert 'layer2.1.net.conv1.conv.weight' in model.state_dict()
    with pytest.raises(ValueError, match='shift_place'):
        ResNetTSM(18, shift_place='channel')


def test_deep_resnets_shift_every_second_block():
    model = ResNetTSM(101, base_channels=8)
    assert isinstance(model.layer3[0].conv1.conv, TemporalShift)
    assert isinstance(model.layer3[1].conv1.conv, nn.Conv2d)
    assert isinstance(model.layer3[22].conv1.conv, TemporalShift)


def test_shift_mixes_neighbouring_frames_of_a_clip_only():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 32, 32)  # two clips of 4 frames
    changed = x.clone()
    changed[1] += 1.0              # frame 1 of clip 0
    for is_shift in (True, False):
        model = tiny_tsm(is_shift=is_shift)
        diff = (model(changed) - model(x)).flatten(1).abs().amax(1)
        assert diff[1] > 0
        assert (diff[0] > 0) == is_shift and (diff[2] > 0) == is_shift
        assert torch.all(diff[4:] == 0)  # the other clip never sees clip 0


def test_temporal_pool_halves_the_frames():
    model = tiny_tsm(temporal_pool=True)
    assert isinstance(model.layer2, TemporalPool)
    assert 'layer2.net.0.conv1.conv.net.weight' in model.state_dict()
    assert model.layer1[0].conv1.conv.num_segments == 4 and model.layer3[0].conv1.conv.num_segments == 2
    assert model(torch.randn(8, 3, 32, 32)).shape == (4, 64, 1, 1)
    with pytest.raises(ValueError, match='num_segments'):
        ResNetTSM(18, num_segments=1, temporal_pool=True)


def test_non_local_wrappers():
    model = tiny_tsm(depth=50, non_local=[[0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0, 1, 0], [0, 0, 0]],
                     non_local_cfg=dict(sub_sample=True, use_scale=False,
                                        norm_cfg=dict(type='BN3d', requires_grad=True)))
    wrapped = [name for name, m in model.named_modules() if isinstance(m, NL3DWrapper)]
    assert wrapped == ['layer2.0', 'layer2.2', 'layer3.0', 'layer3.2', 'layer3.4']
    keys = model.state_dict()
    assert keys['layer2.0.non_local_block.g.0.conv.weight'].shape == (32, 64, 1, 1, 1)
    assert 'layer2.0.block.conv1.conv.net.weight' in keys
    x = torch.randn(8, 3, 32, 32)
    assert model(x).shape == (8, 256, 1, 1)
    # non-local flags without a non_local_cfg add nothing (MMAction2's rule)
    plain = tiny_tsm(depth=50, non_local=[[0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0, 1, 0], [0, 0, 0]])
    assert not any(isinstance(m, NL3DWrapper) for m in plain.modules())
    with pytest.raises(ValueError, match='one entry per block'):
        tiny_tsm(non_local=[[1], 0, 0, 0], non_local_cfg=dict(mode='dot_product'))


def test_non_local_attends_across_the_clip():
    torch.manual_seed(0)
    model = tiny_tsm(non_local=[0, 0, 0, [1, 0]], non_local_cfg=dict(mode='dot_product', zeros_init=False))
    x = torch.randn(8, 3, 32, 32)
    changed = x.clone()
    changed[3] += 1.0
    diff = (model(changed) - model(x)).flatten(1).abs().amax(1)
    assert torch.all(diff[:4] > 0) and torch.all(diff[4:] == 0)
