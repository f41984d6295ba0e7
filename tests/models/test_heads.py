import math

import pytest
import torch
import torch.nn.functional as F

from actionlab.models import MODELS, AudioTSNHead, I3DHead, TSMHead, TSNHead
from actionlab.registry import BuildError


def _fc(head, x):
    return x @ head.fc_cls.weight.T + head.fc_cls.bias


def _randomise(head):
    torch.manual_seed(0)
    for p in head.parameters():
        torch.nn.init.normal_(p)
    return head.eval()


def test_tsn_head_averages_all_segments_of_a_sample():
    head = _randomise(TSNHead(num_classes=5, in_channels=6))
    x = torch.randn(2 * 3, 6, 4, 4)
    want = _fc(head, x.mean(dim=(2, 3)).view(2, 3, 6).mean(1))
    torch.testing.assert_close(head(x, 3), want)
    flat = _randomise(TSNHead(num_classes=5, in_channels=6 * 2 * 2, spatial_type=None))
    x = torch.randn(4, 6, 2, 2)
    torch.testing.assert_close(flat(x, 2), _fc(flat, x.view(2, 2, -1).mean(1)))
    with pytest.raises(BuildError, match='MaxConsensus'):
        TSNHead(5, 6, consensus=dict(type='MaxConsensus'))


def test_tsm_head_groups_by_its_own_num_segments():
    head = _randomise(TSMHead(num_classes=5, in_channels=6, num_segments=4))
    x = torch.randn(2 * 3 * 4, 6, 2, 2)       # 2 samples x 3 crops x 4 frames
    frame_scores = _fc(head, x.mean(dim=(2, 3)))
    want = frame_scores.view(6, 4, 5).mean(1)
    torch.testing.assert_close(head(x, 12), want)   # num_segs is ignored
    pooled = _randomise(TSMHead(num_classes=5, in_channels=6, num_segments=4, temporal_pool=True))
    x = torch.randn(2 * 2, 6, 2, 2)
    torch.testing.assert_close(pooled(x, 4), _fc(pooled, x.mean(dim=(2, 3))).view(2, 2, 5).mean(1))


def test_i3d_and_audio_heads():
    head = _randomise(I3DHead(num_classes=3, in_channels=8))
    x = torch.randn(2, 8, 2, 3, 3)
    torch.testing.assert_close(head(x), _fc(head, x.mean(dim=(2, 3, 4))))
    audio = _randomise(AudioTSNHead(num_classes=3, in_channels=8))
    x = torch.randn(2, 8, 5, 4)
    torch.testing.assert_close(audio(x), _fc(audio, x.mean(dim=(2, 3))))


def test_init_weights_and_dropout():
    head = TSNHead(num_classes=400, in_channels=512, init_std=0.01)
    head.init_weights()
    assert head.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert head.fc_cls.bias.abs().max() == 0
    assert head.dropout.p == 0.4 and TSMHead(4, 8).dropout.p == 0.8
    assert I3DHead(4, 8, dropout_ratio=0).dropout is None


def test_loss_reports_top_k_accuracy():
    head = TSNHead(num_classes=6, in_channels=4, topk=(1, 2, 10))
    scores = torch.tensor([[0.1, 0.9, 0.0, 0.0, 0.0, 0.0],    # label 1: top-1 hit
                           [0.5, 0.0, 0.4, 0.0, 0.0, 0.0],    # label 2: second best
                           [0.0, 0.1, 0.0, 0.9, 0.3, 0.2]])   # label 5: fourth best
    labels = torch.tensor([1, 2, 5])
    losses = head.loss(scores, labels)
    assert sorted(losses) == ['loss_cls', 'top10_acc', 'top1_acc', 'top2_acc']
    assert losses['top1_acc'].item() == pytest.approx(1 / 3)
    assert losses['top2_acc'].item() == pytest.approx(2 / 3)
    assert losses['top10_acc'].item() == 1.0
    torch.testing.assert_close(losses['loss_cls'], F.cross_entropy(scores, labels))
    single = head.loss(scores[:1], torch.tensor(1))   # a 0-d label for a batch of one
    assert single['top1_acc'].item() == 1.0


def test_loss_with_soft_and_multi_hot_labels():
    head = TSNHead(num_classes=4, in_channels=4)
    scores = torch.randn(2, 4)
    soft = torch.tensor([[0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]])
    losses = head.loss(scores, soft)
    assert sorted(losses) == ['loss_cls']
    want = -(soft * F.log_softmax(scores, 1)).sum(1).mean()
    torch.testing.assert_close(losses['loss_cls'], want)
    one = head.loss(scores[:1], soft[0])  # a (num_classes,) target for a batch of one
    torch.testing.assert_close(one['loss_cls'], -(soft[0] * F.log_softmax(scores[0], 0)).sum())

    multi = TSNHead(num_classes=4, in_channels=4, multi_class=True, label_smooth_eps=0.2,
                    loss_cls=dict(type='BCELossWithLogits'))
    hot = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1]])
    smoothed = 0.8 * hot + 0.2 / 4
    torch.testing.assert_close(multi.loss(scores, hot)['loss_cls'],
                               F.binary_cross_entropy_with_logits(scores, smoothed))


def test_heads_are_registered_with_mmaction2_names():
    head = MODELS.build(dict(type='TSMHead', num_classes=10, in_channels=16, is_shift=True,
                             consensus=dict(type='AvgConsensus', dim=1), topk=[1, 3]))
    assert head.topk == (1, 3) and head.consensus.dim == 1
    assert sorted(head.state_dict()) == ['fc_cls.bias', 'fc_cls.weight']
    with pytest.raises(ValueError, match='topk'):
        TSNHead(3, 4, topk=(0,))
    assert math.isclose(TSMHead(3, 4).init_std, 0.001)
