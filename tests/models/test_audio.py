import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actionlab.models import MODELS, build_model
from actionlab.models.backbones.resnet_audio import Bottleneck2dAudio, ResNetAudio
from actionlab.models.ops import ConvAudio, ConvModule


def randomise_bn(module):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.running_mean, -0.5, 0.5)
            nn.init.uniform_(m.running_var, 0.5, 1.5)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    return module


def branch(cm, x, padding, stride):
    bn = cm.bn
    y = F.conv2d(x, cm.conv.weight, stride=stride, padding=padding)
    return F.relu(F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps))


def test_conv_audio_branches_are_time_and_frequency_convs():
    torch.manual_seed(0)
    conv = randomise_bn(ConvAudio(2, 4, (5, 3), stride=2)).eval()
    assert conv.conv_1.conv.kernel_size == (5, 1) and conv.conv_2.conv.kernel_size == (1, 3)
    x = torch.randn(2, 2, 10, 8)
    want = torch.cat([branch(conv.conv_1, x, (2, 0), 2), branch(conv.conv_2, x, (0, 1), 2)], 1)
    torch.testing.assert_close(conv(x), want)
    summed = randomise_bn(ConvAudio(2, 4, 3, op='sum')).eval()
    torch.testing.assert_close(summed(x), summed.conv_1(x) + summed.conv_2(x))
    assert sorted(summed.state_dict())[:3] == ['conv_1.bn.bias', 'conv_1.bn.num_batches_tracked',
                                               'conv_1.bn.running_mean']
    with pytest.raises(ValueError, match="'concat' or 'sum'"):
        ConvAudio(2, 4, 3, op='max')


def test_conv_audio_is_a_conv_layer_type():
    m = ConvModule(1, 4, 9, conv_cfg=dict(type='ConvAudio', op='sum'), norm_cfg=dict(type='BN'))
    assert isinstance(m.conv, ConvAudio) and m.bn.num_features == 4
    assert m(torch.randn(1, 1, 16, 12)).shape == (1, 4, 16, 12)
    concat = ConvModule(2, 3, 3, conv_cfg=dict(type='ConvAudio'), norm_cfg=None, act_cfg=None)
    assert concat(torch.randn(1, 2, 8, 8)).shape == (1, 6, 8, 8)


def tiny_audio(**kwargs) -> ResNetAudio:
    model = ResNetAudio(**{'depth': 50, 'base_channels': 4, **kwargs})
    model.init_weights()
    return model.eval()


def test_resnet_audio_layout_and_names():
    model = MODELS.build(dict(type='ResNetAudio', depth=50, pretrained=None, in_channels=1, norm_eval=False))
    keys = model.state_dict()
    for key, shape in (('conv1.conv.conv_1.conv.weight', (32, 1, 9, 1)),
                       ('conv1.conv.conv_2.conv.weight', (32, 1, 1, 9)), ('conv1.bn.weight', (32,)),
                       ('layer1.0.conv1.conv.weight', (32, 32, 1, 1)),
                       ('layer1.0.conv2.conv.conv_1.conv.weight', (32, 32, 3, 1)),
                       ('layer1.0.conv2.conv.conv_2.bn.running_var', (32,)),
                       ('layer1.0.conv3.conv.weight', (128, 64, 1, 1)),
                       ('layer2.0.downsample.conv.weight', (256, 128, 1, 1)),
                       ('layer3.0.conv2.conv.weight', (128, 128, 3, 3)),
                       ('layer4.2.conv3.bn.weight', (1024,))):
        assert tuple(keys[key].shape) == shape
    assert 'layer3.0.conv2.bn.weight' not in keys and model.feat_dim == 1024
    with pytest.raises(KeyError, match='invalid depth 18'):
        ResNetAudio(18)


def test_resnet_audio_forward_and_zero_init_residual():
    torch.manual_seed(0)
    model = tiny_audio()
    blocks = [m for m in model.modules() if isinstance(m, Bottleneck2dAudio)]
    assert len(blocks) == 16 and all(b.conv3.bn.weight.abs().sum() == 0 for b in blocks)
    x = torch.randn(2, 1, 32, 16)
    assert model(x).shape == (2, 128, 4, 2)
    # with zero-initialised last BNs every block is relu(identity or projection)
    block = model.layer1[1]
    feat = torch.relu(torch.randn(2, 16, 8, 8))
    torch.testing.assert_close(block(feat), feat)
    plain = tiny_audio(zero_init_residual=False, factorize=0)
    assert plain.layer1[0].conv3.bn.weight.abs().sum() > 0
    assert not any(isinstance(m, ConvAudio) for m in plain.layer1.modules())
    with torch.inference_mode():
        fast = plain(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(fast, plain(x), rtol=1e-4, atol=1e-5)


def test_resnet_audio_frozen_stages_and_norm_eval():
    model = tiny_audio(frozen_stages=1).train()
    assert not any(p.requires_grad for p in model.conv1.parameters())
    assert not any(p.requires_grad for p in model.layer1.parameters()) and not model.layer1.training
    assert all(p.requires_grad for p in model.layer2.parameters()) and model.layer2.training
    frozen_bn = tiny_audio(norm_eval=True).train()
    assert not any(m.training for m in frozen_bn.modules() if isinstance(m, nn.BatchNorm2d))


def test_resnet_audio_factorize_per_block_and_checkpointing():
    model = tiny_audio(factorize=[[1, 0, 1], 0, 0, 0], with_cp=True).train()
    assert [b.factorize for b in model.layer1] == [True, False, True]
    with pytest.raises(ValueError, match='one entry per block'):
        tiny_audio(factorize=[[1, 0], 0, 0, 0])
    x = torch.randn(2, 1, 16, 16, requires_grad=True)
    model(x).sum().backward()
    assert model.layer1[0].conv1.conv.weight.grad is not None


def test_audio_recognizer_with_resnet_audio():
    torch.manual_seed(0)
    model = build_model(dict(
        type='AudioRecognizer',
        backbone=dict(type='ResNetAudio', depth=50, base_channels=4, pretrained=None),
        cls_head=dict(type='AudioTSNHead', num_classes=4, in_channels=128, dropout_ratio=0.5),
        test_cfg=dict(average_clips='prob')))
    randomise_bn(model.backbone)
    audios = torch.randn(2, 3, 1, 16, 16)
    model.cls_head.dropout.eval()
    losses = model(audios, torch.tensor([[1], [2]]))
    assert set(losses) == {'loss_cls', 'top1_acc', 'top5_acc'}
    # every clip is trained on its sample's label
    per_clip = model.cls_head(model.backbone(audios.reshape(6, 1, 16, 16)))
    want = F.cross_entropy(per_clip, torch.tensor([1, 1, 1, 2, 2, 2]))
    torch.testing.assert_close(losses['loss_cls'], want)
    losses['loss_cls'].backward()
    assert model.backbone.conv1.conv.conv_1.conv.weight.grad.abs().sum() > 0
    model.eval()
    scores = model(audios, return_loss=False)
    per_clip = model.cls_head(model.backbone(audios.reshape(6, 1, 16, 16))).softmax(1)
    torch.testing.assert_close(scores, per_clip.view(2, 3, 4).mean(1))
    result = model.train_step(dict(audios=audios, label=torch.tensor([[0], [3]])))
    assert result['num_samples'] == 2 and result['loss'].requires_grad


def test_resnet_audio_frozen_stem_keeps_its_branch_norms_training():
    # MMAction2 freezes every stem parameter but puts only the stem's own norm
    # (conv1.bn) in eval mode; the BNs inside the ConvAudio branches keep training
    model = tiny_audio(frozen_stages=0).train()
    assert not any(p.requires_grad for p in model.conv1.parameters())
    assert not model.conv1.bn.training
    assert model.conv1.conv.conv_1.bn.training and model.conv1.conv.conv_2.bn.training
    assert model.layer1.training and all(p.requires_grad for p in model.layer1.parameters())
    # so a training step updates the branch statistics but not the stem's own
    before = model.conv1.conv.conv_1.bn.running_mean.clone()
    own = model.conv1.bn.running_mean.clone()
    model(torch.randn(2, 1, 16, 16))
    assert not torch.equal(model.conv1.conv.conv_1.bn.running_mean, before)
    assert torch.equal(model.conv1.bn.running_mean, own)
    # norm_eval still puts every BN (branches included) in eval mode
    model = tiny_audio(frozen_stages=0, norm_eval=True).train()
    assert not model.conv1.conv.conv_1.bn.training
