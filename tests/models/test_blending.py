import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Beta

from actionlab.models.recognizers.blending import BLENDINGS, CutmixBlending, MixupBlending


def batch():
    imgs = torch.arange(4.0).view(4, 1, 1, 1, 1).expand(4, 2, 3, 6, 8).clone()  # sample i is all i
    return imgs, torch.tensor([[0], [1], [2], [1]])


def test_mixup_mixes_images_and_labels_with_the_same_lambda():
    blend = BLENDINGS.build(dict(type='MixupBlending', num_classes=3, alpha=0.4))
    assert isinstance(blend, MixupBlending)
    imgs, label = batch()
    torch.manual_seed(7)
    mixed, soft = blend(imgs, label)
    torch.manual_seed(7)  # replay the draws: lambda first, then the permutation (MMAction2's order)
    lam = float(Beta(0.4, 0.4).sample())
    perm = torch.randperm(4)
    torch.testing.assert_close(mixed, lam * imgs + (1 - lam) * imgs[perm])
    onehot = F.one_hot(label.view(-1), 3).float()
    torch.testing.assert_close(soft, lam * onehot + (1 - lam) * onehot[perm])
    torch.testing.assert_close(soft.sum(1), torch.ones(4))
    # each mixed image is lam * i + (1 - lam) * perm[i]: its label weights say the same
    values = torch.arange(4.0)
    torch.testing.assert_close(mixed[:, 0, 0, 0, 0], lam * values + (1 - lam) * values[perm])


def test_cutmix_pastes_one_box_and_weights_labels_by_its_area():
    blend = CutmixBlending(num_classes=3, alpha=1.0)
    imgs, label = batch()
    original = imgs.clone()
    torch.manual_seed(3)
    mixed, soft = blend(imgs, label)
    torch.testing.assert_close(imgs, original)  # the input batch is left alone
    torch.manual_seed(3)  # permutation, lambda, then the box centre
    perm = torch.randperm(4)
    lam = float(Beta(1.0, 1.0).sample())
    x1, y1, x2, y2 = blend.rand_bbox(imgs.shape, lam)
    inside = torch.zeros(6, 8, dtype=torch.bool)
    inside[y1:y2, x1:x2] = True
    for i in range(4):
        want = torch.where(inside, float(perm[i]), float(i))
        torch.testing.assert_close(mixed[i], want.expand(2, 3, 6, 8))  # same box in every frame
    kept = 1 - inside.float().mean().item()
    onehot = F.one_hot(label.view(-1), 3).float()
    torch.testing.assert_close(soft, kept * onehot + (1 - kept) * onehot[perm])


def test_rand_bbox_is_clipped_to_the_image():
    torch.manual_seed(0)
    for lam in (0.0, 0.3, 0.9, 1.0):
        for _ in range(20):
            x1, y1, x2, y2 = CutmixBlending.rand_bbox((1, 3, 6, 8), lam)
            assert 0 <= x1 <= x2 <= 8 and 0 <= y1 <= y2 <= 6
            assert x2 - x1 <= int(8 * (1 - lam) ** 0.5) and y2 - y1 <= int(6 * (1 - lam) ** 0.5)


def test_soft_labels_pass_through_and_bad_labels_are_named():
    blend = MixupBlending(num_classes=3)
    imgs, _ = batch()
    soft = torch.tensor([[0.5, 0.5, 0.0]] * 4)
    torch.manual_seed(0)
    _, mixed = blend(imgs, soft)
    torch.testing.assert_close(mixed, soft)  # every row is the same, so mixing keeps it
    with pytest.raises(ValueError, match=r'\(N, 3\) soft labels'):
        blend(imgs, torch.tensor([0, 1]))
    with pytest.raises(TypeError, match='unexpected arguments'):
        blend(imgs, torch.tensor([0, 1, 2, 0]), mask=None)
