"""Cross-entropy losses for single-label (hard or soft targets) and multi-label classification."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..builder import MODELS
from .base import BaseWeightedLoss


class _ClassWeighted(BaseWeightedLoss):
    """Holds an optional per-class weight as a buffer that follows the module's
    device but is not saved, so checkpoints keep MMAction2's keys."""

    class_weight: torch.Tensor | None

    def __init__(self, loss_weight: float = 1.0, class_weight: Sequence[float] | None = None):
        super().__init__(loss_weight=loss_weight)
        weight = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
        self.register_buffer('class_weight', weight, persistent=False)

    def _weight_for(self, cls_score: torch.Tensor) -> torch.Tensor | None:
        if self.class_weight is None:
            return None
        return self.class_weight.to(device=cls_score.device, dtype=cls_score.dtype)


@MODELS.register_module()
class CrossEntropyLoss(_ClassWeighted):
    """Softmax cross-entropy.

    * hard labels, class indices of shape (N,): ``F.cross_entropy`` (with
      ``class_weight``, a weighted mean over the batch as PyTorch defines it);
    * soft labels, a distribution of the same shape (N, C) as the scores:
      ``-sum(label * log_softmax(score))`` per sample, then the mean over the batch
      (with ``class_weight``: log-probabilities weighted per class and the sum
      divided by ``sum(class_weight * label)``, matching the hard-label definition).

    Args:
        loss_weight: factor applied to the loss.
        class_weight: one weight per class, or None.
    """

    def _forward(self, cls_score: torch.Tensor, label: torch.Tensor, **kwargs) -> torch.Tensor:
        weight = self._weight_for(cls_score)
        if cls_score.shape == label.shape:
            if cls_score.dim() != 2:
                raise ValueError(f'CrossEntropyLoss soft labels must be (N, num_classes), got '
                                 f'{tuple(label.shape)}')
            if kwargs:
                raise TypeError(f'CrossEntropyLoss takes no extra arguments with soft labels, '
                                f'got {sorted(kwargs)}')
            log_prob = F.log_softmax(cls_score, dim=1)
            if weight is None:
                return -(label * log_prob).sum(1).mean()
            return -(label * log_prob * weight).sum() / (weight * label).sum()
        if weight is not None:
            if 'weight' in kwargs:
                raise TypeError("CrossEntropyLoss got 'weight' while class_weight is set")
            kwargs['weight'] = weight
        return F.cross_entropy(cls_score, label, **kwargs)


@MODELS.register_module()
class BCELossWithLogits(_ClassWeighted):
    """Sigmoid binary cross-entropy for multi-label targets of shape (N, C).

    Args:
        loss_weight: factor applied to the loss.
        class_weight: one weight per class (rescales each class's term), or None.
    """

    def _forward(self, cls_score: torch.Tensor, label: torch.Tensor, **kwargs) -> torch.Tensor:
        weight = self._weight_for(cls_score)
        if weight is not None:
            if 'weight' in kwargs:
                raise TypeError("BCELossWithLogits got 'weight' while class_weight is set")
            kwargs['weight'] = weight
        return F.binary_cross_entropy_with_logits(cls_score, label.to(cls_score.dtype), **kwargs)
