import json

import pytest
import torch
import torch.nn.functional as F

from actionlab.models import MODELS, build_model


def tpn_cfg(**kwargs) -> dict:
    """A two-level TPN over (N, 64, 4, 4, 4) and (N, 128, 4, 2, 2) features (widths divisible by
    the 32 groups of its grouped convs), as MMAction2 configs write it, with JSON lists."""
    cfg = dict(type='TPN', in_channels=[64, 128], out_channels=64,
               spatial_modulation_cfg=dict(in_channels=[64, 128], out_channels=128),
               temporal_modulation_cfg=dict(downsample_scales=[4, 4]),
               upsample_cfg=dict(scale_factor=[1, 1, 1]), downsample_cfg=dict(downsample_scale=[1, 1, 1]),
               level_fusion_cfg=dict(in_channels=[64, 64], mid_channels=[64, 64], out_channels=128,
                                     downsample_scales=[[1, 1, 1], [1, 1, 1]]),
               aux_head_cfg=dict(out_channels=5, loss_weight=0.5))
    cfg.update(kwargs)
    return json.loads(json.dumps(cfg))


def build(cfg):
    torch.manual_seed(0)
    module = MODELS.build(cfg)
    module.init_weights()
    return module


def features(batch=2):
    torch.manual_seed(1)
    return [torch.randn(batch, 64, 4, 4, 4), torch.randn(batch, 128, 4, 2, 2)]


def test_tpn_output_keys_and_aux_loss():
    tpn = build(tpn_cfg()).eval()
    x = features()
    out, losses = tpn(x)
    assert out.shape == (2, 2048, 1, 2, 2) and losses == {}  # T pooled by 4, space of the top level
    assert tpn.spatial_modulation.spatial_modulation[0][0].conv.weight.shape == (128, 64, 1, 3, 3)
    assert isinstance(tpn.spatial_modulation.spatial_modulation[1], torch.nn.Identity)
    assert tpn.temporal_modulation_ops[0].conv.conv.weight.shape == (64, 4, 3, 1, 1)  # 128 / 32 groups
    assert tpn.pyramid_fusion.conv.weight.shape == (2048, 256, 1, 1, 1)
    target = torch.tensor([1, 3])
    _, losses = tpn(x, target)
    aux = tpn.aux_head
    logits = aux.fc(aux.conv(x[0]).mean(dim=(2, 3, 4)))
    torch.testing.assert_close(losses['loss_aux'], 0.5 * F.cross_entropy(logits, target))
    assert build(tpn_cfg(aux_head_cfg=None))(x, target)[1] == {}


def test_flows_cascade_and_parallel():
    x = features()
    cascade = build(tpn_cfg()).eval()
    parallel = build(tpn_cfg(flow_type='parallel')).eval()
    parallel.load_state_dict(cascade.state_dict())
    assert not torch.allclose(cascade(x)[0], parallel(x)[0])
    # without a top-down flow the bottom-up flow starts from the same levels either way
    cascade = build(tpn_cfg(upsample_cfg=None)).eval()
    parallel = build(tpn_cfg(upsample_cfg=None, flow_type='parallel')).eval()
    parallel.load_state_dict(cascade.state_dict())
    torch.testing.assert_close(cascade(x)[0], parallel(x)[0])
    with pytest.raises(ValueError, match='flow_type'):
        MODELS.build(tpn_cfg(flow_type='diagonal'))


def test_tpn_head_3d_2d_and_fully_convolutional():
    head = build(dict(type='TPNHead', num_classes=5, in_channels=16, dropout_ratio=0.0))
    x = torch.randn(2, 16, 2, 3, 3)
    want = head.fc_cls(x.mean(dim=(2, 3, 4)))
    torch.testing.assert_close(head(x), want)
    fcn = head(x, fcn_test=True)
    assert fcn.shape == (2, 5, 1, 1, 1)
    torch.testing.assert_close(fcn.flatten(1), want)
    frames = torch.randn(6, 16, 3, 3)
    consensus = frames.mean((2, 3)).view(2, 3, 16).mean(1)
    torch.testing.assert_close(head(frames, num_segs=3), head.fc_cls(consensus))
    unpooled = build(dict(type='TPNHead', num_classes=5, in_channels=16, spatial_type=None))
    score_map = unpooled(x, fcn_test=True)
    assert score_map.shape == (2, 5, 2, 3, 3)
    torch.testing.assert_close(score_map[:, :, 1, 2, 0], unpooled.fc_cls(x[:, :, 1, 2, 0]))


def slowonly_tpn_cfg(**test_cfg):
    return dict(type='Recognizer3D',
                backbone=dict(type='ResNet3dSlowOnly', depth=50, pretrained=None, base_channels=4,
                              stage_blocks=[1, 1, 1, 1], out_indices=[2, 3], norm_eval=False),
                neck=tpn_cfg(),
                cls_head=dict(type='TPNHead', num_classes=5, in_channels=2048, dropout_ratio=0.0),
                test_cfg=dict(average_clips='prob', **test_cfg))


def test_tpn_in_a_3d_recognizer():
    torch.manual_seed(0)
    model = build_model(slowonly_tpn_cfg())
    imgs = torch.randn(2, 1, 3, 4, 64, 64)
    losses = model.train()(imgs, torch.tensor([[1], [4]]))
    assert sorted(losses) == ['loss_aux', 'loss_cls', 'top1_acc', 'top5_acc']
    (losses['loss_aux'] + losses['loss_cls']).backward()
    assert model.neck.aux_head.fc.weight.grad.abs().sum() > 0
    assert model.backbone.layer3[0].downsample.conv.weight.grad.abs().sum() > 0
    scores = model.eval().forward_test(imgs)
    assert scores.shape == (2, 5)
    torch.testing.assert_close(scores.sum(1), torch.ones(2))


def test_tpn_with_tsm_and_fcn_test():
    cfg = dict(type='Recognizer2D',
               backbone=dict(type='ResNetTSM', depth=50, base_channels=4, num_segments=4,
                             out_indices=[2, 3]),
               neck=tpn_cfg(),
               cls_head=dict(type='TPNHead', num_classes=5, in_channels=2048, dropout_ratio=0.0),
               test_cfg=dict(average_clips='score'))
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    imgs = torch.randn(1, 8, 3, 64, 64)  # two clips of 4 frames
    plain = model.forward_test(imgs[:, :4])
    model.test_cfg = dict(average_clips='score', fcn_test=True)
    torch.testing.assert_close(model.forward_test(imgs[:, :4]), plain, rtol=1e-4, atol=1e-5)
    per_clip = torch.cat([plain, model.forward_test(imgs[:, 4:])])
    torch.testing.assert_close(model.forward_test(imgs), per_clip.mean(0, keepdim=True), rtol=1e-4, atol=1e-5)
    model.test_cfg = dict(average_clips='score', fcn_test=True, num_segs=8)  # one clip of 8 frames
    assert model.forward_test(imgs).shape == (1, 5)
    assert 'loss_aux' in model.train()(imgs[:, :4], torch.tensor([2]))
