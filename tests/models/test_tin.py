import math

import pytest
import torch

from actionlab.models import MODELS, ResNet
from actionlab.models.backbones.resnet import _torchvision_name
from actionlab.models.backbones.resnet_tin import CombineNet, ResNetTIN, TemporalInterlace
from actionlab.models.ops import TemporalShift, linear_sampler, tin_shift


def reference_tin_shift(x, shift):
    """mmcv's CUDA kernel, loop for loop: out[n, t + shift] = x[n, t] per channel group."""
    n, t, c = x.shape[:3]
    groups = shift.shape[1]
    out = torch.zeros_like(x)
    for b in range(n):
        for ch in range(c):
            s = int(shift[b, ch // (c // groups)])
            for i in range(t):
                if 0 <= i + s < t:
                    out[b, i + s, ch] = x[b, i, ch]
    return out


def reference_linear_sampler(x, offset):
    """MMAction2's linear_sampler on top of the loop reference."""
    floor = torch.floor(offset)
    w1 = offset - floor
    groups = offset.shape[1]
    per_channel = x.shape[2] // groups
    w0 = (1 - w1).repeat_interleave(per_channel, 1)[:, None, :, None]
    w1 = w1.repeat_interleave(per_channel, 1)[:, None, :, None]
    return (w0 * reference_tin_shift(x, floor.long()) + w1 * reference_tin_shift(x, floor.long() + 1))


def test_tin_shift_moves_whole_frames_with_zero_fill():
    x = torch.arange(1., 5.).view(1, 4, 1, 1).repeat(1, 1, 2, 1)  # frames 1, 2, 3, 4; two groups
    out = tin_shift(x, torch.tensor([[1, -2]]))
    assert out[0, :, 0, 0].tolist() == [0, 1, 2, 3]  # group 0: one frame later
    assert out[0, :, 1, 0].tolist() == [3, 4, 0, 0]  # group 1: two frames earlier


def test_tin_shift_matches_the_kernel_loop_incl_boundaries():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 8, 6)
    shift = torch.tensor([[0, 1, -1, 4], [5, -5, 2, -3], [-7, 6, 0, 3]])  # |shift| >= T too
    torch.testing.assert_close(tin_shift(x, shift), reference_tin_shift(x, shift), rtol=0, atol=0)


def test_tin_shift_checks_its_arguments():
    x = torch.randn(2, 4, 6, 3)
    with pytest.raises(ValueError, match='multiple of the number of shift groups'):
        tin_shift(x, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match='batch'):
        tin_shift(x, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match='integers'):
        tin_shift(x, torch.zeros(2, 2))


def test_linear_sampler_interpolates_between_integer_shifts():
    x = torch.arange(1., 5.).view(1, 4, 1, 1)
    out = linear_sampler(x, torch.tensor([[0.25]]))
    # 0.75 * [1, 2, 3, 4] + 0.25 * [0, 1, 2, 3]
    assert out.flatten().tolist() == [0.75, 1.75, 2.75, 3.75]
    torch.manual_seed(1)
    x = torch.randn(2, 6, 8, 5)
    offset = torch.tensor([[-1.7, 0.3, 2.5, -0.01], [1.99, -3.2, 0.0, 4.6]])
    torch.testing.assert_close(linear_sampler(x, offset), reference_linear_sampler(x, offset))
    weight = torch.rand(2, 6, 4)
    want = reference_linear_sampler(x, offset) * weight.repeat_interleave(2, 2)[..., None]
    torch.testing.assert_close(linear_sampler(x, offset, weight), want)


def test_linear_sampler_gradients_reach_offsets_and_features():
    torch.manual_seed(2)
    x = torch.randn(2, 4, 4, 3, dtype=torch.float64, requires_grad=True)
    offset = torch.tensor([[0.3, -1.4], [1.6, 0.45]], dtype=torch.float64, requires_grad=True)
    weight = torch.rand(2, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(linear_sampler, (x, offset, weight))


def reference_interlace(module, x):
    """MMAction2's TemporalInterlace.forward with the loop-based shift."""
    n, c, h, w = x.shape
    batches = n // module.num_segments
    folds = c // module.shift_div
    desc = x[:, :folds].reshape(batches, module.num_segments, folds, h, w)
    pooled = desc.mean(3).mean(3).permute(0, 2, 1)
    offset = module.offset_net(pooled).view(batches, -1)
    weight = module.weight_net(pooled)
    offset = torch.cat([offset, -offset], 1)
    shifted = reference_linear_sampler(desc.reshape(batches, module.num_segments, folds, h * w), offset)
    weight = weight[:, :, :, None].repeat(1, 1, 2, folds // 4).view(batches, module.num_segments, -1)
    shifted = shifted.view(batches, module.num_segments, folds, h, w) * weight[:, :, :, None, None]
    out = x.clone()
    out[:, :folds] = shifted.view(n, folds, h, w)
    return out


def test_temporal_interlace_matches_mmaction2():
    torch.manual_seed(3)
    module = TemporalInterlace(16, num_segments=4, shift_div=2)
    torch.nn.init.normal_(module.offset_net.fc2.weight, std=2.0)  # offsets of several frames
    x = torch.randn(8, 16, 3, 3)
    out = module(x)
    torch.testing.assert_close(out, reference_interlace(module, x))
    assert torch.equal(out[:, 8:], x[:, 8:])
    assert not torch.allclose(out[:, :8], x[:, :8])
    with pytest.raises(ValueError, match='multiple of 4'):
        TemporalInterlace(12, num_segments=4, shift_div=2)


def test_interlace_initial_offsets_and_weights():
    module = TemporalInterlace(16, num_segments=4, shift_div=4)
    for p in (module.offset_net.fc2.weight, module.weight_net.conv.weight):
        torch.nn.init.zeros_(p)
    pooled = torch.randn(2, 4, 4)
    start = 4 * (1 / (1 + math.exp(-0.5108)) - 0.5)  # = 0.5 frame
    torch.testing.assert_close(module.offset_net(pooled), torch.full((2, 1, 2), start))
    torch.testing.assert_close(module.weight_net(pooled), torch.ones(2, 4, 2))


def tiny_tin(**kwargs) -> ResNetTIN:
    model = ResNetTIN(**{'depth': 18, 'base_channels': 16, 'num_segments': 4, **kwargs})
    model.init_weights()
    return model.eval()


def test_resnet_tin_wraps_every_first_conv_with_mmaction2_names():
    model = MODELS.build(dict(type='ResNetTIN', depth=50, shift_div=4))
    keys = model.state_dict()
    for key, shape in (('layer1.0.conv1.conv.net1.offset_net.conv.weight', (1, 16, 3)),
                       ('layer1.0.conv1.conv.net1.offset_net.fc1.weight', (8, 8)),
                       ('layer1.0.conv1.conv.net1.offset_net.fc2.bias', (2,)),
                       ('layer1.0.conv1.conv.net1.weight_net.conv.weight', (2, 16, 3)),
                       ('layer1.0.conv1.conv.net2.weight', (64, 64, 1, 1)),
                       ('layer4.2.conv1.conv.net1.weight_net.conv.bias', (2,)),
                       ('layer4.2.conv1.conv.net2.weight', (512, 2048, 1, 1))):
        assert tuple(keys[key].shape) == shape
    assert sum(isinstance(m, CombineNet) for m in model.modules()) == 16
    assert not any(isinstance(m, TemporalShift) for m in model.modules())
    assert model.shift_div == 4 and model.num_segments == 8
    plain = MODELS.build(dict(type='ResNetTIN', depth=50, is_tin=False, is_shift=True))
    assert not any(isinstance(m, (CombineNet, TemporalShift)) for m in plain.modules())


def test_resnet_tin_mixes_frames_of_a_clip_only():
    torch.manual_seed(0)
    model = tiny_tin()
    x = torch.randn(8, 3, 32, 32)  # two clips of 4 frames
    changed = x.clone()
    changed[1] += 1.0
    diff = (model(changed) - model(x)).flatten(1).abs().amax(1)
    assert torch.all(diff[:4] > 0) and torch.all(diff[4:] == 0)


def test_resnet_tin_gradients_reach_the_offsets():
    torch.manual_seed(0)
    model = tiny_tin().train()
    model(torch.randn(8, 3, 32, 32)).pow(2).mean().backward()
    interlace = model.layer2[0].conv1.conv.net1
    assert interlace.offset_net.fc2.weight.grad.abs().sum() > 0
    assert interlace.offset_net.conv.weight.grad.abs().sum() > 0
    assert interlace.weight_net.conv.weight.grad.abs().sum() > 0


def test_resnet_tin_inference_mode_and_channels_last():
    torch.manual_seed(0)
    model = tiny_tin()
    x = torch.randn(8, 3, 32, 32)
    with torch.inference_mode():
        want = model(x)
        got = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_resnet_tin_loads_plain_resnet_weights(tmp_path):
    torch.manual_seed(0)
    resnet = ResNet(18, base_channels=16)
    for m in resnet.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
    path = tmp_path / 'resnet.pth'
    torch.save({'state_dict': resnet.state_dict()}, path)
    model = tiny_tin(pretrained=str(path))
    torch.testing.assert_close(model.layer3[1].conv1.conv.net2.weight, resnet.layer3[1].conv1.conv.weight)
    torch.testing.assert_close(model.layer3[1].conv2.conv.weight, resnet.layer3[1].conv2.conv.weight)
    assert model.layer1[0].conv1.conv.net1.offset_net.fc2.bias[0].item() == pytest.approx(0.5108)
    # torchvision names, as for pretrained='torchvision://resnet50'
    torchvision = {_torchvision_name(k) or k: v for k, v in resnet.state_dict().items()}
    assert 'layer2.0.downsample.0.weight' in torchvision and 'layer2.0.bn1.weight' in torchvision
    torch.save(torchvision, path)
    model = tiny_tin(pretrained=str(path))
    torch.testing.assert_close(model.layer2[0].conv1.conv.net2.weight, resnet.layer2[0].conv1.conv.weight)
    torch.testing.assert_close(model.layer2[0].conv1.bn.weight, resnet.layer2[0].conv1.bn.weight)


def test_resnet_tin_with_non_local_blocks():
    model = tiny_tin(non_local=[0, [1, 0], 0, 0], non_local_cfg=dict(sub_sample=True))
    keys = model.state_dict()
    assert 'layer2.0.block.conv1.conv.net1.offset_net.conv.weight' in keys
    assert 'layer2.0.non_local_block.g.0.conv.weight' in keys
    assert model(torch.randn(4, 3, 32, 32)).shape == (4, 128, 1, 1)
