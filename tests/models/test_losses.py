import math

import pytest
import torch

from actionlab.models import MODELS, BCELossWithLogits, CrossEntropyLoss
from actionlab.models.losses import BaseWeightedLoss

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
