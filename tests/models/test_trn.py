import itertools

import numpy as np
import pytest
import torch

from actionlab.models import MODELS, build_model
from actionlab.models.heads.trn_head import RelationModule, RelationModuleMultiScale, TRNHead


def reference_multiscale(module, x):
    """MMAction2's RelationModuleMultiScale.forward, tuple by tuple."""
    scales = list(range(module.num_segments, 1, -1))
    relations = [list(itertools.combinations(range(module.num_segments), s)) for s in scales]
    out = module.fc_fusion_scales[0](x[:, list(relations[0][0])].reshape(x.shape[0], -1))
    for i in range(1, len(scales)):
        for idx in np.random.choice(len(relations[i]), min(3, len(relations[i])), replace=False):
            out = out + module.fc_fusion_scales[i](x[:, list(relations[i][idx])].reshape(x.shape[0], -1))
    return out


def test_multiscale_relations_match_mmaction2_for_the_same_draws():
    torch.manual_seed(0)
    module = RelationModuleMultiScale(hidden_dim=6, num_segments=5, num_classes=4)
    assert module.scales == [5, 4, 3, 2] and module.subsample_scales == [1, 3, 3, 3]
    assert [len(r) for r in module.relations_scales] == [1, 5, 10, 10]
    x = torch.randn(3, 5, 6)
    np.random.seed(7)
    got = module(x)
    np.random.seed(7)
    torch.testing.assert_close(got, reference_multiscale(module, x))


def test_multiscale_draws_relations_at_random_each_call():
    torch.manual_seed(0)
    module = RelationModuleMultiScale(hidden_dim=4, num_segments=6, num_classes=3)
    x = torch.randn(2, 6, 4)
    np.random.seed(0)
    first, second = module(x), module(x)
    assert not torch.allclose(first, second)
    np.random.seed(0)
    torch.testing.assert_close(module(x), first)
    # two frames have a single relation: no randomness
    pair = RelationModuleMultiScale(hidden_dim=4, num_segments=2, num_classes=3)
    torch.testing.assert_close(pair(x[:, :2]), pair.fc_fusion_scales[0](x[:, :2].flatten(1)))


def test_relation_module_scores_all_frames_in_order():
    torch.manual_seed(0)
    module = RelationModule(hidden_dim=4, num_segments=3, num_classes=5)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(module(x), module.classifier(x.reshape(2, 12)))
    assert module.classifier[1].out_features == 512


def test_trn_head_keys_shapes_and_forward():
    head = MODELS.build(dict(type='TRNHead', num_classes=174, in_channels=2048, num_segments=8,
                             relation_type='TRNMultiScale', hidden_dim=256))
    keys = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert keys['fc_cls.weight'] == (256, 2048)
    assert keys['consensus.fc_fusion_scales.0.1.weight'] == (256, 2048)
    assert keys['consensus.fc_fusion_scales.6.1.weight'] == (256, 512)
    assert keys['consensus.fc_fusion_scales.6.3.weight'] == (174, 256)
    assert len(keys) == 2 + 7 * 4
    single = TRNHead(num_classes=5, in_channels=8, num_segments=3, relation_type='TRN', dropout_ratio=0)
    single.init_weights()
    assert 0.0002 < single.fc_cls.weight.std() < 0.002 and single.fc_cls.bias.abs().sum() == 0
    x = torch.randn(6, 8, 2, 2)
    want = single.consensus(single.fc_cls(x.mean((2, 3))).view(2, 3, -1))
    torch.testing.assert_close(single(x, num_segs=99), want)
    with pytest.raises(ValueError, match='relation_type'):
        TRNHead(num_classes=5, in_channels=8, relation_type='TRNLite')


def test_trn_recognizer_trains_and_tests():
    torch.manual_seed(0)
    model = build_model(dict(
        type='Recognizer2D',
        backbone=dict(type='ResNet', depth=18, base_channels=8, partial_bn=True),
        cls_head=dict(type='TRNHead', num_classes=4, in_channels=64, num_segments=4, hidden_dim=16),
        test_cfg=dict(average_clips='prob')))
    imgs = torch.randn(2, 4, 3, 32, 32)
    losses = model(imgs, torch.tensor([0, 3]))
    losses['loss_cls'].backward()
    assert model.cls_head.consensus.fc_fusion_scales[0][1].weight.grad.abs().sum() > 0
    model.eval()
    with torch.inference_mode():
        scores = model(imgs, return_loss=False)
    assert scores.shape == (2, 4)
    torch.testing.assert_close(scores.sum(1), torch.ones(2))
