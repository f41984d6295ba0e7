"""train_cfg/test_cfg options of the recognizers, on the 3D families (SlowFast's tuple
features included), and inference-mode/channels-last support of every 3D backbone."""
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Beta

from actionlab.models import MODELS, build_model

NUM_CLASSES = 4

SLOWFAST = dict(type='ResNet3dSlowFast', pretrained=None, resample_rate=4, speed_ratio=4, channel_ratio=4,
                slow_pathway=dict(type='resnet3d', depth=18, pretrained=None, lateral=True, base_channels=8,
                                  conv1_kernel=[1, 7, 7], inflate=[0, 0, 1, 1]),
                fast_pathway=dict(type='resnet3d', depth=18, pretrained=None, lateral=False,
                                  base_channels=2, conv1_kernel=[5, 7, 7]))


def slowfast_cfg(train_cfg=None, **test_cfg):
    return dict(type='Recognizer3D', backbone=SLOWFAST,
                cls_head=dict(type='SlowFastHead', num_classes=NUM_CLASSES, in_channels=64 + 16,
                              dropout_ratio=0.0),
                train_cfg=train_cfg, test_cfg=dict(average_clips='prob', **test_cfg))


def build(cfg):
    torch.manual_seed(0)
    return build_model(cfg).eval()


def test_max_testing_views_gives_the_unchunked_result_for_tuple_features():
    model = build(slowfast_cfg())
    imgs = torch.randn(1, 5, 3, 8, 32, 32)  # 5 views of one video
    full = model.forward_test(imgs)
    for views in (1, 2, 3):
        chunked = build(slowfast_cfg(max_testing_views=views))
        chunked.load_state_dict(model.state_dict())
        torch.testing.assert_close(chunked.forward_test(imgs), full, rtol=1e-4, atol=1e-6)
    per_view = torch.stack([F.softmax(model.forward_dummy(imgs[:, v:v + 1])[0], 1) for v in range(5)])
    torch.testing.assert_close(full, per_view.mean(0), rtol=1e-4, atol=1e-6)


def test_feature_extraction_pools_and_concatenates_both_pathways():
    model = build(slowfast_cfg(feature_extraction=True))
    imgs = torch.randn(2, 3, 3, 8, 32, 32)
    feats = model.forward_test(imgs)
    slow, fast = model.backbone(imgs.flatten(0, 1))
    want = torch.cat([slow.mean(dim=(2, 3, 4)), fast.mean(dim=(2, 3, 4))], 1).view(2, 3, -1).mean(1)
    assert feats.shape == (2, 80)
    torch.testing.assert_close(feats, want)


def test_blending_trains_on_mixed_clips_and_soft_labels():
    blending = dict(type='MixupBlending', num_classes=NUM_CLASSES, alpha=0.2)
    cfg = slowfast_cfg(train_cfg=dict(blending=blending))
    model = build(cfg)  # eval mode: the same batch statistics in both forwards below
    imgs, labels = torch.randn(3, 1, 3, 8, 32, 32), torch.tensor([[0], [3], [1]])
    torch.manual_seed(5)
    losses = model(imgs, labels)
    assert sorted(losses) == ['loss_cls']  # soft labels: no top-k accuracy
    torch.manual_seed(5)
    lam = float(Beta(0.2, 0.2).sample())
    perm = torch.randperm(3)
    mixed = lam * imgs + (1 - lam) * imgs[perm]
    onehot = F.one_hot(labels.view(-1), NUM_CLASSES).float()
    target = lam * onehot + (1 - lam) * onehot[perm]
    scores = model.cls_head(model.backbone(mixed.flatten(0, 1)))
    want = -(target * F.log_softmax(scores, 1)).sum(1).mean()
    torch.testing.assert_close(losses['loss_cls'], want, rtol=1e-4, atol=1e-6)
    assert model.forward_test(imgs).shape == (3, NUM_CLASSES)  # no blending at test time


def test_aux_info_masks_reach_the_hvu_loss():
    cfg = dict(type='Recognizer3D',
               backbone=dict(type='X3D', gamma_b=2.25, num_stages=2, spatial_strides=[2, 2]),
               cls_head=dict(type='X3DHead', num_classes=5, in_channels=108, dropout_ratio=0.0,
                             multi_class=True,
                             loss_cls=dict(type='HVULoss', categories=['a', 'b'], category_nums=[2, 3],
                                           category_loss_weights=[1, 1], loss_type='individual',
                                           with_mask=True)),
               train_cfg=dict(aux_info=['mask', 'category_mask']), test_cfg=dict(average_clips='score'))
    model = build(cfg)
    label = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0]])
    mask = torch.tensor([[1.0] * 5, [0.0, 0.0, 1.0, 1.0, 1.0]])
    category_mask = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    batch = dict(imgs=torch.randn(2, 1, 3, 4, 32, 32), label=label, mask=mask, category_mask=category_mask)
    out = model.train_step(batch)
    scores = model.cls_head(model.backbone(batch['imgs'].flatten(0, 1)))
    want = model.cls_head.loss_cls(scores, label, mask=mask, category_mask=category_mask)
    torch.testing.assert_close(out['loss'], want['loss_cls'])
    assert out['log_vars']['a_LOSS'] == pytest.approx(want['a_LOSS'].item(), rel=1e-5)
    with pytest.raises(KeyError, match='category_mask'):
        model.train_step(dict(imgs=batch['imgs'], label=label, mask=mask))


def test_fcn_test_needs_a_fully_convolutional_head_and_a_clip_length():
    cfg = dict(type='Recognizer2D', backbone=dict(type='ResNet', depth=18, base_channels=8),
               cls_head=dict(type='TSNHead', num_classes=NUM_CLASSES, in_channels=64),
               test_cfg=dict(average_clips='score', fcn_test=True))
    imgs = torch.randn(1, 4, 3, 32, 32)
    with pytest.raises(ValueError, match='TSNHead does not'):
        build(cfg).forward_test(imgs)
    cfg['cls_head']['type'] = 'TPNHead'
    with pytest.raises(KeyError, match='num_segs'):
        build(cfg).forward_test(imgs)
    cfg['test_cfg']['num_segs'] = 2
    model = build(cfg)
    assert model.forward_test(imgs).shape == (1, NUM_CLASSES)
    # clips of 2 frames, pooled in space and time: the mean over all frames, as without fcn_test
    model.test_cfg = dict(average_clips='score')
    torch.testing.assert_close(build(cfg).forward_test(imgs), model.forward_test(imgs), rtol=1e-4, atol=1e-6)
    model.test_cfg = dict(average_clips='score', fcn_test=True, num_segs=2, feature_extraction=True)
    model.feature_extraction = True
    with pytest.raises(ValueError, match='cannot be combined'):
        model.forward_test(imgs)


def test_gradcam_and_dummy_forward_of_a_3d_recognizer():
    model = build(slowfast_cfg())
    imgs = torch.randn(1, 2, 3, 8, 32, 32)
    scores = model(imgs, gradcam=True)
    assert scores.requires_grad and scores.shape == (1, NUM_CLASSES)
    (raw,) = model.forward_dummy(imgs[:, :1], softmax=True)
    torch.testing.assert_close(raw, model.forward_test(imgs[:, :1]))


BACKBONES = {
    'slowfast': (SLOWFAST, (1, 3, 8, 32, 32)),
    'slowonly': (dict(type='ResNet3dSlowOnly', depth=50, pretrained=None, base_channels=4,
                      stage_blocks=[1, 1, 1, 1]), (1, 3, 4, 32, 32)),
    'csn': (dict(type='ResNet3dCSN', depth=50, pretrained=None, base_channels=16, stage_blocks=[1, 1, 1, 1],
                 bottleneck_mode='ip'), (1, 3, 8, 32, 32)),
    'r2plus1d': (dict(type='ResNet2Plus1d', depth=18, pretrained=None, pretrained2d=False, base_channels=4,
                      conv_cfg=dict(type='Conv2plus1d'), temporal_strides=[1, 2, 2, 2]), (1, 3, 8, 32, 32)),
    'c3d': (dict(type='C3D', out_dim=2048), (1, 3, 16, 32, 32)),
    'x3d': (dict(type='X3D', gamma_b=2.25, gamma_d=1), (1, 3, 4, 32, 32)),
    'layer': (dict(type='ResNet3dLayer', depth=18, pretrained=None, base_channels=4), (1, 16, 2, 8, 8)),
}


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_backbones_run_in_inference_mode_on_channels_last_clips(name):
    cfg, shape = BACKBONES[name]
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    for m in model.modules():  # non-trivial statistics so every norm matters
        if isinstance(m, torch.nn.BatchNorm3d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.running_mean, -0.1, 0.1)
    model.eval()
    x = torch.randn(shape)
    with torch.no_grad():
        want = model(x)
    with torch.inference_mode():
        got = model(x.to(memory_format=torch.channels_last_3d))
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert g.is_inference()
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_slowfast_with_cutmix_and_chunked_views_on_cuda():
    cfg = slowfast_cfg(train_cfg=dict(blending=dict(type='CutmixBlending', num_classes=NUM_CLASSES)),
                       max_testing_views=2)
    model = build(cfg).cuda().train()
    imgs = torch.randn(2, 1, 3, 8, 32, 32, device='cuda')
    out = model.train_step(dict(imgs=imgs, label=torch.tensor([[0], [3]], device='cuda')))
    assert out['loss'].device.type == 'cuda' and sorted(out['log_vars']) == ['loss', 'loss_cls']
    out['loss'].backward()
    assert model.backbone.slow_path.conv1_lateral.conv.weight.grad.abs().sum() > 0
    with torch.inference_mode():
        scores = model.eval().forward_test(torch.randn(1, 3, 3, 8, 32, 32, device='cuda'))
    assert scores.device.type == 'cuda' and scores.shape == (1, NUM_CLASSES)
    torch.testing.assert_close(scores.sum(1), torch.ones(1, device='cuda'))
