import logging

import pytest
import torch
from torch import nn

from actionlab.models import MODELS, ResNet, build_model
from actionlab.models.backbones.resnet import _torchvision_name


def tiny_resnet(**kwargs) -> ResNet:
    model = ResNet(**{'depth': 18, 'base_channels': 8, **kwargs})
    model.init_weights()
    return model


def test_forward_shapes_and_out_indices():
    x = torch.randn(2, 3, 32, 32)
    model = tiny_resnet()
    assert model(x).shape == (2, 64, 1, 1) and model.feat_dim == 64
    outs = tiny_resnet(out_indices=[0, 1, 2, 3])(x)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 8, 8), (2, 16, 4, 4), (2, 32, 2, 2), (2, 64, 1, 1)]
    model = ResNet(50, base_channels=8, num_stages=3, out_indices=[2], strides=[1, 2, 1],
                   dilations=[1, 1, 2])
    assert model(x).shape == (2, 128, 4, 4) and model.feat_dim == 128


def test_resnet50_keys_are_mmaction2s():
    sd = ResNet(50).state_dict()
    assert len(sd) == 318
    assert sd['conv1.conv.weight'].shape == (64, 3, 7, 7)
    assert sd['layer1.0.downsample.conv.weight'].shape == (256, 64, 1, 1)
    assert sd['layer3.5.conv2.bn.running_var'].shape == (256,)
    assert sd['layer4.2.conv3.conv.weight'].shape == (2048, 512, 1, 1)
    assert 'layer1.1.downsample.conv.weight' not in sd


def test_arguments_are_checked():
    with pytest.raises(KeyError, match='invalid depth 20'):
        ResNet(20)
    with pytest.raises(ValueError, match='strides'):
        ResNet(18, strides=(1, 2))
    with pytest.raises(ValueError, match='style'):
        ResNet(18, style='tf')
    with pytest.raises(TypeError, match='pretrained'):
        ResNet(18, pretrained=3)


def test_caffe_style_strides_first_conv():
    pytorch = ResNet(50, base_channels=8)
    caffe = ResNet(50, base_channels=8, style='caffe')
    assert pytorch.layer2[0].conv1.conv.stride == (1, 1) and pytorch.layer2[0].conv2.conv.stride == (2, 2)
    assert caffe.layer2[0].conv1.conv.stride == (2, 2) and caffe.layer2[0].conv2.conv.stride == (1, 1)


def test_every_parameter_gets_a_gradient():
    model = tiny_resnet(depth=50)
    model(torch.randn(2, 3, 32, 32)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_with_cp_gives_the_same_output_and_gradients():
    torch.manual_seed(0)
    plain = tiny_resnet()
    ckpt = tiny_resnet(with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    out_plain, out_ckpt = plain(x), ckpt(x)
    torch.testing.assert_close(out_ckpt, out_plain)
    out_plain.sum().backward()
    grads = [p.grad.clone() for p in plain.parameters()]
    out_ckpt.sum().backward()
    for g, p in zip(grads, ckpt.parameters()):
        torch.testing.assert_close(p.grad, g)


def test_frozen_stages_keep_stem_and_first_stage_fixed():
    model = tiny_resnet(frozen_stages=1)
    model.train()
    frozen = list(model.conv1.parameters()) + list(model.layer1.parameters())
    assert not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert not model.conv1.bn.training and not model.layer1[0].conv1.bn.training
    assert model.layer2[0].conv1.bn.training
    before = model.layer1[0].conv1.bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(model.layer1[0].conv1.bn.running_mean, before)


def test_norm_eval_freezes_statistics():
    model = tiny_resnet(norm_eval=True).train()
    assert model.training
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    before = model.layer2[0].conv1.bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(model.layer2[0].conv1.bn.running_mean, before)
    assert model.layer2[0].conv1.bn.weight.requires_grad  # statistics frozen, affine still trained


def test_partial_bn_keeps_only_the_first_batchnorm_training():
    model = tiny_resnet(partial_bn=True).train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns[0] is model.conv1.bn and bns[0].training and bns[0].weight.requires_grad
    assert not any(bn.training or bn.weight.requires_grad or bn.bias.requires_grad for bn in bns[1:])


def test_torchvision_names():
    assert _torchvision_name('conv1.conv.weight') == 'conv1.weight'
    assert _torchvision_name('conv1.bn.running_mean') == 'bn1.running_mean'
    assert _torchvision_name('layer2.0.conv3.bn.bias') == 'layer2.0.bn3.bias'
    assert _torchvision_name('layer2.0.downsample.conv.weight') == 'layer2.0.downsample.0.weight'
    assert _torchvision_name('layer2.0.downsample.bn.weight') == 'layer2.0.downsample.1.weight'


def _torchvision_checkpoint(model: nn.Module, path, in_channels: int = 3) -> dict:
    """A torchvision-named state dict with random values for ``model``'s layers (saved to path),
    without BN step counters, like the old torchvision files, plus the ImageNet fc."""
    torch.manual_seed(1)
    tv = {}
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked'):
            continue
        value = torch.rand_like(value)
        if key == 'conv1.conv.weight':
            value = torch.rand(value.shape[0], in_channels, *value.shape[2:])
        tv[_torchvision_name(key)] = value
    tv['fc.weight'] = torch.rand(1000, 64)
    tv['fc.bias'] = torch.rand(1000)
    torch.save(tv, path)
    return tv


def test_torchvision_checkpoint_loads_by_name(tmp_path, caplog):
    path = tmp_path / 'resnet18_tv.pth'
    tv = _torchvision_checkpoint(tiny_resnet(), path)
    model = tiny_resnet(pretrained=str(path))
    sd = model.state_dict()
    torch.testing.assert_close(sd['conv1.conv.weight'], tv['conv1.weight'])
    torch.testing.assert_close(sd['conv1.bn.running_var'], tv['bn1.running_var'])
    torch.testing.assert_close(sd['layer3.0.conv2.bn.weight'], tv['layer3.0.bn2.weight'])
    torch.testing.assert_close(sd['layer3.0.downsample.conv.weight'], tv['layer3.0.downsample.0.weight'])
    torch.testing.assert_close(sd['layer4.1.conv1.conv.weight'], tv['layer4.1.conv1.weight'])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_rgb_checkpoint_into_flow_model_averages_the_first_conv(tmp_path):
    path = tmp_path / 'rgb.pth'
    tv = _torchvision_checkpoint(tiny_resnet(), path)
    flow = tiny_resnet(in_channels=10, pretrained=str(path))
    want = tv['conv1.weight'].mean(dim=1, keepdim=True).expand(-1, 10, -1, -1)
    torch.testing.assert_close(flow.conv1.conv.weight, want)
    torch.testing.assert_close(flow.layer1[0].conv1.conv.weight, tv['layer1.0.conv1.weight'])


def test_recognizer_checkpoint_into_tsm_backbone(tmp_path):
    """A TSN checkpoint (``backbone.`` prefix, plain names) fills the wrapped TSM layers."""
    source = tiny_resnet(depth=50)
    for p in source.parameters():
        nn.init.uniform_(p)
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['cls_head.fc_cls.weight'] = torch.zeros(3, 256)
    path = tmp_path / 'tsn.pth'
    torch.save({'state_dict': state, 'meta': {}}, path)
    tsm = MODELS.build(dict(type='ResNetTSM', depth=50, base_channels=8, num_segments=2,
                            non_local=[[0, 0, 0], [1, 0, 1, 0], 0, 0],
                            non_local_cfg=dict(sub_sample=True), pretrained=str(path)))
    tsm.init_weights()
    torch.testing.assert_close(tsm.layer1[0].conv1.conv.net.weight, source.layer1[0].conv1.conv.weight)
    torch.testing.assert_close(tsm.layer2[0].block.conv1.conv.net.weight,
                               source.layer2[0].conv1.conv.weight)
    torch.testing.assert_close(tsm.layer2[0].block.conv3.bn.bias, source.layer2[0].conv3.bn.bias)
    # the non-local blocks are not in the checkpoint and keep their identity init
    assert tsm.layer2[0].non_local_block.conv_out.conv.weight.abs().max() == 0


def test_torchvision_cache_name_is_resolved_by_the_recognizer(tmp_path, monkeypatch):
    monkeypatch.setenv('ACTIONLAB_HOME', str(tmp_path))
    folder = tmp_path / 'checkpoints' / 'torchvision'
    folder.mkdir(parents=True)
    tv = _torchvision_checkpoint(tiny_resnet(), folder / 'resnet18-f37072fd.pth')
    model = build_model(dict(type='Recognizer2D',
                             backbone=dict(type='ResNet', depth=18, base_channels=8,
                                           pretrained='torchvision://resnet18'),
                             cls_head=dict(type='TSNHead', num_classes=3, in_channels=64)))
    torch.testing.assert_close(model.backbone.layer2[1].conv2.conv.weight, tv['layer2.1.conv2.weight'])


def test_missing_checkpoint_names_the_file():
    model = ResNet(18, base_channels=8, pretrained='/nonexistent/r18.pth')
    with pytest.raises(Exception, match='/nonexistent/r18.pth'):
        model.init_weights()
