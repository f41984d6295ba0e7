"""Mini-batch blending (mixup, cutmix) applied by recognizers during training.

Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018
(https://arxiv.org/abs/1710.09412); Yun et al., "CutMix: Regularization Strategy to
Train Strong Classifiers with Localizable Features", ICCV 2019
(https://arxiv.org/abs/1905.04899).

A recognizer with ``train_cfg=dict(blending=dict(type='MixupBlending',
num_classes=400, alpha=0.2))`` mixes every training batch with a shuffled copy
of itself and trains on the correspondingly mixed soft labels. The random
numbers come from torch's global generator (on the CPU, in MMAction2's order),
so ``torch.manual_seed`` makes the mixing reproducible on any device.
"""
from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod

import torch
import torch.nn.functional as F
from torch.distributions import Beta

from actionlab.registry import Registry

BLENDINGS = Registry('blending')


class BaseMiniBatchBlending(metaclass=ABCMeta):
    """Turns labels into one-hot vectors and blends ``(imgs, label)``.

    Args:
        num_classes: length of the one-hot label vectors.
    """

    def __init__(self, num_classes: int):
        self.num_classes = num_classes

    @abstractmethod
    def do_blending(self, imgs: torch.Tensor, label: torch.Tensor,
                    **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        """Blend a batch; ``label`` is (N, num_classes)."""

    def __call__(self, imgs: torch.Tensor, label: torch.Tensor,
                 **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        """``imgs`` (N, ...) and class indices (N,) or (N, 1) -- or soft labels
        (N, num_classes) -- -> blended ``imgs`` and soft labels (N, num_classes)."""
        if label.is_floating_point() and label.dim() == 2 and label.shape[1] == self.num_classes:
            soft = label
        else:
            if label.is_floating_point() or label.numel() != imgs.shape[0]:
                raise ValueError(f'{type(self).__name__} needs one class index per sample or '
                                 f'(N, {self.num_classes}) soft labels, got labels of shape '
                                 f'{tuple(label.shape)} for {imgs.shape[0]} samples')
            soft = F.one_hot(label.reshape(-1).long(), num_classes=self.num_classes).float()
        return self.do_blending(imgs, soft, **kwargs)


def _check_no_kwargs(owner: str, kwargs: dict) -> None:
    if kwargs:
        raise TypeError(f'{owner}.do_blending got unexpected arguments {sorted(kwargs)}')


@BLENDINGS.register_module()
class MixupBlending(BaseMiniBatchBlending):
    """Mixup: ``lam * x + (1 - lam) * x[perm]`` for images and labels, lam ~ Beta(alpha, alpha).

    Args:
        num_classes: number of classes.
        alpha: parameter of the Beta distribution.
    """

    def __init__(self, num_classes: int, alpha: float = 0.2):
        super().__init__(num_classes)
        self.alpha = alpha
        self.beta = Beta(alpha, alpha)

    def do_blending(self, imgs: torch.Tensor, label: torch.Tensor,
                    **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        _check_no_kwargs(type(self).__name__, kwargs)
        lam = float(self.beta.sample())
        perm = torch.randperm(imgs.shape[0]).to(imgs.device)
        mixed_imgs = lam * imgs + (1 - lam) * imgs[perm]
        mixed_label = lam * label + (1 - lam) * label[perm.to(label.device)]
        return mixed_imgs, mixed_label


@BLENDINGS.register_module()
class CutmixBlending(BaseMiniBatchBlending):
    """CutMix: a random box of every image (the same box in every frame) is replaced by
    that of a shuffled sample; labels mix in proportion to the areas.

    Args:
        num_classes: number of classes.
        alpha: parameter of the Beta distribution of the kept area fraction.
    """

    def __init__(self, num_classes: int, alpha: float = 0.2):
        super().__init__(num_classes)
        self.alpha = alpha
        self.beta = Beta(alpha, alpha)

    @staticmethod
    def rand_bbox(img_size: torch.Size | tuple[int, ...], lam: float) -> tuple[int, int, int, int]:
        """A box ``(x1, y1, x2, y2)`` of about ``1 - lam`` of the last two dims' area,
        centred uniformly at random and clipped to the image."""
        w, h = img_size[-1], img_size[-2]
        cut_rat = math.sqrt(1.0 - lam)
        cut_w, cut_h = int(w * cut_rat), int(h * cut_rat)
        cx = int(torch.randint(w, (1,))[0])
        cy = int(torch.randint(h, (1,))[0])
        x1, x2 = min(max(cx - cut_w // 2, 0), w), min(max(cx + cut_w // 2, 0), w)
        y1, y2 = min(max(cy - cut_h // 2, 0), h), min(max(cy + cut_h // 2, 0), h)
        return x1, y1, x2, y2

    def do_blending(self, imgs: torch.Tensor, label: torch.Tensor,
                    **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
        _check_no_kwargs(type(self).__name__, kwargs)
        perm = torch.randperm(imgs.shape[0])
        lam = float(self.beta.sample())
        x1, y1, x2, y2 = self.rand_bbox(imgs.shape, lam)
        mixed_imgs = imgs.clone()
        mixed_imgs[..., y1:y2, x1:x2] = imgs[perm.to(imgs.device), ..., y1:y2, x1:x2]
        # the box was clipped: mix labels by the area actually pasted
        lam = 1 - (x2 - x1) * (y2 - y1) / (imgs.shape[-1] * imgs.shape[-2])
        mixed_label = lam * label + (1 - lam) * label[perm.to(label.device)]
        return mixed_imgs, mixed_label
