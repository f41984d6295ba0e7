import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actionlab.models import MODELS
from actionlab.models.backbones.resnet3d_slowfast import _every_nth_frame
from actionlab.models.ops import NORM_LAYERS, SubBatchNorm3D
from actionlab.registry import BuildError


def tiny_slowfast(**kwargs) -> nn.Module:
    """depth-18 pathways: slow 16 channels at 1/4 of the frames, fast 4 channels at all of them."""
    cfg = dict(type='ResNet3dSlowFast', pretrained=None, resample_rate=4, speed_ratio=4, channel_ratio=4,
               slow_pathway=dict(type='resnet3d', depth=18, pretrained=None, lateral=True, base_channels=16,
                                 conv1_kernel=[1, 7, 7], conv1_stride_t=1, pool1_stride_t=1,
                                 inflate=[0, 0, 1, 1]),
               fast_pathway=dict(type='resnet3d', depth=18, pretrained=None, lateral=False, base_channels=4,
                                 conv1_kernel=[5, 7, 7], conv1_stride_t=1, pool1_stride_t=1))
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_pathway_shapes_and_lateral_widths():
    model = tiny_slowfast().eval()
    slow, fast = model(torch.randn(2, 3, 16, 32, 32))
    assert slow.shape == (2, 128, 4, 1, 1) and fast.shape == (2, 32, 16, 1, 1)
    path = model.slow_path
    assert path.lateral_connections == ['layer1_lateral', 'layer2_lateral', 'layer3_lateral']
    # fast width C / 4 -> 2 C / 4 at the slow rate: kernel 5 x 1 x 1, temporal stride 4
    assert path.conv1_lateral.conv.weight.shape == (8, 4, 5, 1, 1)
    assert path.conv1_lateral.conv.stride == (4, 1, 1) and path.conv1_lateral.conv.bias is None
    assert path.layer2_lateral.conv.weight.shape == (16, 8, 5, 1, 1)
    # the first block of every stage takes the concatenated channels
    assert path.layer1[0].conv1.conv.in_channels == 16 + 8
    assert path.layer4[0].conv1.conv.in_channels == 64 + 32
    assert not hasattr(model.fast_path, 'conv1_lateral')
    assert path.conv1_lateral.norm is None and not path.conv1_lateral.with_activation
    normed = MODELS.build(dict(type='ResNet3dSlowFast', pretrained=None, resample_rate=4,
                               speed_ratio=4, channel_ratio=4,
                               slow_pathway=dict(type='resnet3d', depth=18, pretrained=None, lateral=True,
                                                 lateral_norm=True, base_channels=16, fusion_kernel=7),
                               fast_pathway=dict(type='resnet3d', depth=18, pretrained=None,
                                                 base_channels=4)))
    lateral = normed.slow_path.layer1_lateral
    assert isinstance(lateral.bn, nn.BatchNorm3d) and lateral.with_activation
    assert lateral.conv.kernel_size == (7, 1, 1) and lateral.conv.padding == (3, 0, 0)


def test_slow_path_sees_every_nth_frame_and_the_fast_path_through_laterals():
    model = tiny_slowfast().eval()
    x = torch.randn(1, 3, 16, 32, 32)
    changed = x.clone()
    changed[:, :, 1::4] += 1.0  # frames the slow pathway does not sample
    with torch.no_grad():
        slow, fast = model(x)
        slow2, fast2 = model(changed)
        assert not torch.allclose(fast, fast2)
        assert not torch.allclose(slow, slow2)  # the change reaches slow through the laterals
        for name in ['conv1_lateral', *model.slow_path.lateral_connections]:
            getattr(model.slow_path, name).conv.weight.zero_()
        torch.testing.assert_close(model(x)[0], model(changed)[0])


def test_every_nth_frame_matches_nearest_resampling():
    for t, rate in ((16, 4), (30, 8), (32, 1), (13, 2)):
        x = torch.randn(1, 2, t, 3, 3)
        want = F.interpolate(x, mode='nearest', scale_factor=(1.0 / rate, 1.0, 1.0))
        torch.testing.assert_close(_every_nth_frame(x, rate), want)


def test_slowfast_head_concatenates_fast_then_slow():
    head = MODELS.build(dict(type='SlowFastHead', num_classes=5, in_channels=160, dropout_ratio=0.0))
    head.init_weights()
    slow, fast = torch.randn(2, 128, 4, 2, 2), torch.randn(2, 32, 16, 2, 2)
    pooled = torch.cat([fast.mean(dim=(2, 3, 4)), slow.mean(dim=(2, 3, 4))], dim=1)
    torch.testing.assert_close(head((slow, fast)), head.fc_cls(pooled))
    assert MODELS.build(dict(type='SlowFastHead', num_classes=5, in_channels=8)).dropout.p == 0.8


def test_gradients_reach_both_pathways_and_laterals():
    model = tiny_slowfast().train()
    slow, fast = model(torch.randn(2, 3, 8, 32, 32))
    (slow.square().mean() + fast.square().mean()).backward()
    for name in ('slow_path.conv1.conv.weight', 'fast_path.conv1.conv.weight',
                 'slow_path.conv1_lateral.conv.weight', 'slow_path.layer3_lateral.conv.weight',
                 'fast_path.layer4.0.downsample.conv.weight', 'fast_path.layer4.1.conv2.bn.weight'):
        grad = model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_frozen_stages_freeze_their_laterals():
    model = tiny_slowfast(slow_pathway=dict(type='resnet3d', depth=18, pretrained=None, lateral=True,
                                            base_channels=16, inflate=[0, 0, 1, 1], conv1_kernel=[1, 7, 7],
                                            frozen_stages=2, norm_eval=True)).train()
    path = model.slow_path
    assert not any(p.requires_grad for p in path.layer2_lateral.parameters())
    assert not any(p.requires_grad for p in path.layer2.parameters())
    assert all(p.requires_grad for p in path.layer3_lateral.parameters())
    assert all(p.requires_grad for p in path.conv1_lateral.parameters())  # MMAction2 leaves it trainable
    assert not any(m.training for m in path.modules() if isinstance(m, nn.BatchNorm3d))
    assert all(m.training for m in model.fast_path.modules() if isinstance(m, nn.BatchNorm3d))


def test_whole_checkpoint_and_config_errors(tmp_path):
    source = tiny_slowfast()
    for p in source.parameters():
        nn.init.uniform_(p)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}},
               tmp_path / 'sf.pth')
    model = tiny_slowfast(pretrained=str(tmp_path / 'sf.pth'))
    for key, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
    with pytest.raises(BuildError, match="pathway type 'ResNetPathway'"):
        tiny_slowfast(fast_pathway=dict(type='ResNetPathway', depth=18, pretrained=None))
    with pytest.raises(ValueError, match='resample_rate'):
        tiny_slowfast(resample_rate=2)


def test_sub_batchnorm3d_splits_the_batch_and_aggregates():
    assert NORM_LAYERS.get('SubBatchNorm3D') is SubBatchNorm3D
    torch.manual_seed(0)
    bn = SubBatchNorm3D(3, num_splits=2, momentum=1.0)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    x = torch.randn(4, 3, 2, 3, 3) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1, 1)
    out = bn.train()(x)
    # sample i belongs to sub-batch i % 2, normalised with that sub-batch's statistics
    for split in range(2):
        part = x[split::2]
        mean = part.mean(dim=(0, 2, 3, 4), keepdim=True)
        var = part.var(dim=(0, 2, 3, 4), unbiased=False, keepdim=True)
        want = (part - mean) / torch.sqrt(var + 1e-5) * bn.weight.view(3, 1, 1, 1) + bn.bias.view(3, 1, 1, 1)
        torch.testing.assert_close(out[split::2], want, rtol=1e-4, atol=1e-5)
    bn.aggregate_stats()
    means = torch.stack([x[s::2].mean(dim=(0, 2, 3, 4)) for s in range(2)])
    variances = torch.stack([x[s::2].var(dim=(0, 2, 3, 4)) for s in range(2)])  # running var: unbiased
    torch.testing.assert_close(bn.bn.running_mean, means.mean(0))
    spread = (means - means.mean(0)).square().mean(0)
    torch.testing.assert_close(bn.bn.running_var, variances.mean(0) + spread)
    assert sorted(bn.state_dict()) == sorted(
        ['weight', 'bias'] + [f'{n}.{k}' for n in ('bn', 'split_bn')
                              for k in ('running_mean', 'running_var', 'num_batches_tracked')])
    with pytest.raises(ValueError, match='num_splits=2'):
        bn(torch.randn(3, 3, 1, 2, 2))


def test_2d_checkpoint_inflates_into_lateral_pathway(tmp_path):
    """Convs that also take the lateral input get the 2D kernel for the 2D channels and
    zeros for the extra (lateral) channels, so the laterals start with no effect."""
    from actionlab.models.backbones.resnet import ResNet, _torchvision_name

    torch.manual_seed(1)
    resnet2d = ResNet(depth=18, base_channels=16, pretrained=None)
    tv = {_torchvision_name(k): torch.rand_like(v) for k, v in resnet2d.state_dict().items()
          if not k.endswith('num_batches_tracked')}
    torch.save({'state_dict': tv}, tmp_path / 'r18w16.pth')
    model = tiny_slowfast(slow_pathway=dict(
        type='resnet3d', depth=18, pretrained=str(tmp_path / 'r18w16.pth'), lateral=True,
        base_channels=16, conv1_kernel=[1, 7, 7], conv1_stride_t=1, pool1_stride_t=1, inflate=[0, 0, 1, 1]))
    padded = 0
    for key, value in model.slow_path.state_dict().items():
        name = _torchvision_name(key)
        if value.dim() != 5 or name not in tv or 'lateral' in key:
            continue
        source = tv[name]
        width = source.shape[1]
        expected = source.unsqueeze(2).expand(-1, -1, value.shape[2], -1, -1) / value.shape[2]
        torch.testing.assert_close(value[:, :width], expected)
        if value.shape[1] > width:
            padded += 1
            assert not value[:, width:].any(), key
    assert padded >= 3  # first block of layer2-4 (conv1 and downsample) read the laterals too
