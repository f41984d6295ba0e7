import json
import warnings

import pytest
import torch
import torch.nn.functional as F

from actionlab.models import build_model
from actionlab.models.recognizers.base import parse_losses
from actionlab.registry import BuildError

NUM_CLASSES = 5


def tsn_cfg(average_clips='score', **head):
    return dict(type='Recognizer2D',
                backbone=dict(type='ResNet', depth=18, base_channels=8, norm_eval=False),
                cls_head=dict(type='TSNHead', num_classes=NUM_CLASSES, in_channels=64, **head),
                train_cfg=None, test_cfg=dict(average_clips=average_clips))


def tsm_cfg(average_clips='prob', num_segments=4, dropout_ratio=0.5):
    return dict(type='Recognizer2D',
                backbone=dict(type='ResNetTSM', depth=18, base_channels=8, num_segments=num_segments),
                cls_head=dict(type='TSMHead', num_classes=NUM_CLASSES, in_channels=64,
                              num_segments=num_segments, dropout_ratio=dropout_ratio),
                test_cfg=dict(average_clips=average_clips))


def i3d_cfg(average_clips='prob', **test_cfg):
    return dict(type='Recognizer3D',
                backbone=dict(type='ResNet3d', depth=18, pretrained=None, base_channels=8,
                              conv1_kernel=[3, 7, 7], inflate=[1, 0, 1, 0]),
                cls_head=dict(type='I3DHead', num_classes=NUM_CLASSES, in_channels=64),
                test_cfg=dict(average_clips=average_clips, **test_cfg))


def build(cfg):
    torch.manual_seed(0)
    return build_model(cfg).eval()


def test_average_clip_modes():
    model = build(tsn_cfg())
    scores = torch.tensor([[1.0, 2.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0, 1.0],
                           [0.0, 0.0, 5.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0, 0.0]])
    torch.testing.assert_close(model.average_clip(scores, 2), scores.view(2, 2, 5).mean(1))
    model.test_cfg = dict(average_clips='prob')
    torch.testing.assert_close(model.average_clip(scores, 2), F.softmax(scores.view(2, 2, 5), 2).mean(1))
    model.test_cfg = dict(average_clips=None)   # raw scores, still one row per sample
    torch.testing.assert_close(model.average_clip(scores, 2), scores.view(2, 2, 5).mean(1))
    model.test_cfg = dict(average_clips='max')
    with pytest.raises(ValueError, match='average_clips'):
        model.average_clip(scores, 2)
    model.test_cfg = dict()
    with pytest.raises(KeyError, match='average_clips'):
        model.average_clip(scores, 2)


def test_tsn_test_averages_every_frame_of_a_sample():
    model = build(tsn_cfg(average_clips=None))
    imgs = torch.randn(2, 6, 3, 32, 32)             # 2 videos, 3 clips x 2 crops
    out = model(imgs, return_loss=False, img_metas=[{}, {}])
    assert out.shape == (2, NUM_CLASSES) and out.dtype == torch.float32
    feats = model.backbone(imgs.flatten(0, 1)).mean(dim=(2, 3)).view(2, 6, -1).mean(1)
    torch.testing.assert_close(out, model.cls_head.fc_cls(feats))


@pytest.mark.parametrize('mode', ['prob', 'score', None])
def test_tsm_multi_crop_scores_are_the_mean_over_crops(mode):
    model = build(tsm_cfg(average_clips=mode))
    imgs = torch.randn(2, 3 * 4, 3, 32, 32)         # 2 videos, 3 crops of 4 frames
    out = model.forward_test(imgs)
    per_crop = torch.stack([model.forward_test(imgs[:, 4 * c:4 * c + 4]) for c in range(3)])
    torch.testing.assert_close(out, per_crop.mean(0), rtol=1e-4, atol=1e-6)
    if mode == 'prob':
        torch.testing.assert_close(out.sum(1), torch.ones(2))
    with pytest.raises(ValueError, match='num_segments=4'):
        model.forward_test(torch.randn(1, 6, 3, 32, 32))


def test_frames_that_do_not_fill_the_heads_clips_are_an_error():
    cfg = tsm_cfg()
    cfg['backbone'] = dict(type='ResNet', depth=18, base_channels=8)
    model = build(cfg)
    with pytest.raises(RuntimeError, match='3 rows for 2 samples'):
        model.forward_test(torch.randn(2, 6, 3, 32, 32))


def test_3d_views_are_averaged_and_can_be_chunked():
    model = build(i3d_cfg())
    imgs = torch.randn(2, 3, 3, 4, 32, 32)         # 2 videos, 3 views
    out = model.forward_test(imgs)
    per_view = torch.stack([model.forward_test(imgs[:, v:v + 1]) for v in range(3)])
    torch.testing.assert_close(out, per_view.mean(0), rtol=1e-4, atol=1e-6)
    chunked = build(i3d_cfg(max_testing_views=2))
    chunked.load_state_dict(model.state_dict())
    torch.testing.assert_close(chunked.forward_test(imgs), out, rtol=1e-4, atol=1e-6)
    with pytest.raises(BuildError, match='max_testing_views'):
        build_model(i3d_cfg(max_testing_views=0))


def test_feature_extraction_returns_pooled_features():
    model = build(i3d_cfg(feature_extraction=True))
    imgs = torch.randn(2, 3, 3, 4, 32, 32)
    feats = model.forward_test(imgs)
    want = model.backbone(imgs.flatten(0, 1)).mean(dim=(2, 3, 4)).view(2, 3, -1).mean(1)
    torch.testing.assert_close(feats, want)
    model2d = build({**tsn_cfg(), 'test_cfg': dict(feature_extraction=True)})
    assert model2d.forward_test(torch.randn(2, 3, 3, 32, 32)).shape == (2, 64)


def test_forward_train_returns_losses_and_accuracies():
    model = build(tsn_cfg()).train()
    imgs = torch.randn(4, 3, 3, 32, 32)
    for labels in (torch.tensor([0, 1, 2, 3]), torch.tensor([[0], [1], [2], [3]])):
        out = model(imgs, labels, img_metas=[{}] * 4)
        assert sorted(out) == ['loss_cls', 'top1_acc', 'top5_acc']
        assert out['loss_cls'].requires_grad and out['top5_acc'].item() == 1.0
    soft = F.one_hot(torch.tensor([0, 1, 2, 3]), NUM_CLASSES).float()
    assert sorted(model(imgs, soft)) == ['loss_cls']
    with pytest.raises(ValueError, match='label'):
        model(imgs)


def test_train_step_and_parse_losses():
    model = build(i3d_cfg()).train()
    batch = dict(imgs=torch.randn(2, 1, 3, 4, 32, 32), label=torch.tensor([1, 3]), img_metas=[{}, {}])
    out = model.train_step(batch, optimizer=None)
    assert out['num_samples'] == 2 and out['loss'].requires_grad
    assert sorted(out['log_vars']) == ['loss', 'loss_cls', 'top1_acc', 'top5_acc']
    assert out['log_vars']['loss'] == pytest.approx(out['loss'].item())
    assert isinstance(out['log_vars']['top1_acc'], float)
    val = model.val_step(batch)
    assert set(val) == {'loss', 'log_vars', 'num_samples'}
    with pytest.raises(KeyError, match='label'):
        model.train_step(dict(imgs=batch['imgs']))

    total, log_vars = parse_losses({'loss_a': torch.tensor([1.0, 3.0]),
                                    'loss_b': [torch.tensor(1.0), torch.tensor([2.0, 4.0])],
                                    'acc': torch.tensor(0.5)})
    assert total.item() == 6.0
    assert log_vars == {'loss_a': 2.0, 'loss_b': 4.0, 'acc': 0.5, 'loss': 6.0}
    with pytest.raises(TypeError, match="'acc'"):
        parse_losses({'loss': torch.tensor(1.0), 'acc': 0.5})
    with pytest.raises(ValueError, match='no loss'):
        parse_losses({'acc': torch.tensor(0.5)})


def test_aux_info_reaches_the_loss():
    cfg = {**tsn_cfg(), 'train_cfg': dict(aux_info=['weight'])}
    model = build(cfg).train()
    model.cls_head.dropout = None
    imgs, labels = torch.randn(3, 2, 3, 32, 32), torch.tensor([0, 1, 1])
    weight = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0])   # class 1 ignored: only sample 0 counts
    loss = model.train_step(dict(imgs=imgs, label=labels, weight=weight))['loss']
    scores = model.cls_head(model.backbone(imgs.flatten(0, 1)), 2)
    torch.testing.assert_close(loss, F.cross_entropy(scores[:1], labels[:1]))


def test_gradcam_and_dummy_forward():
    model = build(tsm_cfg())
    imgs = torch.randn(1, 4, 3, 32, 32)
    scores = model(imgs, gradcam=True)
    assert scores.requires_grad and scores.shape == (1, NUM_CLASSES)
    (raw,) = model.forward_dummy(imgs)
    assert raw.shape == (1, NUM_CLASSES)
    (prob,) = model.forward_dummy(imgs, softmax=True)
    torch.testing.assert_close(prob, raw.softmax(1))


def test_build_model_from_json_and_deprecated_arguments():
    cfg = json.loads(json.dumps(tsm_cfg()))
    del cfg['test_cfg']
    with pytest.warns(DeprecationWarning):
        model = build_model(cfg, test_cfg=dict(average_clips='score'))
    assert model.test_cfg == dict(average_clips='score') and model.with_cls_head and not model.with_neck
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        with pytest.raises(ValueError, match='test_cfg'):
            build_model(tsm_cfg(), test_cfg=dict(average_clips='score'))
    with pytest.raises(BuildError, match='other libraries'):
        build_model({**tsm_cfg(), 'backbone': dict(type='torchvision.resnet50')})
    with pytest.raises(BuildError, match="'dropout'.*dropout_ratio"):
        build_model({**tsn_cfg(), 'cls_head': dict(type='I3DHead', num_classes=3, in_channels=64,
                                                      dropout=0.5)})


def test_neck_path_of_recognizer2d():
    """A neck receives (N, C, T, H, W) stacks of every level and may add losses."""

    class MeanOverTime(torch.nn.Module):
        def forward(self, x, target=None):
            out = x[-1].mean(dim=2, keepdim=True)
            return out, ({'loss_aux': out.square().mean()} if target is not None else {})

    cfg = tsn_cfg()
    cfg['backbone']['out_indices'] = [2, 3]
    model = build({**cfg, 'neck': dict(type=MeanOverTime)})  # a class works as type
    imgs = torch.randn(2, 3, 3, 32, 32)
    out = model.forward_test(imgs)
    feats = model.backbone(imgs.flatten(0, 1))[-1].mean(dim=(2, 3)).view(2, 3, -1).mean(1)
    torch.testing.assert_close(out, model.cls_head.fc_cls(feats), rtol=1e-4, atol=1e-6)
    assert 'loss_aux' in model.train()(imgs, torch.tensor([1, 2]))


def test_audio_recognizer():
    cfg = dict(type='AudioRecognizer',
               backbone=dict(type='ResNet', depth=18, base_channels=8, in_channels=1),
               cls_head=dict(type='AudioTSNHead', num_classes=NUM_CLASSES, in_channels=64),
               test_cfg=dict(average_clips='prob'))
    model = build(cfg)
    audios = torch.randn(2, 3, 1, 32, 16)
    out = model(audios=audios, return_loss=False)
    per_clip = torch.stack([model.forward_test(audios[:, c:c + 1]) for c in range(3)])
    torch.testing.assert_close(out, per_clip.mean(0), rtol=1e-4, atol=1e-6)
    step = model.train().train_step(dict(audios=audios[:, :1], label=torch.tensor([0, 4])))
    assert step['num_samples'] == 2 and 'top1_acc' in step['log_vars']


def test_tiny_tsm_learns_fixed_labels():
    torch.manual_seed(0)
    model = build_model(tsm_cfg(num_segments=4, dropout_ratio=0.0)).train()
    imgs = torch.randn(5, 4, 3, 32, 32)
    labels = torch.arange(5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(20):
        out = model.train_step(dict(imgs=imgs, label=labels))
        optimizer.zero_grad(set_to_none=True)
        out['loss'].backward()
        optimizer.step()
        losses.append(out['loss'].item())
    assert losses[0] == pytest.approx(-torch.log(torch.tensor(0.2)).item(), abs=0.05)
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]
    assert out['log_vars']['top1_acc'] == 1.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_recognizer_on_cuda():
    cfg = tsm_cfg()
    cfg['cls_head']['loss_cls'] = dict(type='CrossEntropyLoss', class_weight=[1.0] * NUM_CLASSES)
    model = build(cfg).cuda()
    imgs = torch.randn(2, 4, 3, 32, 32, device='cuda')
    scores = model.forward_test(imgs)
    assert scores.device.type == 'cuda' and scores.dtype == torch.float32
    step = model.train().train_step(dict(imgs=imgs, label=torch.tensor([0, 1], device='cuda')))
    assert step['loss'].device.type == 'cuda' and isinstance(step['log_vars']['loss'], float)
