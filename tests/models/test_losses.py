import math

import pytest
import torch

from actionlab.models import MODELS, BCELossWithLogits, CrossEntropyLoss
from actionlab.models.losses import BaseWeightedLoss, HVULoss, NLLLoss

SCORES = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.0], [-0.5, 0.0, 3.0]])


def _log_softmax_row(row):
    norm = math.log(sum(math.exp(v) for v in row))
    return [v - norm for v in row]


def test_hard_labels_with_class_weights():
    labels = [0, 2, 2]
    weights = [1.0, 2.0, 0.5]
    loss = CrossEntropyLoss(class_weight=weights)(SCORES, torch.tensor(labels))
    num = sum(-weights[y] * _log_softmax_row(SCORES[i].tolist())[y] for i, y in enumerate(labels))
    den = sum(weights[y] for y in labels)
    assert loss.item() == pytest.approx(num / den, rel=1e-6)
    plain = CrossEntropyLoss(loss_weight=2.0)(SCORES, torch.tensor(labels))
    want = sum(-_log_softmax_row(SCORES[i].tolist())[y] for i, y in enumerate(labels)) / 3
    assert plain.item() == pytest.approx(2 * want, rel=1e-6)


def test_soft_labels_with_and_without_class_weights():
    soft = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0], [0.2, 0.2, 0.6]])
    logp = [_log_softmax_row(r) for r in SCORES.tolist()]
    want = sum(-sum(p * lp for p, lp in zip(soft[i].tolist(), logp[i])) for i in range(3)) / 3
    assert CrossEntropyLoss()(SCORES, soft).item() == pytest.approx(want, rel=1e-6)
    weights = [1.0, 2.0, 0.5]
    num = sum(-sum(w * p * lp for w, p, lp in zip(weights, soft[i].tolist(), logp[i])) for i in range(3))
    den = sum(w * p for i in range(3) for w, p in zip(weights, soft[i].tolist()))
    weighted = CrossEntropyLoss(class_weight=weights)(SCORES, soft)
    assert weighted.item() == pytest.approx(num / den, rel=1e-6)
    # one-hot soft labels give the hard-label loss
    torch.testing.assert_close(CrossEntropyLoss(class_weight=weights)(SCORES, torch.eye(3)),
                               CrossEntropyLoss(class_weight=weights)(SCORES, torch.arange(3)))
    with pytest.raises(ValueError, match='soft labels'):
        CrossEntropyLoss()(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))


def test_bce_with_logits():
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    weights = [1.0, 0.0, 3.0]
    loss = BCELossWithLogits(class_weight=weights, loss_weight=0.5)(SCORES, target)
    terms = []
    for i in range(3):
        for c in range(3):
            p = 1 / (1 + math.exp(-SCORES[i, c].item()))
            t = target[i, c].item()
            terms.append(-weights[c] * (t * math.log(p) + (1 - t) * math.log(1 - p)))
    assert loss.item() == pytest.approx(0.5 * sum(terms) / 9, rel=1e-6)


def test_class_weight_is_not_saved_and_builds_from_lists():
    loss = MODELS.build(dict(type='CrossEntropyLoss', class_weight=[1, 2, 3]))
    assert loss.state_dict() == {}
    assert loss.class_weight.tolist() == [1.0, 2.0, 3.0]
    assert loss.double().class_weight.dtype == torch.float64  # follows the module like a buffer


def test_dict_losses_scale_only_loss_entries():
    class Pair(BaseWeightedLoss):
        def _forward(self, x):
            return {'loss_a': x, 'acc': x}

    out = Pair(loss_weight=3.0)(torch.tensor(2.0))
    assert out['loss_a'].item() == 6.0 and out['acc'].item() == 2.0


def test_nll_loss_on_log_probabilities():
    logp = torch.log_softmax(SCORES, dim=1)
    labels = torch.tensor([0, 2, 1])
    want = -(logp[0, 0] + logp[1, 2] + logp[2, 1]) / 3
    assert NLLLoss()(logp, labels).item() == pytest.approx(want.item(), rel=1e-6)
    assert MODELS.build(dict(type='NLLLoss', loss_weight=2.0))(logp, labels).item() == \
        pytest.approx(2 * want.item(), rel=1e-6)


def _bce(score, target):
    p = 1 / (1 + math.exp(-score))
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


# two videos, categories 'a' (2 tags) and 'b' (3 tags); video 1 is annotated in 'b' only
HVU_SCORES = torch.tensor([[1.0, -1.0, 0.5, 0.0, 2.0], [0.3, 0.2, -0.4, 1.5, -2.0]])
HVU_LABEL = torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0, 0.0]])
HVU_MASK = torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0, 1.0]])
HVU_CATEGORY_MASK = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
TERMS = [[_bce(s, t) for s, t in zip(row_s, row_t)] for row_s, row_t in
         zip(HVU_SCORES.tolist(), HVU_LABEL.tolist())]


def hvu(**kwargs):
    return HVULoss(categories=('a', 'b'), category_nums=(2, 3), category_loss_weights=(1, 3), **kwargs)


def test_hvu_loss_all_tags():
    args = (HVU_SCORES, HVU_LABEL, HVU_MASK, HVU_CATEGORY_MASK)
    out = hvu()(*args)
    assert list(out) == ['loss_cls']
    assert out['loss_cls'].item() == pytest.approx(sum(map(sum, TERMS)) / 10, rel=1e-6)
    assert hvu(reduction='sum')(*args)['loss_cls'].item() == pytest.approx(sum(map(sum, TERMS)) / 2, rel=1e-6)
    masked = (sum(TERMS[0]) / 5 + sum(TERMS[1][2:]) / 3) / 2
    assert hvu(with_mask=True)(*args)['loss_cls'].item() == pytest.approx(masked, rel=1e-6)
    weighted = hvu(with_mask=True, loss_weight=0.5)(*args)['loss_cls']
    assert weighted.item() == pytest.approx(masked / 2, rel=1e-6)


def test_hvu_loss_per_category():
    args = (HVU_SCORES, HVU_LABEL, HVU_MASK, HVU_CATEGORY_MASK)
    out = hvu(loss_type='individual')(*args)
    a = (sum(TERMS[0][:2]) / 2 + sum(TERMS[1][:2]) / 2) / 2
    b = (sum(TERMS[0][2:]) / 3 + sum(TERMS[1][2:]) / 3) / 2
    assert out['a_LOSS'].item() == pytest.approx(a, rel=1e-6)
    assert out['loss_cls'].item() == pytest.approx(0.25 * a + 0.75 * b, rel=1e-6)
    assert out['b_LOSS_weight'].item() == pytest.approx(0.75)
    masked = hvu(loss_type='individual', with_mask=True)(*args)
    assert masked['a_LOSS'].item() == pytest.approx(sum(TERMS[0][:2]) / 2, rel=1e-6)  # video 0 only
    absent = hvu(loss_type='individual', with_mask=True)(
        HVU_SCORES, HVU_LABEL, HVU_MASK, torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    assert absent['a_LOSS'].item() == 0 and absent['a_LOSS_weight'].item() == 0
    assert absent['loss_cls'].item() == pytest.approx(b, rel=1e-6)  # all weight on 'b'
    with pytest.raises(ValueError, match='aux_info'):
        hvu(with_mask=True)(HVU_SCORES, HVU_LABEL)
    with pytest.raises(ValueError, match='one entry per category'):
        HVULoss(categories=('a',), category_nums=(2, 3), category_loss_weights=(1,))
    with pytest.raises(ValueError, match='loss_type'):
        hvu(loss_type='each')
