import pytest
import torch
from torch import nn

from actionlab.models import MODELS
from actionlab.models.backbones.mobilenet_v2 import InvertedResidual, MobileNetV2, make_divisible
from actionlab.models.backbones.mobilenet_v2_tsm import MobileNetV2TSM
from actionlab.models.ops import TemporalShift


def build(cls=MobileNetV2, **kwargs):
    """A model with BN statistics from a batch of noise, so that activations keep their scale."""
    model = cls(**kwargs)
    model.init_weights()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model.train()(torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    return model.eval()


def test_make_divisible():
    assert make_divisible(32, 8) == 32
    assert make_divisible(37, 8) == 40      # nearest multiple
    assert make_divisible(18, 8) == 24      # 16 would lose more than 10 %
    assert make_divisible(3, 8) == 8        # at least the divisor
    assert make_divisible(20, 8, min_value=32) == 32


def test_mobilenet_v2_layout_and_mmcls_names():
    model = MODELS.build(dict(type='MobileNetV2'))
    keys = model.state_dict()
    for key, shape in (('conv1.conv.weight', (32, 3, 3, 3)), ('layer1.0.conv.0.conv.weight', (32, 1, 3, 3)),
                       ('layer1.0.conv.1.conv.weight', (16, 32, 1, 1)),
                       ('layer2.0.conv.0.conv.weight', (96, 16, 1, 1)),
                       ('layer7.0.conv.2.bn.running_mean', (320,)), ('conv2.conv.weight', (1280, 320, 1, 1))):
        assert tuple(keys[key].shape) == shape
    assert 'conv1.conv.bias' not in keys and isinstance(model.conv1.activate, nn.ReLU6)
    assert [len(getattr(model, f'layer{i}')) for i in range(1, 8)] == [1, 2, 3, 4, 3, 3, 1]
    half = MobileNetV2(widen_factor=0.5)
    assert half.conv1.conv.out_channels == 16 and half.conv2.conv.out_channels == 1280
    assert MobileNetV2(widen_factor=1.5).conv2.conv.out_channels == 1920


def test_mobilenet_v2_out_indices_and_strides():
    model = build(out_indices=[0, 2, 5, 7])
    outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 32, 32), (2, 32, 8, 8), (2, 160, 2, 2), (2, 1280, 2, 2)]
    with pytest.raises(ValueError, match='out_indices'):
        MobileNetV2(out_indices=(8,))
    with pytest.raises(ValueError, match='frozen_stages'):
        MobileNetV2(frozen_stages=9)


def test_inverted_residual_shortcut_only_when_shapes_match():
    torch.manual_seed(0)
    same = InvertedResidual(8, 8, 1, expand_ratio=6).eval()
    x = torch.randn(2, 8, 6, 6)
    assert same.use_res_connect and len(same.conv) == 3
    torch.testing.assert_close(same(x), x + same.conv(x))
    strided = InvertedResidual(8, 8, 2, expand_ratio=1).eval()
    assert not strided.use_res_connect and len(strided.conv) == 2
    torch.testing.assert_close(strided(x), strided.conv(x))
    with pytest.raises(ValueError, match='stride'):
        InvertedResidual(8, 8, 3, expand_ratio=6)


@pytest.mark.parametrize('frozen_stages', [0, 3, 8])
def test_mobilenet_v2_frozen_stages(frozen_stages):
    model = build(frozen_stages=frozen_stages).train()
    frozen = ['conv1'] + model.layers[:frozen_stages]
    for name in model.layers + ['conv1']:
        module = getattr(model, name)
        is_frozen = name in frozen
        assert all(p.requires_grad != is_frozen for p in module.parameters()), name
        assert all(m.training != is_frozen for m in module.modules()), name


def test_mobilenet_v2_norm_eval_and_checkpointing():
    torch.manual_seed(0)
    model = build(norm_eval=True, with_cp=True).train()
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert model.conv2.training
    x = torch.randn(2, 3, 32, 32)
    plain = build(norm_eval=True).train()
    plain.load_state_dict(model.state_dict())
    model(x).sum().backward()
    plain(x).sum().backward()
    grads = [m.layer3[1].conv[1].conv.weight.grad for m in (model, plain)]
    torch.testing.assert_close(*grads)


def test_mobilenet_v2_tsm_shifts_the_expansion_conv_of_residual_blocks():
    model = MODELS.build(dict(type='MobileNetV2TSM', num_segments=4, shift_div=8))
    shifted = sorted(name for name, m in model.named_modules() if isinstance(m, TemporalShift))
    assert len(shifted) == 10 and 'layer2.1.conv.0' in shifted and 'layer2.0.conv.0' not in shifted
    keys = model.state_dict()
    assert 'layer2.1.conv.0.net.conv.weight' in keys and 'layer2.0.conv.0.conv.weight' in keys
    shifts = [s for s in model.modules() if isinstance(s, TemporalShift)]
    assert all(s.num_segments == 4 and s.shift_div == 8 for s in shifts)
    assert not any(isinstance(m, TemporalShift) for m in MobileNetV2TSM(is_shift=False).modules())


def test_mobilenet_v2_tsm_mixes_frames_of_a_clip_only():
    torch.manual_seed(0)
    model = build(MobileNetV2TSM, num_segments=4)
    x = torch.randn(8, 3, 32, 32)
    changed = x.clone()
    changed[1] += 1.0
    diff = (model(changed) - model(x)).flatten(1).abs().amax(1)
    assert torch.all(diff[:3] > 0) and torch.all(diff[4:] == 0)
    with torch.inference_mode():
        fast = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(fast, model(x), rtol=1e-3, atol=1e-4)


def test_mobilenet_v2_tsm_loads_mobilenet_v2_weights(tmp_path):
    torch.manual_seed(0)
    source = build()
    path = tmp_path / 'mobilenet_v2.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}}, path)
    model = build(MobileNetV2TSM, pretrained=str(path))
    torch.testing.assert_close(model.layer4[2].conv[0].net.conv.weight, source.layer4[2].conv[0].conv.weight)
    x = torch.randn(8, 3, 32, 32)
    assert not torch.allclose(model(x), source(x), rtol=1e-2, atol=1e-3)  # same weights, shifted in time
    unshifted = build(MobileNetV2TSM, pretrained=str(path), is_shift=False)
    torch.testing.assert_close(unshifted(x), source(x))
